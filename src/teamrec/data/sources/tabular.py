"""Generic event tables: CSV (or any delimited text), JSON Lines and Parquet.

Each row is one event. ``columns`` maps event fields to the table's column names, e.g.::

    read_csv(path, columns={"user": "personId", "item": "contentId", "value": "rating",
                            "timestamp": "ts", "kind": "eventType", "team": "teamId"})

Only ``user`` and ``item`` are required. A field left out of ``columns`` is taken from a
column of the same name when the table has one, else from its default: value 1.0, kind
``kind`` (default ``"event"``), team ``team`` (default ``"default"``), timestamp NaN.
``kind_values={"VIEW": 1, "LIKE": 2}`` turns each kind into its strength (the value); a kind
outside it is a bad row. Timestamps may be Unix seconds or ISO-8601 text.

Errors name the file, the line (1-based, header included; for JSON Lines the line of the
file; for Parquet, which has no lines, the 1-based row) and the column as the file spells it.
"""

from __future__ import annotations

import codecs
import json
import re
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from teamrec.data.dataset import Dataset
from teamrec.data.events import DEFAULT_TEAM, EVENT_COLUMNS
from teamrec.data.sources import _common
from teamrec.data.sources._common import (
    Delimited,
    EventColumns,
    Progress,
    concat_events,
    events_from_raw,
    file_label,
    make_dataset,
    read_delimited_events,
    read_header,
    reject_unknown_options,
    require_columns,
    require_nonempty,
)
from teamrec.errors import ConfigError, DataError

_REQUIRED = ("user", "item")


def _event_columns(
    columns: Mapping[str, str] | None,
    available: list[str],
    *,
    kind_values: Mapping[str, float] | None,
    team: str,
    kind: str,
) -> tuple[EventColumns, dict[str, str]]:
    """Resolve ``columns`` against the columns a table has.

    Returns the spec and the columns that must exist (required or named by the caller).
    """
    columns = dict(columns or {})
    unknown = set(columns) - set(EVENT_COLUMNS)
    if unknown:
        raise ConfigError(
            f"columns: unknown event field(s) {', '.join(sorted(unknown))}; "
            f"known: {', '.join(EVENT_COLUMNS)}"
        )
    if kind_values is not None and "value" in columns:
        raise ConfigError("give either a value column or kind_values, not both")
    must = {f: columns.get(f, f) for f in _REQUIRED}
    must.update(columns)
    if kind_values is not None:
        must.setdefault("kind", "kind")
    sources: dict[str, str | None] = {}
    for name in EVENT_COLUMNS:
        if name in must:
            sources[name] = must[name]
        elif name == "value" and kind_values is not None:
            sources[name] = None
        else:
            sources[name] = name if name in available else None
    spec = EventColumns(
        sources=sources,
        constants={"team": team, "kind": kind},
        kind_values=dict(kind_values) if kind_values is not None else None,
    )
    return spec, must


def _check_kind_values(kind_values: Mapping[str, Any] | None) -> dict[str, float] | None:
    if kind_values is None:
        return None
    try:
        out = {str(k): float(v) for k, v in dict(kind_values).items()}
    except (TypeError, ValueError):
        raise ConfigError("kind_values must map each kind to a number") from None
    if not out:
        raise ConfigError("kind_values is empty")
    return out


#: Separators :func:`sniff_separator` considers, the first winning a tie.
SEPARATORS = (",", "\t", ";", "|")


def sniff_separator(path: Path, encoding: str = "utf-8") -> str:
    """The separator of a delimited file's header line: the most frequent of
    :data:`SEPARATORS` in it (a comma for a one-column header or an unreadable file, which
    the reader then reports)."""
    try:
        with open(path, encoding=encoding, errors="replace", newline="") as fh:
            header = fh.readline(1 << 16)
    except OSError:
        return ","
    counts = [header.count(s) for s in SEPARATORS]
    return SEPARATORS[counts.index(max(counts))] if max(counts) else ","


def read_csv(
    path: Path,
    *,
    skip_bad_rows: bool = False,
    progress: Progress | None = None,
    columns: Mapping[str, str] | None = None,
    sep: str | None = None,
    encoding: str = "utf-8",
    kind_values: Mapping[str, float] | None = None,
    team: str = DEFAULT_TEAM,
    kind: str = "event",
    drop_duplicates: bool = False,
    **options: Any,
) -> Dataset:
    """Read events from delimited text with a header row.

    ``sep`` defaults to what the header line is split by: a comma, tab, semicolon or bar,
    whichever it holds most of (a comma when none), so ``.tsv`` and ``.dat`` files read as
    they are. ``drop_duplicates=True`` drops exact repeats of a whole line (every column).
    """
    reject_unknown_options("csv", options)
    try:
        codecs.lookup(encoding)
    except LookupError:
        raise ConfigError(f"unknown encoding {encoding!r}") from None
    path = Path(path)
    if sep is None:
        sep = sniff_separator(path, encoding)
    if not isinstance(sep, str) or len(sep) != 1:
        raise ConfigError(f"sep must be one character, got {sep!r}")
    spec = Delimited(path, sep=sep, encoding=encoding)
    found = read_header(spec)
    columns_spec, _ = _event_columns(
        columns, found, kind_values=_check_kind_values(kind_values), team=team, kind=kind
    )
    events, skipped, duplicates = read_delimited_events(
        spec, columns_spec, skip_bad_rows=skip_bad_rows, progress=progress,
        raw_duplicates=drop_duplicates,
    )
    return make_dataset(events, format="csv", path=path, rows_skipped=skipped,
                        duplicates_dropped=duplicates)


# -- JSON Lines --------------------------------------------------------------------------------
def _jsonl_blocks(path: Path, progress: Progress | None) -> Iterator[tuple[list[str], int]]:
    """Yield ``(lines, first_line_number)`` blocks of about :data:`BLOCK_BYTES`."""
    total = require_nonempty(path)
    next_line = 1
    with open(path, "rb") as fh:
        while True:
            block = fh.read(_common.BLOCK_BYTES)
            if not block:
                break
            block += fh.readline()  # finish the line the block cut
            try:
                text = block.decode("utf-8")
            except UnicodeDecodeError as exc:
                line = next_line + block.count(b"\n", 0, exc.start)
                raise DataError(f"not UTF-8 text ({exc.reason})", file=file_label(path),
                                line=line) from None
            lines = text.split("\n")
            if lines[-1] == "":
                lines.pop()
            yield lines, next_line
            next_line += len(lines)
            if progress is not None:
                progress(fh.tell(), total)


_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")


def _lone_surrogate(text: str, record: Any) -> bool:
    """Whether a decoded line holds a string with an unpaired surrogate (``"\\ud800"``),
    which JSON allows but no text encoding can store. Only lines with such an escape are
    checked (a proper pair decodes to one character and encodes fine)."""
    if not _SURROGATE_ESCAPE.search(text):
        return False
    try:
        json.dumps(record, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _parse_jsonl(
    lines: list[str], first_line: int, *, file: str, skip_bad_rows: bool
) -> tuple[list[dict[str, Any]], np.ndarray, int]:
    """Decode the non-blank lines: ``(records, their line numbers, lines skipped)``.

    One ``json.loads`` per line is what the format forces; the frame is built in one go.
    """
    numbers = np.array([i for i, line in enumerate(lines) if line.strip()], dtype=np.int64)
    texts = [lines[i] for i in numbers]
    numbers += first_line
    try:
        records = list(map(json.loads, texts))
        good = all(type(r) is dict for r in records) and not any(map(_lone_surrogate, texts, records))
    except (ValueError, RecursionError):
        good = False
    if good:
        return records, numbers, 0
    records, keep = [], np.ones(len(texts), dtype=bool)
    for i, text in enumerate(texts):
        try:
            record = json.loads(text)
            reason = None if type(record) is dict else "not a JSON object"
            if reason is None and _lone_surrogate(text, record):
                reason = "a string holds a lone surrogate escape (\\ud800-\\udfff): not Unicode text"
        except RecursionError:
            reason = "JSON nested too deeply"
        except ValueError as exc:
            reason = f"broken JSON: {getattr(exc, 'msg', exc)}"
        if reason is None:
            records.append(record)
        elif skip_bad_rows:
            keep[i] = False
        else:
            raise DataError(reason, file=file, line=int(numbers[i]))
    return records, numbers[keep], int((~keep).sum())


def _numbered(numbers: np.ndarray | int) -> Callable[[int], int]:
    """How a chunk's row maps to the line errors give: its entry of the array of line numbers,
    or (Parquet, which has no lines) the 1-based row counted from ``numbers``."""
    if isinstance(numbers, np.ndarray):
        return lambda row: int(numbers[row])
    return lambda row: numbers + row


def read_jsonl(
    path: Path,
    *,
    skip_bad_rows: bool = False,
    progress: Progress | None = None,
    columns: Mapping[str, str] | None = None,
    kind_values: Mapping[str, float] | None = None,
    team: str = DEFAULT_TEAM,
    kind: str = "event",
    **options: Any,
) -> Dataset:
    """Read events from JSON Lines: one JSON object per line (blank lines ignored).

    A key missing from a record counts like a null. Line numbers in errors are the file's.
    """
    reject_unknown_options("jsonl", options)
    path = Path(path)
    file = file_label(path)
    values = _check_kind_values(kind_values)
    parts: list[pd.DataFrame] = []
    skipped = rows = 0
    for lines, first_line in _jsonl_blocks(path, progress):
        records, numbers, bad_lines = _parse_jsonl(
            lines, first_line, file=file, skip_bad_rows=skip_bad_rows
        )
        skipped += bad_lines
        rows += len(records) + bad_lines
        if not records:
            continue
        raw = pd.DataFrame(records)
        spec, must = _event_columns(columns, list(raw.columns), kind_values=values,
                                    team=team, kind=kind)
        for source in must.values():
            if source not in raw.columns:
                raw[source] = None
        spec = EventColumns(spec.sources, spec.constants, spec.kind_values,
                            missing_reason="missing or null")
        events, _, bad = events_from_raw(
            raw, spec, file=file, line_of=_numbered(numbers),
            skip_bad_rows=skip_bad_rows,
        )
        skipped += bad
        parts.append(events)
    if rows == 0:
        raise DataError("empty file", file=file)
    return make_dataset(concat_events(parts), format="jsonl", path=path, rows_skipped=skipped)


# -- Parquet -----------------------------------------------------------------------------------
#: Units of an Arrow timestamp, per second.
_PER_SECOND = {"s": 1.0, "ms": 1e3, "us": 1e6, "ns": 1e9}


def check_parquet_types(schema: pa.Schema, id_columns: set[str], *, file: str) -> None:
    """Refuse, by column, types that cannot hold what the column is for: a list, struct or map
    where an id is expected (it would become text such as ``"[1 2]"``)."""
    for name in id_columns:
        kind = schema.field(name).type
        if pa.types.is_nested(kind) or pa.types.is_dictionary(kind) and pa.types.is_nested(kind.value_type):
            raise DataError(f"a column of {kind}, not of ids (text or whole numbers)", file=file, field=name)


def _arrow_to_pandas(batch: pa.RecordBatch, id_columns: set[str], *, file: str, first_row: int) -> pd.DataFrame:
    """A batch as pandas: integer id columns cast to text in Arrow (no float detour), binary
    ids decoded as UTF-8 (bytes that are not text are an error naming the row), timestamps as
    float seconds (so a year 30000 is reported as out of range, not a pandas overflow)."""
    arrays = {}
    for name, column in zip(batch.schema.names, batch.columns, strict=True):
        if name in id_columns and pa.types.is_integer(column.type):
            column = pc.cast(column, pa.string())
        elif name in id_columns and (pa.types.is_binary(column.type) or pa.types.is_large_binary(column.type)):
            try:
                column = pc.cast(column, pa.string())
            except pa.ArrowInvalid:
                bad = _first_non_utf8(column)
                raise DataError("bytes that are not UTF-8 text", file=file, line=first_row + bad + 1,
                                field=name) from None
        elif pa.types.is_timestamp(column.type):
            raw = pc.cast(column, pa.int64())
            column = pc.divide(pc.cast(raw, pa.float64(), safe=False), _PER_SECOND[column.type.unit])
        arrays[name] = column
    return pa.RecordBatch.from_pydict(arrays).to_pandas()


def _first_non_utf8(column: pa.Array) -> int:
    """The index of the first value of a binary column that is not UTF-8 text (rare path)."""
    for i, value in enumerate(column.to_pylist()):
        if value is not None:
            try:
                value.decode("utf-8")
            except UnicodeDecodeError:
                return i
    return 0


def read_parquet(
    path: Path,
    *,
    skip_bad_rows: bool = False,
    progress: Progress | None = None,
    columns: Mapping[str, str] | None = None,
    kind_values: Mapping[str, float] | None = None,
    team: str = DEFAULT_TEAM,
    kind: str = "event",
    **options: Any,
) -> Dataset:
    """Read events from a Parquet file, a batch of rows at a time.

    Parquet has no lines: errors give the 1-based row as ``line``.
    """
    reject_unknown_options("parquet", options)
    path = Path(path)
    file = file_label(path)
    total = require_nonempty(path)
    try:
        parquet = pq.ParquetFile(path)
    except (pa.ArrowException, OSError) as exc:
        raise DataError(f"not a readable Parquet file ({exc})", file=file) from None
    found = list(parquet.schema_arrow.names)
    spec, must = _event_columns(columns, found, kind_values=_check_kind_values(kind_values),
                                team=team, kind=kind)
    require_columns(spec.required(), found, file=file, line=None)
    wanted = sorted({s for s in spec.sources.values() if s is not None}, key=found.index)
    id_columns = {s for f in ("team", "user", "item", "kind") if (s := spec.sources[f]) is not None}
    check_parquet_types(parquet.schema_arrow, id_columns, file=file)
    n_rows = max(parquet.metadata.num_rows, 1)
    parts: list[pd.DataFrame] = []
    skipped = first_row = 0
    try:
        for batch in parquet.iter_batches(batch_size=_common.CHUNK_ROWS, columns=wanted):
            raw = _arrow_to_pandas(batch, id_columns, file=file, first_row=first_row)
            events, _, bad = events_from_raw(
                raw, spec, file=file, line_of=_numbered(first_row + 1),
                skip_bad_rows=skip_bad_rows,
            )
            skipped += bad
            parts.append(events)
            first_row += len(raw)
            if progress is not None:
                progress(int(total * first_row / n_rows), total)
    except (pa.ArrowException, OSError) as exc:
        raise DataError(f"unreadable Parquet data ({exc})", file=file) from None
    if first_row == 0:
        raise DataError("empty file: no rows", file=file)
    if progress is not None:
        progress(total, total)
    return make_dataset(concat_events(parts), format="parquet", path=path, rows_skipped=skipped)
