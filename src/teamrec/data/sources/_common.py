"""Helpers every reader shares: row checks, value parsing, chunked delimited reading.

A reader's job is always the same: read raw columns, decide per row and per field whether
the value is usable, then either stop at the first bad row with a :class:`DataError` that
names *file, line and field*, or (``skip_bad_rows=True``) drop the bad rows and count them.
Doing that with boolean masks over whole columns keeps every reader vectorised: one
:class:`Check` per field, then :func:`apply_checks` once per chunk.

Line numbers are 1-based lines of the file, the header included. For delimited text they are
worked out only when an error is reported (:class:`LineMap`), so quoted fields that span
lines and blank lines, which the parser skips, still give the line a text editor shows.
"""

from __future__ import annotations

import csv
import io
import re
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from teamrec.data.events import DEFAULT_TEAM, EVENT_COLUMNS
from teamrec.errors import ConfigError, DataError

#: ``progress(done_bytes, total_bytes)``, as in :mod:`teamrec.data.sources`.
Progress = Callable[[int, int], None]

#: Rows per chunk when reading delimited text or Parquet (bounded memory on big inputs).
CHUNK_ROWS = 500_000
#: Bytes per block when reading JSON Lines.
BLOCK_BYTES = 32 * 1024 * 1024

#: Event fields a reader can take from a column, and the value used when it has none.
EVENT_DEFAULTS: dict[str, Any] = {
    "team": DEFAULT_TEAM,
    "kind": "event",
    "value": 1.0,
    "timestamp": np.nan,
}

_EPOCH = pd.Timestamp(0, tz="UTC")


# -- options -----------------------------------------------------------------------------------
def reject_unknown_options(reader: str, options: Mapping[str, Any]) -> None:
    """Raise :class:`ConfigError` when a reader is given options it does not know.

    Readers take ``**options`` (so :func:`read_source` can pass them through) and call this, so
    a typo such as ``colums=`` fails loudly instead of being ignored.
    """
    if options:
        raise ConfigError(f"{reader}: unknown option(s) {', '.join(sorted(options))}")


def file_label(path: Path) -> str:
    """How error messages name a file."""
    return str(path)


def require_nonempty(path: Path) -> int:
    """Return the size of ``path`` in bytes; a 0-byte file is ``DataError("empty file")``."""
    size = path.stat().st_size
    if size == 0:
        raise DataError("empty file", file=file_label(path))
    return size


# -- row checks --------------------------------------------------------------------------------
@dataclass(frozen=True)
class Check:
    """Rows where one field is unusable.

    ``reason`` may contain ``{value!r}``, filled with ``values[row]`` for the reported row.
    """

    field: str
    bad: np.ndarray
    reason: str
    values: Any = None

    def describe(self, row: int) -> str:
        if self.values is None or "{value" not in self.reason:
            return self.reason
        value = self.values[row]
        return self.reason.format(value=value.item() if isinstance(value, np.generic) else value)


def apply_checks(
    checks: Sequence[Check],
    n_rows: int,
    *,
    file: str,
    line_of: Callable[[int], int | None],
    skip_bad_rows: bool,
) -> tuple[np.ndarray | None, int]:
    """Stop at the first bad row, or find the rows to keep.

    Returns ``(keep, skipped)``: ``keep`` is a boolean mask over the rows, or ``None`` when
    every row is good (so callers can skip a copy). With ``skip_bad_rows=False`` the first bad
    row raises :class:`DataError` naming ``file``, ``line_of(row)`` and the first field (in
    the order of ``checks``) that is bad on that row.
    """
    bad = np.zeros(n_rows, dtype=bool)
    for check in checks:
        bad |= check.bad
    if not bad.any():
        return None, 0
    if skip_bad_rows:
        return ~bad, int(bad.sum())
    row = int(np.flatnonzero(bad)[0])
    check = next(c for c in checks if c.bad[row])
    raise DataError(check.describe(row), file=file, line=line_of(row), field=check.field)


# -- column parsing ----------------------------------------------------------------------------
def id_strings(column: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Ids as strings, plus the mask of missing ones (null or empty).

    Whole-number floats (an integer column with gaps, read from Parquet or JSON) are written
    without the ``.0`` so ``17`` and ``17.0`` name the same id.
    """
    missing = column.isna().to_numpy()
    if column.dtype.kind == "f":
        values = column.to_numpy()
        finite = np.isfinite(values)
        if (values[finite] == np.floor(values[finite])).all():
            text = np.where(finite, np.nan_to_num(values).astype(np.int64).astype(str), "")
        else:
            text = values.astype(str)
    elif column.dtype.kind in "iub":
        text = column.to_numpy().astype(str)
    else:
        text = column.astype(object).to_numpy()
        text = np.where(missing, "", text).astype(str)
    missing |= text == ""
    return text.astype(object), missing


def parse_numbers(column: pd.Series) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Floats from a column of numbers or numeric text.

    Returns ``(values, missing, bad)``: ``missing`` where the cell is empty, ``bad`` where it
    holds something that is not a finite number.
    """
    missing = column.isna().to_numpy()
    if column.dtype.kind in "iuf":
        values = column.to_numpy(dtype=np.float64, na_value=np.nan)
    else:
        values = pd.to_numeric(column.astype(object), errors="coerce").to_numpy(
            dtype=np.float64, na_value=np.nan
        )
    bad = ~missing & ~np.isfinite(values)
    return values, missing, bad


def parse_timestamps(column: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Unix seconds (float64, NaN when empty) from numbers, numeric text or ISO-8601 text.

    Returns ``(seconds, bad)``. ISO-8601 text without a zone is taken as UTC; datetime
    columns (Parquet) are converted the same way. Empty cells are allowed (time unknown).
    """
    if pd.api.types.is_datetime64_any_dtype(column.dtype):
        stamps = column if column.dt.tz is not None else column.dt.tz_localize("UTC")
        seconds = (stamps - _EPOCH).dt.total_seconds().to_numpy(dtype=np.float64, na_value=np.nan)
        return seconds, np.zeros(len(column), dtype=bool)
    seconds, missing, bad = parse_numbers(column)
    text_rows = np.flatnonzero(bad)
    if len(text_rows):
        text = column.iloc[text_rows].astype(object)
        is_text = text.map(type).to_numpy() == str
        stamps = pd.to_datetime(
            text.where(is_text, None), errors="coerce", utc=True, format="ISO8601"
        )
        parsed = (stamps - _EPOCH).dt.total_seconds().to_numpy(dtype=np.float64, na_value=np.nan)
        ok = np.isfinite(parsed)
        seconds[text_rows[ok]] = parsed[ok]
        bad[text_rows[ok]] = False
    return seconds, bad


# -- from raw columns to events ----------------------------------------------------------------
@dataclass(frozen=True)
class EventColumns:
    """Which raw column feeds each event field (``None``: use the constant default).

    ``constants`` overrides :data:`EVENT_DEFAULTS`; ``kind_values`` maps each known kind to
    its strength, which then becomes the value (unknown kinds are bad rows).
    """

    sources: Mapping[str, str | None]
    constants: Mapping[str, Any] = field(default_factory=dict)
    kind_values: Mapping[str, float] | None = None
    missing_reason: str = "empty value"


def events_from_raw(
    raw: pd.DataFrame,
    spec: EventColumns,
    *,
    file: str,
    line_of: Callable[[int], int | None],
    skip_bad_rows: bool,
) -> tuple[pd.DataFrame, np.ndarray | None, int]:
    """Turn a frame of raw rows into events, checking every field at once.

    Returns ``(events, keep, skipped)`` where ``keep`` is the mask of the raw rows kept
    (``None``: all of them). Checks run in the order of the raw columns, so the field named
    for a row with several problems is its leftmost bad one.
    """
    n = len(raw)
    checks: list[tuple[int, Check]] = []
    out: dict[str, Any] = {}
    order = {name: i for i, name in enumerate(raw.columns)}

    def add(src: str, check: Check) -> None:
        checks.append((order.get(src, len(order)), check))

    for name in ("team", "user", "item", "kind"):
        src = spec.sources.get(name)
        if src is None:
            out[name] = spec.constants.get(name, EVENT_DEFAULTS.get(name))
            continue
        text, missing = id_strings(raw[src])
        add(src, Check(src, missing, spec.missing_reason))
        out[name] = text
    if spec.kind_values is not None:
        src = spec.sources.get("kind")
        if src is None:
            raise ConfigError("kind_values needs a kind column")
        kinds = pd.Series(out["kind"], dtype=object)
        strength = kinds.map(dict(spec.kind_values)).to_numpy(dtype=np.float64, na_value=np.nan)
        known = ", ".join(map(str, spec.kind_values))
        add(
            src,
            Check(src, np.isnan(strength) & (kinds != "").to_numpy(),
                  f"unknown event type {{value!r}} (known: {known})", out["kind"]),
        )
        out["value"] = strength
    for name in ("value", "timestamp"):
        src = spec.sources.get(name)
        if src is None:
            out.setdefault(name, spec.constants.get(name, EVENT_DEFAULTS[name]))
            continue
        raw_values = raw[src].to_numpy()
        if name == "value":
            values, missing, bad = parse_numbers(raw[src])
            add(src, Check(src, missing, spec.missing_reason))
            add(src, Check(src, bad, "not a finite number: {value!r}", raw_values))
        else:
            values, bad = parse_timestamps(raw[src])
            add(src, Check(src, bad, "not a timestamp (Unix seconds or ISO 8601): {value!r}",
                           raw_values))
        out[name] = values
    ordered = [c for _, c in sorted(checks, key=lambda pair: pair[0])]
    keep, skipped = apply_checks(ordered, n, file=file, line_of=line_of, skip_bad_rows=skip_bad_rows)
    events = pd.DataFrame({name: _column(out[name], n) for name in EVENT_COLUMNS})
    if keep is not None:
        events = events.loc[keep].reset_index(drop=True)
    return events, keep, skipped


def _column(value: Any, n: int) -> np.ndarray:
    if isinstance(value, np.ndarray):
        return value
    dtype = np.float64 if isinstance(value, float) else object
    return np.full(n, value, dtype=dtype)


def concat_events(parts: Sequence[pd.DataFrame]) -> pd.DataFrame:
    """One events frame from per-chunk frames (keeps the schema when there are none)."""
    if not parts:
        return pd.DataFrame({c: np.array([], dtype=np.float64 if c in ("value", "timestamp")
                                         else object) for c in EVENT_COLUMNS})
    return parts[0] if len(parts) == 1 else pd.concat(parts, ignore_index=True)


# -- delimited text ----------------------------------------------------------------------------
@dataclass(frozen=True)
class Delimited:
    """How a delimited text file is laid out."""

    path: Path
    sep: str = ","
    header: bool = True
    names: Sequence[str] | None = None
    encoding: str = "utf-8"
    quoting: int = csv.QUOTE_MINIMAL

    @property
    def label(self) -> str:
        return file_label(self.path)


class LineMap:
    """Maps a data row (0-based, as the parser counts them) to its 1-based line in the file.

    The mapping is built lazily, and only up to the row asked for, with the :mod:`csv`
    module, which sees quoted line breaks and blank lines the way the pandas parser does. It
    is used only to report an error, so the fast path never pays for it.
    """

    def __init__(self, spec: Delimited) -> None:
        self.spec = spec
        self._starts: list[int] = []
        self._reader: Iterator[list[str]] | None = None
        self._failed = False

    def __call__(self, row: int) -> int:
        header = 1 if self.spec.header else 0
        if not self._failed and len(self._starts) <= row:
            try:
                self._scan_to(row)
            except (csv.Error, UnicodeDecodeError, OSError):
                self._failed = True
        if row < len(self._starts):
            return self._starts[row]
        return row + 1 + header  # one record per line, when the file cannot be scanned

    def _scan_to(self, row: int) -> None:
        if self._reader is None:
            fh = open(self.spec.path, encoding=self.spec.encoding, newline="")  # noqa: SIM115
            self._reader = _numbered_records(fh, self.spec)
            if self.spec.header:
                next(self._reader, None)
        for start in self._reader:
            self._starts.append(start)
            if len(self._starts) > row:
                return


def _numbered_records(fh: io.TextIOBase, spec: Delimited) -> Iterator[int]:
    """Yield the first line of each non-blank record."""
    with fh:
        reader = csv.reader(fh, delimiter=spec.sep, quoting=spec.quoting, strict=False)
        previous = 0
        for record in reader:
            start = previous + 1
            previous = reader.line_num
            if record and record != [""] * len(record) or len(record) > 1:
                yield start


def read_header(spec: Delimited) -> list[str]:
    """The column names of a delimited file (its first line, parsed like the data)."""
    if not spec.header:
        return list(spec.names or [])
    try:
        head = pd.read_csv(spec.path, sep=spec.sep, nrows=0, dtype=str, encoding=spec.encoding,
                           quoting=spec.quoting, engine="c")
    except pd.errors.EmptyDataError:
        raise DataError("empty file", file=spec.label) from None
    except UnicodeDecodeError as exc:
        raise DataError(f"not {spec.encoding} text ({exc.reason})", file=spec.label, line=1) from None
    except pd.errors.ParserError as exc:
        raise _parser_error(exc, spec) from None
    return [str(c) for c in head.columns]


def require_columns(
    wanted: Mapping[str, str], found: Sequence[str], *, file: str, line: int | None = 1
) -> None:
    """``DataError`` naming the first wanted column the file lacks (field = its name)."""
    for source in wanted.values():
        if source not in found:
            shown = ", ".join(map(str, found[:12])) + (", ..." if len(found) > 12 else "")
            raise DataError(f"missing column (found: {shown})", file=file, line=line, field=source)


_LINE_RE = re.compile(r"(?:in|Skipping) line (\d+)")


def _parser_error(exc: Exception, spec: Delimited) -> DataError:
    text = str(exc).replace("Error tokenizing data. C error: ", "").strip()
    match = _LINE_RE.search(text)
    line = int(match.group(1)) if match else None
    reason = _LINE_RE.sub("", text).replace("  ", " ").strip(" :") if match else text
    return DataError(reason or "unparseable text", file=spec.label, line=line)


def read_delimited(
    spec: Delimited,
    *,
    usecols: Sequence[str] | None = None,
    skip_bad_rows: bool = False,
    progress: Progress | None = None,
) -> Iterator[tuple[pd.DataFrame, int, int]]:
    """Read a delimited file in chunks of raw text columns.

    Yields ``(chunk, first_row, skipped)``: every column as text (missing cells NaN; only an
    empty cell is missing, so ids such as ``NA`` survive), the 0-based index of the chunk's
    first data row, and the malformed lines (wrong field count) the parser dropped in that
    chunk when ``skip_bad_rows`` is on. Without it such a line is a :class:`DataError` naming
    its line. ``progress`` is called after each chunk with the bytes consumed so far.
    """
    total = require_nonempty(spec.path)
    first_row = 0
    with open(spec.path, "rb") as fh, warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", pd.errors.ParserWarning)
        try:
            chunks = pd.read_csv(
                fh,
                sep=spec.sep,
                header=0 if spec.header else None,
                names=list(spec.names) if spec.names is not None else None,
                usecols=list(usecols) if usecols is not None else None,
                dtype=str,
                keep_default_na=False,
                na_values=[""],
                quoting=spec.quoting,
                encoding=spec.encoding,
                engine="c",
                chunksize=CHUNK_ROWS,
                on_bad_lines="warn" if skip_bad_rows else "error",
            )
            seen = 0
            for chunk in chunks:
                dropped = _count_dropped(caught, seen)
                seen = len(caught)
                if progress is not None:
                    progress(min(fh.tell(), total), total)
                yield chunk, first_row, dropped
                first_row += len(chunk)
            dropped = _count_dropped(caught, seen)
            if dropped:
                yield pd.DataFrame(columns=chunks.orig_names or []), first_row, dropped
        except pd.errors.EmptyDataError:
            raise DataError("empty file", file=spec.label) from None
        except UnicodeDecodeError as exc:
            raise DataError(f"not {spec.encoding} text ({exc.reason})", file=spec.label) from None
        except pd.errors.ParserError as exc:
            raise _parser_error(exc, spec) from None
    if progress is not None:
        progress(total, total)


def _count_dropped(caught: list[warnings.WarningMessage], start: int) -> int:
    """Count the parser's "Skipping line N" notes since ``start``; re-raise other warnings."""
    dropped = 0
    for note in caught[start:]:
        if issubclass(note.category, pd.errors.ParserWarning):
            dropped += len(_LINE_RE.findall(str(note.message))) or 1
        else:
            warnings.warn_explicit(note.message, note.category, note.filename, note.lineno)
    return dropped
