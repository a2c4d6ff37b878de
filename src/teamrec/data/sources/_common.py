"""Helpers every reader shares: row checks, value parsing, chunked delimited reading.

A reader's job is always the same: read raw columns, decide per row and per field whether
the value is usable, then either stop at the first bad row with a :class:`DataError` that
names *file, line and field*, or (``skip_bad_rows=True``) drop the bad rows and count them.
Doing that with boolean masks over whole columns keeps every reader vectorised: one
:class:`Check` per field, then :func:`apply_checks` once per chunk.

Line numbers are 1-based lines of the file, the header included. For delimited text they are
worked out only when an error is reported (:class:`LineMap`), so quoted fields that span
lines and blank lines, which the parser skips, still give the line a text editor shows.
Lines with the wrong number of fields are found by the parser itself, a chunk at a time, so
such a line is reported before a bad value earlier in the same chunk.
"""

from __future__ import annotations

import csv
import io
import re
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from teamrec.data.dataset import Dataset
from teamrec.data.events import (
    DEFAULT_TEAM,
    EVENT_COLUMNS,
    MAX_EVENT_VALUE,
    SLASH_REASON,
    TIMESTAMP_RANGE,
    VALUE_RANGE,
    slashed,
    timestamps_out_of_range,
)
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


def file_in_folder(path: Path, name: str) -> Path:
    """``path`` itself, or the file ``name`` in it when ``path`` is a folder (a reader takes
    either); a folder without that file is a :class:`DataError` naming the folder."""
    path = Path(path)
    if path.is_dir():
        path = path / name
        if not path.exists():
            raise DataError(f"no {name} in this folder", file=str(path.parent))
    return path


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
def id_strings(column: pd.Series) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Ids as strings, plus the masks of missing ones (null or empty) and unusable ones.

    Whole-number floats (an integer column with gaps, read from Parquet or JSON) are written
    without the ``.0`` so ``17`` and ``17.0`` name the same id. A JSON list or object is not
    an id (``invalid``).
    """
    missing = column.isna().to_numpy()
    invalid = np.zeros(len(column), dtype=bool)
    if column.dtype.kind == "f":
        values = column.to_numpy(dtype=np.float64, na_value=np.nan)
        finite = np.isfinite(values)
        whole = finite & (values == np.floor(values)) & (np.abs(values) < 2.0**63)
        if whole[finite].all():
            text = np.where(finite, np.where(whole, values, 0).astype(np.int64).astype(str), "")
        else:
            text = values.astype(str)
    elif column.dtype.kind in "iub":
        text = column.to_numpy().astype(str)
    elif isinstance(column.dtype, pd.StringDtype):  # text read from a file: the fast path
        text = column.to_numpy(dtype=object, na_value="")
    else:
        values = pd.Series(column.to_numpy(dtype=object), dtype=object)
        if column.dtype == object:  # JSON: any Python value
            invalid = values.map(type).isin((list, dict)).to_numpy()
        text = values.where(~(missing | invalid), "").astype(str).to_numpy(dtype=object)
    return np.asarray(text, dtype=object), missing | (text == "") & ~invalid, invalid


def parse_numbers(column: pd.Series) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Floats from a column of numbers or numeric text.

    Returns ``(values, missing, bad)``: ``missing`` where the cell is empty, ``bad`` where it
    holds something that is not a finite number.
    """
    missing = column.isna().to_numpy()
    fast = _arrow_floats(column)
    if fast is not None:
        values = fast
    elif column.dtype.kind == "b" or isinstance(column.dtype, pd.BooleanDtype):
        # An all-true/false column (JSON, Parquet) is not a column of numbers: true is not 1.
        values = np.full(len(column), np.nan)
    elif column.dtype.kind in "iuf":
        values = column.to_numpy(dtype=np.float64, na_value=np.nan)
    else:
        as_object = column.astype(object)
        values = pd.to_numeric(as_object, errors="coerce").to_numpy(
            dtype=np.float64, na_value=np.nan, copy=True
        )
        if column.dtype == object:  # JSON true/false are not numbers here
            values[as_object.map(type).isin((bool,)).to_numpy()] = np.nan
    bad = ~missing & ~np.isfinite(values)
    return values, missing, bad


def _arrow_floats(column: pd.Series) -> np.ndarray | None:
    """Text to floats with Arrow's cast, ~30x faster than ``pd.to_numeric``.

    Returns ``None`` when some cell is not a plain number (the caller then finds which, the
    slow way) or the column is not text.
    """
    if not isinstance(column.dtype, pd.StringDtype):
        return None
    try:
        floats = pc.cast(pa.array(column), pa.float64())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError):
        return None
    return np.array(floats.to_numpy(zero_copy_only=False), dtype=np.float64)


def parse_timestamps(column: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Unix seconds (float64, NaN when empty) from numbers, numeric text or ISO-8601 text.

    Returns ``(seconds, bad)``. ISO-8601 text without a zone is taken as UTC; datetime
    columns (Parquet) are converted the same way. Empty cells are allowed (time unknown).
    """
    if pd.api.types.is_datetime64_any_dtype(column.dtype):
        stamps = column if column.dt.tz is not None else column.dt.tz_localize("UTC")
        seconds = (stamps - _EPOCH).dt.total_seconds().to_numpy(dtype=np.float64, na_value=np.nan)
        return seconds, np.zeros(len(column), dtype=bool)
    seconds, _, bad = parse_numbers(column)
    seconds, bad = seconds.copy(), bad.copy()  # pandas may hand out read-only views
    text_rows = np.flatnonzero(bad)
    if len(text_rows):
        text = column.iloc[text_rows].astype(object)
        is_text = text.map(type).isin((str,)).to_numpy()
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

    def required(self) -> dict[str, str]:
        """The columns read, user and item first (the order missing ones are reported in)."""
        order = ("user", "item", "kind", "value", "timestamp", "team")
        return {f: source for f in order if (source := self.sources.get(f)) is not None}


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
        text, missing, invalid = id_strings(raw[src])
        add(src, Check(src, missing, spec.missing_reason))
        add(src, Check(src, invalid, "not a text or a number: {value!r}", raw[src].to_numpy()))
        if name != "kind":
            add(src, Check(src, ~missing & ~invalid & slashed(text), SLASH_REASON, text))
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
            with np.errstate(invalid="ignore"):
                too_big = ~bad & (np.abs(values) > MAX_EVENT_VALUE)
            add(src, Check(src, too_big, f"{{value!r}}: {VALUE_RANGE}", raw_values))
        else:
            values, bad = parse_timestamps(raw[src])
            add(src, Check(src, bad, "not a timestamp (Unix seconds or ISO 8601): {value!r}",
                           raw_values))
            add(src, Check(src, ~bad & timestamps_out_of_range(values), f"{{value!r}}: {TIMESTAMP_RANGE}",
                           raw_values))
        out[name] = values
    ordered = [c for _, c in sorted(checks, key=lambda pair: pair[0])]
    keep, skipped = apply_checks(ordered, n, file=file, line_of=line_of,
                                 skip_bad_rows=skip_bad_rows)
    events = pd.DataFrame({name: _column(out[name], n) for name in EVENT_COLUMNS}, copy=False)
    if keep is not None:
        events = events.loc[keep].reset_index(drop=True)
    return events, keep, skipped


def _column(value: Any, n: int) -> pd.Series:
    """A column of the events frame; ids stay ``object`` (what :mod:`events` stores), which
    also spares pandas inferring a string dtype only to have it converted back."""
    if not isinstance(value, np.ndarray):
        value = np.full(n, value, dtype=np.float64 if isinstance(value, float) else object)
    return pd.Series(value, dtype=value.dtype if value.dtype.kind == "f" else object, copy=False)


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
    quoting: Literal[0, 1, 2, 3] = csv.QUOTE_MINIMAL

    @property
    def label(self) -> str:
        return file_label(self.path)


class LineMap:
    """Maps a data row (0-based, as the parser counts them) to its 1-based line in the file.

    The file is scanned, up to the row asked for, with the :mod:`csv` module, which sees
    quoted line breaks and blank lines the way the pandas parser does. It is used only to
    report an error, so the fast path never pays for it.
    """

    def __init__(self, spec: Delimited) -> None:
        self.spec = spec

    def __call__(self, row: int) -> int:
        header = 1 if self.spec.header else 0
        try:
            with open(self.spec.path, encoding=self.spec.encoding, newline="") as fh:
                starts = _record_starts(fh, self.spec)
                for _ in range(header):
                    next(starts, None)
                for i, start in enumerate(starts):
                    if i == row:
                        return start
        except (csv.Error, UnicodeDecodeError, OSError):
            pass
        return row + 1 + header  # one record per line, when the file cannot be scanned


def _record_starts(fh: io.TextIOBase, spec: Delimited) -> Iterator[int]:
    """Yield the first line of each non-blank record."""
    reader = csv.reader(fh, delimiter=spec.sep, quoting=spec.quoting, strict=False)
    previous = 0
    for record in reader:
        start = previous + 1
        previous = reader.line_num
        if record:  # the parser skips blank lines too
            yield start


def read_header(spec: Delimited) -> list[str]:
    """The column names of a delimited file (its first line, parsed like the data)."""
    if not spec.header:
        return list(spec.names or [])
    require_nonempty(spec.path)
    with warnings.catch_warnings(), _parser_errors(spec):
        # A long first row is reported when the rows are read, not here.
        warnings.simplefilter("ignore", pd.errors.ParserWarning)
        head = pd.read_csv(spec.path, sep=spec.sep, nrows=0, dtype=str, index_col=False,
                           encoding=spec.encoding, quoting=spec.quoting, engine="c")
    _refuse_repeated_names(spec)
    return [str(c) for c in head.columns]


def _refuse_repeated_names(spec: Delimited) -> None:
    """A header naming one column twice is an error: the parser would quietly rename the second
    (``user.1``) and the reader use the first, whichever held the data meant."""
    with open(spec.path, encoding=spec.encoding, errors="replace", newline="") as fh:
        first = fh.readline(1 << 20)
    names = next(csv.reader([first], delimiter=spec.sep, quoting=spec.quoting, strict=False), [])
    seen: set[str] = set()
    for name in (n.strip() for n in names):
        if name and name in seen:
            raise DataError("this column name appears twice in the header", file=spec.label, line=1,
                            field=name)
        seen.add(name)


def require_columns(
    wanted: Mapping[str, str], found: Sequence[str], *, file: str, line: int | None = 1
) -> None:
    """``DataError`` naming the first wanted column the file lacks (field = its name)."""
    for source in wanted.values():
        if source not in found:
            shown = ", ".join(map(str, found[:12])) + (", ..." if len(found) > 12 else "")
            raise DataError(f"missing column (found: {shown})", file=file, line=line, field=source)


_LINE_RE = re.compile(r"(?:in|Skipping) line (\d+)")
_EOF_IN_QUOTE_RE = re.compile(r"EOF inside string starting at row (\d+)")


def _parser_error(exc: Exception, spec: Delimited) -> DataError:
    """``Expected 4 fields in line 7, saw 5`` -> DataError(line 7, "expected 4 fields, saw 5")."""
    text = str(exc).replace("Error tokenizing data. C error: ", "").strip()
    quote = _EOF_IN_QUOTE_RE.search(text)
    if quote:  # the parser counts records from 0, the header included
        record = int(quote.group(1)) - (1 if spec.header else 0)
        return DataError("unterminated quote: a quoted field that starts on this line never closes",
                         file=spec.label, line=LineMap(spec)(record))
    match = _LINE_RE.search(text)
    line = int(match.group(1)) if match else None
    reason = re.sub(r"\s+", " ", _LINE_RE.sub("", text)).replace(" ,", ",").strip(" :")
    return DataError(reason[:1].lower() + reason[1:] or "unparseable text", file=spec.label,
                     line=line)


@contextmanager
def _parser_errors(spec: Delimited) -> Iterator[None]:
    """Turn the pandas parser's exceptions into :class:`DataError` naming the file."""
    try:
        yield
    except pd.errors.EmptyDataError:
        raise DataError("empty file", file=spec.label) from None
    except UnicodeDecodeError as exc:
        raise DataError(f"not {spec.encoding} text ({exc.reason})", file=spec.label) from None
    except pd.errors.ParserError as exc:
        raise _parser_error(exc, spec) from None


def read_delimited(
    spec: Delimited,
    *,
    skip_bad_rows: bool = False,
    progress: Progress | None = None,
) -> Iterator[tuple[pd.DataFrame, int, int]]:
    """Read a delimited file in chunks of raw text columns.

    Yields ``(chunk, first_row, dropped)``: every column as text (missing cells NaN; only an
    empty cell is missing, so ids such as ``NA`` survive), the 0-based index of the chunk's
    first data row, and how many malformed lines (too many fields) were dropped while reading
    the chunk, which happens only with ``skip_bad_rows``; without it such a line is a
    :class:`DataError` naming its line. ``progress`` is called after each chunk with the
    bytes consumed so far.
    """
    total = require_nonempty(spec.path)
    first_row = 0
    with open(spec.path, "rb") as fh:
        with _parser_errors(spec):
            reader = pd.read_csv(
                fh,
                sep=spec.sep,
                header=0 if spec.header else None,
                names=list(spec.names) if spec.names is not None else None,
                index_col=False,  # never take a long first row's extra field as an index
                dtype=str,
                keep_default_na=False,
                na_values=[""],
                quoting=spec.quoting,
                encoding=spec.encoding,
                engine="c",
                chunksize=CHUNK_ROWS,
                on_bad_lines="warn" if skip_bad_rows else "error",
            )
        with reader:
            while True:
                # The warnings filter is set only around the parser, never across a yield,
                # so the caller's own warnings are untouched.
                with warnings.catch_warnings(record=True) as caught, _parser_errors(spec):
                    warnings.simplefilter("always", pd.errors.ParserWarning)
                    chunk = next(reader, None)
                dropped, long_first_row = _read_notes(caught)
                if long_first_row and chunk is not None:
                    # The parser cut the first data row down to the header's width.
                    if not skip_bad_rows:
                        raise DataError("more fields than the header has", file=spec.label,
                                        line=LineMap(spec)(0))
                    chunk = chunk.iloc[1:].reset_index(drop=True)
                    dropped += 1
                    first_row += 1
                if chunk is None:
                    if dropped:
                        yield pd.DataFrame(columns=reader.orig_names or []), first_row, dropped
                    break
                if progress is not None:
                    progress(min(fh.tell(), total), total)
                yield chunk, first_row, dropped
                first_row += len(chunk)
    if progress is not None:
        progress(total, total)


def read_table(spec: Delimited) -> pd.DataFrame:
    """A whole (small) delimited file as text columns, e.g. a metadata side file."""
    with closing(read_delimited(spec)) as reading:  # type: ignore[type-var]  # a generator has close()
        chunks = [chunk for chunk, _, _ in reading]
    if not chunks:
        return pd.DataFrame({name: pd.Series([], dtype=str) for name in read_header(spec)})
    return chunks[0] if len(chunks) == 1 else pd.concat(chunks, ignore_index=True)


def read_delimited_events(
    spec: Delimited,
    columns: EventColumns,
    *,
    skip_bad_rows: bool = False,
    progress: Progress | None = None,
    raw_duplicates: bool = False,
) -> tuple[pd.DataFrame, int, int]:
    """Read a whole delimited file into events: ``(events, rows_skipped, duplicates_dropped)``.

    The header must hold every mapped column. A file with a header and no rows is an error
    (there is nothing to learn from). With ``raw_duplicates`` exact repeats of a *whole raw
    line* (every column, not only the event fields) are dropped after the first: each row's
    columns are hashed (64 bits) and rows are repeats when hash and event fields both agree.
    """
    found = read_header(spec)
    wanted = columns.required()
    require_columns(wanted, found, file=spec.label)
    line_of = LineMap(spec)
    parts: list[pd.DataFrame] = []
    hashes: list[np.ndarray] = []
    skipped = rows = 0
    # Every column is read, not only the mapped ones: with ``usecols`` the parser would
    # silently accept a line with too many fields.
    reading = read_delimited(spec, skip_bad_rows=skip_bad_rows, progress=progress)
    with closing(reading):  # type: ignore[type-var]  # a generator has close()
        for chunk, first_row, dropped in reading:
            rows += len(chunk) + dropped
            skipped += dropped
            if not len(chunk):
                continue
            events, keep, bad = events_from_raw(
                chunk, columns, file=spec.label, line_of=_offset(line_of, first_row),
                skip_bad_rows=skip_bad_rows,
            )
            skipped += bad
            parts.append(events)
            if raw_duplicates:
                h = pd.util.hash_pandas_object(chunk, index=False).to_numpy()
                hashes.append(h if keep is None else h[keep])
    if rows == 0:
        raise DataError("empty file: no rows after the header" if spec.header else "empty file",
                        file=spec.label, line=2 if spec.header else None)
    events = concat_events(parts)
    duplicates = 0
    if raw_duplicates and len(events):
        repeat = events.assign(_row_hash=np.concatenate(hashes)).duplicated().to_numpy()
        duplicates = int(repeat.sum())
        if duplicates:
            events = events.loc[~repeat].reset_index(drop=True)
    return events, skipped, duplicates


def _offset(line_of: Callable[[int], int], first: int) -> Callable[[int], int]:
    """``line_of`` for the rows of a chunk that starts at row ``first``."""
    return lambda row: line_of(first + row)


def _read_notes(caught: list[warnings.WarningMessage]) -> tuple[int, bool]:
    """Read the parser's warnings: lines it skipped, and whether it cut a long first row.

    Any other warning is passed on unchanged.
    """
    dropped, long_first_row = 0, False
    for note in caught:
        text = str(note.message)
        if issubclass(note.category, pd.errors.ParserWarning) and "does not match" in text:
            long_first_row = True
        elif issubclass(note.category, pd.errors.ParserWarning):
            dropped += len(_LINE_RE.findall(text)) or 1
        else:
            warnings.warn_explicit(note.message, note.category, note.filename, note.lineno)
    return dropped, long_first_row


# -- the result --------------------------------------------------------------------------------
def make_dataset(
    events: pd.DataFrame,
    *,
    format: str,
    path: Path,
    rows_skipped: int = 0,
    duplicates_dropped: int = 0,
    items: pd.DataFrame | None = None,
    users: pd.DataFrame | None = None,
    **info: Any,
) -> Dataset:
    """Wrap a reader's result in a :class:`~teamrec.data.dataset.Dataset` with provenance.

    ``rows_read`` is the number of good events the source held *before* exact duplicates
    were dropped (bad rows skipped are counted apart in ``rows_skipped``).
    """
    meta = {
        "format": format,
        "source": str(path),
        "rows_read": int(len(events) + duplicates_dropped),
        "rows_skipped": int(rows_skipped),
        "duplicates_dropped": int(duplicates_dropped),
        **info,
    }
    return Dataset(events=events, items=items, users=users, info=meta)
