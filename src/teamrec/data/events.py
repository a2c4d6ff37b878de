"""The one event model every source is read into, and every model learns from.

An *event* is one row ``(team, user, item, kind, value, timestamp)``:

========== ========= ==============================================================
column     dtype     meaning
========== ========= ==============================================================
team       string    the workspace / organisation the event belongs to
user       string    who acted (raw id as the source gives it)
item       string    on what: a channel, an article, a movie, an artist, an app
kind       string    what happened: ``rating``, ``VIEW``, ``play``, ``member``,
                     ``message``, ``reply``, ``reaction`` ...
value      float64   how strong: a rating, an event strength, a play count;
                     at most :data:`MAX_EVENT_VALUE` either way
timestamp  float64   seconds since the Unix epoch, 1970 to 2100
                     (:data:`MAX_TIMESTAMP`); NaN when the source has none
========== ========= ==============================================================

Events live in a :class:`pandas.DataFrame`; ids are strings so that sources with 64-bit,
negative or textual ids (Deskdrop, Slack) all fit one schema. Item and user *metadata*
(names, channel purposes, privacy) are separate frames keyed by ``(team, item)`` and
``(team, user)``: see :class:`teamrec.data.dataset.Dataset`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from teamrec.errors import DataError

EVENT_COLUMNS: tuple[str, ...] = ("team", "user", "item", "kind", "value", "timestamp")
DEFAULT_TEAM = "default"

#: The largest strength one stored event may carry (either sign: -1/+1 votes are events too).
#: Larger values are mistakes, and a few of them summed would overflow a team's matrix.
MAX_EVENT_VALUE = 1e9
#: Stored event times fall in 1970-01-01 .. 2100-01-01 (seconds since the Unix epoch): one
#: absurd time would make every real event look ages old to time decay.
MAX_TIMESTAMP = 4_102_444_800.0
#: How errors state the two bounds.
VALUE_RANGE = f"its size must be at most {MAX_EVENT_VALUE:g}"
TIMESTAMP_RANGE = "not a time between 1970 and 2100 (Unix seconds)"
#: The longest id (user, item) and kind a stored event may have.
MAX_ID_LENGTH = 256
MAX_KIND_LENGTH = 64

#: Event kinds with a meaning beyond their value: a ``leave`` ends a membership (the person
#: left the channel: it leaves their row and is never recommended back to them); a
#: ``dismiss`` is "not interested" (never recommended to them again).
LEAVE = "leave"
DISMISS = "dismiss"
EXCLUDING_KINDS: tuple[str, ...] = (LEAVE, DISMISS)

#: Item metadata columns every source fills (extra columns are kept).
ITEM_COLUMNS: tuple[str, ...] = ("team", "item", "name", "description", "private", "archived")
#: User metadata columns every source fills (extra columns are kept).
USER_COLUMNS: tuple[str, ...] = ("team", "user", "name")


def make_events(
    *,
    user,
    item,
    value,
    kind="event",
    timestamp=np.nan,
    team=DEFAULT_TEAM,
) -> pd.DataFrame:
    """Build an events frame from columns (arrays or scalars broadcast to the length)."""
    frame = pd.DataFrame({"user": user, "item": item, "value": value})
    frame["team"] = team
    frame["kind"] = kind
    frame["timestamp"] = timestamp
    return normalize_events(frame, source="<events>")


def empty_events() -> pd.DataFrame:
    """An events frame with the schema and no rows."""
    return normalize_events(
        pd.DataFrame({c: [] for c in EVENT_COLUMNS}), source="<events>"
    )


def normalize_events(frame: pd.DataFrame, *, source: str = "<events>") -> pd.DataFrame:
    """Check an events frame and give it the canonical column order and dtypes.

    Raises :class:`DataError` naming the column when one is missing or holds values that
    cannot be converted (the line given is the 1-based row of the frame plus one for a header).
    """
    missing = [c for c in EVENT_COLUMNS if c not in frame.columns]
    if missing:
        raise DataError(f"missing column(s) {', '.join(missing)}", file=source, field=missing[0])
    out = pd.DataFrame(index=pd.RangeIndex(len(frame)))
    for col in ("team", "user", "item", "kind"):
        column = frame[col]
        nulls = column.isna().to_numpy()
        if nulls.any():
            row = int(np.flatnonzero(nulls)[0])
            raise DataError("empty value", file=source, line=row + 2, field=col)
        if pd.api.types.is_string_dtype(column.dtype) and (
            column.dtype != object or pd.api.types.infer_dtype(column, skipna=False) == "string"
        ):
            out[col] = column.array  # already strings (the usual case): no per-value conversion
        else:
            out[col] = pd.array(column.to_numpy().astype(str), dtype=object)
    for col in ("value", "timestamp"):
        try:
            out[col] = pd.to_numeric(frame[col].to_numpy(), errors="raise").astype(np.float64)
        except (ValueError, TypeError):
            bad = pd.to_numeric(pd.Series(frame[col].to_numpy()), errors="coerce").isna() & pd.Series(
                frame[col].to_numpy()
            ).notna()
            row = int(np.flatnonzero(bad.to_numpy())[0]) if bad.any() else 0
            raise DataError(
                f"not a number: {frame[col].iloc[row]!r}", file=source, line=row + 2, field=col
            ) from None
    values = out["value"].to_numpy()
    bad_value = ~np.isfinite(values)
    if bad_value.any():
        row = int(np.flatnonzero(bad_value)[0])
        raise DataError("value is not a finite number", file=source, line=row + 2, field="value")
    too_big = np.abs(values) > MAX_EVENT_VALUE
    if too_big.any():
        row = int(np.flatnonzero(too_big)[0])
        raise DataError(f"value {values[row]:g}: {VALUE_RANGE}", file=source, line=row + 2, field="value")
    bad_time = timestamps_out_of_range(out["timestamp"].to_numpy())
    if bad_time.any():
        row = int(np.flatnonzero(bad_time)[0])
        raise DataError(f"timestamp {out['timestamp'].iloc[row]:g}: {TIMESTAMP_RANGE}", file=source,
                        line=row + 2, field="timestamp")
    return out[list(EVENT_COLUMNS)]


def check_event_rules(frame: pd.DataFrame, *, source: str = "<batch>") -> pd.DataFrame:
    """Check the rules every *stored* event obeys, whoever writes it (HTTP, Slack, a script).

    On top of :func:`normalize_events` (columns, types, finite values within
    +-:data:`MAX_EVENT_VALUE`, times NaN or within 1970..2100): no id or kind made only of blanks
    or longer than its limit, no ``/`` in an id (ids are URL path segments), and no true/false
    where a number belongs. Raises :class:`DataError` naming the row (``line`` is the 0-based
    row + 2, as for a file with a header) and field; returns the normalised frame.
    """
    for col in ("value", "timestamp"):
        if col not in frame.columns:
            continue
        values = frame[col].to_numpy()
        if len(values) and (
            values.dtype == bool
            or (values.dtype == object and any(isinstance(v, (bool, np.bool_)) for v in values.tolist()))
        ):
            flags = np.array([isinstance(v, (bool, np.bool_)) for v in values.tolist()], dtype=bool)
            row = int(np.flatnonzero(flags)[0])
            raise DataError("must be a number, not true/false", file=source, line=row + 2, field=col)
    out = normalize_events(frame, source=source)
    limits = (("user", MAX_ID_LENGTH), ("item", MAX_ID_LENGTH), ("kind", MAX_KIND_LENGTH), ("team", MAX_ID_LENGTH))
    for col, limit in limits:
        text = np.asarray(out[col].to_numpy(), dtype=str)  # C loops over the batch, no pandas per op
        blank = np.char.str_len(np.char.strip(text)) == 0
        if blank.any():
            row = int(np.flatnonzero(blank)[0])
            raise DataError("blank value", file=source, line=row + 2, field=col)
        long = np.char.str_len(text) > limit
        if long.any():
            row = int(np.flatnonzero(long)[0])
            raise DataError(f"longer than {limit} characters", file=source, line=row + 2, field=col)
        slash = slashed(text) if col != "kind" else np.zeros(len(text), dtype=bool)
        if slash.any():
            row = int(np.flatnonzero(slash)[0])
            raise DataError(SLASH_REASON.format(value=str(text[row])), file=source, line=row + 2, field=col)
    return out


#: Why an id with a ``/`` is refused (teams, people and items are named in URL paths).
SLASH_REASON = "{value!r}: ids may not contain '/' (they name teams, people and items in URLs)"


def slashed(text: np.ndarray) -> np.ndarray:
    """Where an id (text) contains ``/``.

    Ids are path segments of the HTTP API (``/teams/{team}/items/{item}``); one with a ``/``
    could be stored but never asked for again, so readers refuse it with a clear message.
    """
    if not len(text):
        return np.zeros(0, dtype=bool)
    return np.asarray(pd.Series(text, dtype=object).str.contains("/", regex=False, na=False), dtype=bool)


def timestamps_out_of_range(seconds: np.ndarray) -> np.ndarray:
    """Where known timestamps (not NaN) fall outside 1970 .. 2100; infinities included."""
    seconds = np.asarray(seconds, dtype=np.float64)
    with np.errstate(invalid="ignore"):
        return ~np.isnan(seconds) & ~((seconds >= 0.0) & (seconds <= MAX_TIMESTAMP))
