"""The experiments' logs: what was shown (impressions) and what people did with it (feedback).

Kept in the event store's database but apart from the learning events: an impression is not
an interaction (nothing a model learns from), and the logs are append-only. The contract::

    log_impressions(team, frame) -> int        one row per shown item, all or nothing
    log_feedback(team, frame) -> int           one row per action; a replay of
                                               (recommendation_id, item, action) refuses the whole
                                               frame with a DataError, nothing stored
    impressions(team, experiment=None)         the team's impressions, oldest first
    feedback(team, experiment=None)            the team's feedback, oldest first
    find(team, recommendation_id)              one recommendation's impressions (empty if unknown,
                                               or another team's: ids never cross teams)
    running_fingerprint(name) / record_fingerprint(name, fingerprint)
                                               the fingerprint an experiment first ran with
    close()

Frames use :data:`IMPRESSION_LOG_COLUMNS` and :data:`FEEDBACK_LOG_COLUMNS`: the report's
schemas (:mod:`teamrec.experiments.frames`) plus who and where (experiment, person, surface).
Backends: :class:`SQLiteFeedbackLog` (the event store's SQLite file, migration 3),
:class:`MemoryFeedbackLog` (its twin, run by the same test class) and
:class:`teamrec.store.pg_feedback.PostgresFeedbackLog` (PostgreSQL migration 3);
:func:`open_feedback_log` picks the one beside an event store.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol, TypeAlias, runtime_checkable

import numpy as np
import pandas as pd

from teamrec.errors import ConfigError, DataError
from teamrec.store import _migrations

IMPRESSION_LOG_COLUMNS: tuple[str, ...] = (
    "recommendation_id", "team", "person", "experiment", "arm", "item", "position", "explored", "propensity",
    "surface", "shown_at",
)
FEEDBACK_LOG_COLUMNS: tuple[str, ...] = ("recommendation_id", "team", "person", "item", "action", "surface", "at")
#: What the log methods take: a DataFrame, or a mapping of column -> list (or one value for all rows).
Rows: TypeAlias = pd.DataFrame | Mapping[str, Any]


@runtime_checkable
class FeedbackLog(Protocol):
    """Append-only impressions and feedback, per team, plus the experiments' fingerprints."""

    def log_impressions(self, team: str, impressions: Rows) -> int:
        """Store one recommendation's (or several) shown items: all rows, or none."""
        ...

    def log_feedback(self, team: str, feedback: Rows) -> int:
        """Store actions on shown items; a replayed (recommendation_id, item, action) refuses all."""
        ...

    def impressions(self, team: str, experiment: str | None = None) -> pd.DataFrame:
        """The team's impressions (of one experiment when named), oldest first."""
        ...

    def feedback(self, team: str, experiment: str | None = None) -> pd.DataFrame:
        """The team's feedback (on one experiment's recommendations when named), oldest first."""
        ...

    def find(self, team: str, recommendation_id: str) -> pd.DataFrame:
        """The impressions of one of the team's recommendations (no rows when unknown)."""
        ...

    def running_fingerprint(self, name: str) -> str | None:
        """The fingerprint experiment ``name`` first ran with (None: it never ran here)."""
        ...

    def record_fingerprint(self, name: str, fingerprint: str) -> str:
        """Record ``fingerprint`` unless one is stored already; returns the stored one."""
        ...

    def close(self) -> None:
        ...


def _seconds(value: object) -> float:
    """A time (epoch seconds, a datetime or an ISO string) as epoch seconds."""
    if isinstance(value, int | float | np.integer | np.floating) and not isinstance(value, bool):
        return float(value)
    stamp = pd.Timestamp(value)
    if stamp.tzinfo is None:
        stamp = stamp.tz_localize("UTC")
    return float(stamp.timestamp())



def _prepare(team: str, rows: Rows, columns: tuple[str, ...], name: str) -> list[tuple]:
    """The rows to store, as tuples in ``columns`` order (one team, optional columns filled,
    ids checked, times in epoch seconds). ``rows``: a DataFrame, or a mapping of column ->
    list (or one value for every row): the service's per-request path, with no DataFrame to
    build (a recommendation has at most a few hundred items, so plain Python is the fast way)."""
    data = {c: rows[c].tolist() for c in rows.columns} if isinstance(rows, pd.DataFrame) else dict(rows)
    data["team"] = team
    for optional in ("experiment", "surface"):
        data.setdefault(optional, None)
    missing = [c for c in columns if c not in data]
    if missing:
        raise DataError(f"missing column(s) {', '.join(missing)}", file=name)
    lengths = {len(v) for v in data.values() if isinstance(v, list | tuple | np.ndarray)}
    if len(lengths) > 1:
        raise DataError(f"columns of different lengths ({sorted(lengths)})", file=name)
    n = lengths.pop() if lengths else 1
    cols = {c: (list(data[c]) if isinstance(data[c], list | tuple | np.ndarray) else [data[c]] * n) for c in columns}
    for col in ("recommendation_id", "person", "item"):
        for i, value in enumerate(cols[col]):
            if value is None or (isinstance(value, float) and np.isnan(value)) or str(value) == "":
                raise DataError(f"row {i}: blank id", file=name, field=col)
        cols[col] = [str(v) for v in cols[col]]
    time_col = "shown_at" if "shown_at" in columns else "at"
    try:
        cols[time_col] = [_seconds(v) for v in cols[time_col]]
    except (ValueError, TypeError):
        raise DataError("not a time", file=name, field=time_col) from None
    if "propensity" in columns:
        for i, p in enumerate(cols["propensity"]):
            if not (isinstance(p, int | float | np.number) and 0 < float(p) <= 1):
                raise DataError(f"row {i}: must be in (0, 1], got {p!r}", file=name, field="propensity")
        cols["propensity"] = [float(p) for p in cols["propensity"]]
        cols["position"] = [int(p) for p in cols["position"]]
        cols["explored"] = [bool(x) for x in cols["explored"]]
    return list(zip(*(cols[c] for c in columns), strict=True))


def _finish(frame: pd.DataFrame, columns: tuple[str, ...]) -> pd.DataFrame:
    """Rows read back as the log's frame: times as UTC datetimes, the right dtypes."""
    frame = frame.reindex(columns=list(columns))
    time_col = "shown_at" if "shown_at" in columns else "at"
    frame[time_col] = pd.to_datetime(frame[time_col].astype(np.float64), unit="s", utc=True)
    if "position" in columns:
        frame["position"] = frame["position"].astype(np.int64)
        frame["explored"] = frame["explored"].astype(bool)
        frame["propensity"] = frame["propensity"].astype(np.float64)
    for col in ("experiment", "surface"):
        if col in columns:
            frame[col] = frame[col].astype(object).where(frame[col].notna(), None)
    return frame.reset_index(drop=True)


def _first_repeat(keys: list[tuple[str, str, str]]) -> tuple[str, str, str] | None:
    seen: set[tuple[str, str, str]] = set()
    for key in keys:
        if key in seen:
            return key
        seen.add(key)
    return None


#: Where the key columns are in a stored row.
_RID, _PERSON, _ITEM = 0, 2, 5
_F_RID, _F_ITEM, _F_ACTION = 0, 3, 4


def _replay_error(rid: str, item: str, action: str) -> DataError:
    return DataError(f"feedback {action!r} on item {item!r} of recommendation {rid!r} was already given",
                     field="recommendation_id")


class MemoryFeedbackLog:
    """The in-memory twin: rows per team, guarded by one lock."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._impressions: dict[str, list[tuple]] = {}
        self._feedback: dict[str, list[tuple]] = {}
        self._actions: set[tuple[str, str, str]] = set()
        # Rows are tuples of plain values and kept in tuples, never a list per recommendation:
        # the garbage collector stops tracking such tuples, so a log of millions of rows adds
        # nothing to its full passes (which a list per recommendation made ever longer: a
        # server's read latency grew with the log).
        self._by_id: dict[tuple[str, str], tuple[tuple, ...]] = {}
        self._fingerprints: dict[str, str] = {}

    def log_impressions(self, team: str, impressions: Rows) -> int:
        rows = _prepare(team, impressions, IMPRESSION_LOG_COLUMNS, "impressions")
        keys = [(r[_RID], r[_ITEM]) for r in rows]
        with self._lock:
            shown = {(rid, r[_ITEM]) for rid, _ in keys for r in self._by_id.get((team, rid), ())}
            if len(set(keys)) != len(keys) or any(k in shown for k in keys):
                raise DataError("an item is logged twice for one recommendation", file="impressions", field="item")
            self._impressions.setdefault(team, []).extend(rows)
            by_id: dict[str, list[tuple]] = {}
            for row in rows:
                by_id.setdefault(row[_RID], []).append(row)
            for rid, new in by_id.items():
                self._by_id[(team, rid)] = self._by_id.get((team, rid), ()) + tuple(new)
        return len(rows)

    def log_feedback(self, team: str, feedback: Rows) -> int:
        rows = _prepare(team, feedback, FEEDBACK_LOG_COLUMNS, "feedback")
        keys = [(r[_F_RID], r[_F_ITEM], r[_F_ACTION]) for r in rows]
        with self._lock:
            repeat = next((k for k in keys if k in self._actions), None) or _first_repeat(keys)
            if repeat is not None:
                raise _replay_error(*repeat)
            self._actions.update(keys)
            self._feedback.setdefault(team, []).extend(rows)
        return len(rows)

    def impressions(self, team: str, experiment: str | None = None) -> pd.DataFrame:
        with self._lock:
            rows = list(self._impressions.get(team, []))
        if experiment is not None:
            rows = [r for r in rows if r[3] == experiment]
        return _finish(pd.DataFrame.from_records(rows, columns=list(IMPRESSION_LOG_COLUMNS)), IMPRESSION_LOG_COLUMNS)

    def feedback(self, team: str, experiment: str | None = None) -> pd.DataFrame:
        with self._lock:
            rows = list(self._feedback.get(team, []))
            if experiment is not None:
                ids = {r[_RID] for r in self._impressions.get(team, []) if r[3] == experiment}
                rows = [r for r in rows if r[_F_RID] in ids]
        return _finish(pd.DataFrame.from_records(rows, columns=list(FEEDBACK_LOG_COLUMNS)), FEEDBACK_LOG_COLUMNS)

    def find(self, team: str, recommendation_id: str) -> pd.DataFrame:
        with self._lock:
            rows = list(self._by_id.get((team, str(recommendation_id)), ()))
        return _finish(pd.DataFrame.from_records(rows, columns=list(IMPRESSION_LOG_COLUMNS)), IMPRESSION_LOG_COLUMNS)

    def running_fingerprint(self, name: str) -> str | None:
        with self._lock:
            return self._fingerprints.get(name)

    def record_fingerprint(self, name: str, fingerprint: str) -> str:
        with self._lock:
            return self._fingerprints.setdefault(name, fingerprint)

    def close(self) -> None:
        """Nothing to release."""


class _SQLReads:
    """The log in the SQL both databases speak; ``_PH`` is the driver's placeholder (``?`` for
    sqlite3, ``%s`` for psycopg), ``_select`` runs a query into a frame and ``_insert`` writes
    rows in one transaction (``on_conflict`` raised when a uniqueness rule refuses them)."""

    _PH = "?"

    def _select(self, sql: str, args: tuple, columns: tuple[str, ...]) -> pd.DataFrame:
        raise NotImplementedError

    def _insert(self, table: str, columns: tuple[str, ...], rows: list[tuple], on_conflict: DataError) -> int:
        raise NotImplementedError

    def log_impressions(self, team: str, impressions: Rows) -> int:
        rows = _prepare(team, impressions, IMPRESSION_LOG_COLUMNS, "impressions")
        error = DataError("an item is logged twice for one recommendation", file="impressions", field="item")
        return self._insert("impressions", IMPRESSION_LOG_COLUMNS, rows, error)

    def log_feedback(self, team: str, feedback: Rows) -> int:
        rows = _prepare(team, feedback, FEEDBACK_LOG_COLUMNS, "feedback")
        keys = [(r[_F_RID], r[_F_ITEM], r[_F_ACTION]) for r in rows]
        repeat = _first_repeat(keys)
        if repeat is not None:
            raise _replay_error(*repeat)
        error = _replay_error(*keys[0]) if keys else DataError("feedback replayed")
        return self._insert("feedback", FEEDBACK_LOG_COLUMNS, rows, error)

    def impressions(self, team: str, experiment: str | None = None) -> pd.DataFrame:
        cols, ph = ", ".join(IMPRESSION_LOG_COLUMNS), self._PH
        if experiment is None:
            return self._select(f"SELECT {cols} FROM impressions WHERE team = {ph} ORDER BY seq", (team,),
                                IMPRESSION_LOG_COLUMNS)
        return self._select(f"SELECT {cols} FROM impressions WHERE team = {ph} AND experiment = {ph} ORDER BY seq",
                            (team, experiment), IMPRESSION_LOG_COLUMNS)

    def feedback(self, team: str, experiment: str | None = None) -> pd.DataFrame:
        cols, ph = ", ".join(f"f.{c}" for c in FEEDBACK_LOG_COLUMNS), self._PH
        if experiment is None:
            return self._select(f"SELECT {cols} FROM feedback f WHERE f.team = {ph} ORDER BY f.seq", (team,),
                                FEEDBACK_LOG_COLUMNS)
        return self._select(
            f"SELECT {cols} FROM feedback f WHERE f.team = {ph} AND f.recommendation_id IN "
            f"(SELECT recommendation_id FROM impressions WHERE team = {ph} AND experiment = {ph}) ORDER BY f.seq",
            (team, team, experiment), FEEDBACK_LOG_COLUMNS,
        )

    def find(self, team: str, recommendation_id: str) -> pd.DataFrame:
        cols, ph = ", ".join(IMPRESSION_LOG_COLUMNS), self._PH
        return self._select(
            f"SELECT {cols} FROM impressions WHERE team = {ph} AND recommendation_id = {ph} ORDER BY position",
            (team, str(recommendation_id)), IMPRESSION_LOG_COLUMNS,
        )


class SQLiteFeedbackLog(_SQLReads):
    """The logs in the event store's SQLite file (its own connection; migration 3's tables)."""

    def __init__(self, path: str | Path, *, timeout: float = 30.0) -> None:
        self.path = Path(path)
        try:
            self._conn = sqlite3.connect(str(self.path), timeout=timeout, isolation_level=None,
                                         check_same_thread=False)
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA synchronous=FULL")
            _migrations.migrate(self._conn)
        except sqlite3.DatabaseError as exc:
            raise DataError(f"not a usable SQLite database for the feedback log: {exc}", file=str(self.path)) from None
        self._lock = threading.Lock()

    def _insert(self, table: str, columns: tuple[str, ...], rows: list[tuple], on_conflict: DataError) -> int:
        sql = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"
        with self._lock:
            conn = self._conn
            conn.execute("BEGIN IMMEDIATE")
            try:
                conn.executemany(sql, rows)
                conn.execute("COMMIT")
            except sqlite3.IntegrityError:
                conn.execute("ROLLBACK")
                raise on_conflict from None
            except BaseException:
                conn.execute("ROLLBACK")
                raise
        return len(rows)

    def _select(self, sql: str, args: tuple, columns: tuple[str, ...]) -> pd.DataFrame:
        with self._lock:
            rows = self._conn.execute(sql, args).fetchall()
        return _finish(pd.DataFrame.from_records(rows, columns=list(columns)), columns)

    def running_fingerprint(self, name: str) -> str | None:
        with self._lock:
            row = self._conn.execute("SELECT fingerprint FROM experiments WHERE name = ?", (name,)).fetchone()
        return None if row is None else str(row[0])

    def record_fingerprint(self, name: str, fingerprint: str) -> str:
        with self._lock:
            self._conn.execute("INSERT OR IGNORE INTO experiments (name, fingerprint, first_run) VALUES (?, ?, ?)",
                               (name, fingerprint, time.time()))
            row = self._conn.execute("SELECT fingerprint FROM experiments WHERE name = ?", (name,)).fetchone()
        return str(row[0])

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def __repr__(self) -> str:
        return f"SQLiteFeedbackLog({str(self.path)!r})"


def open_feedback_log(store: object) -> FeedbackLog:
    """The feedback log living beside ``store`` (an event store): the same SQLite file or
    PostgreSQL database, or memory for the in-memory store. A store kind without a log here
    is a :class:`ConfigError`."""
    from teamrec.store.memory import MemoryEventStore
    from teamrec.store.sqlite import SQLiteEventStore

    if isinstance(store, SQLiteEventStore):
        if str(store.path) == ":memory:":
            return MemoryFeedbackLog()
        return SQLiteFeedbackLog(store.path)
    if isinstance(store, MemoryEventStore):
        return MemoryFeedbackLog()
    if type(store).__name__ == "PostgresEventStore":  # importing it needs the postgres extra
        from teamrec.store.pg_feedback import PostgresFeedbackLog

        return PostgresFeedbackLog(store.url)  # type: ignore[attr-defined]
    raise ConfigError(f"no impressions/feedback log for the event store {store!r} yet")
