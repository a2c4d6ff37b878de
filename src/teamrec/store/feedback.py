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
Backends: :class:`SQLiteFeedbackLog` (the event store's SQLite file, migration 3) and
:class:`MemoryFeedbackLog` (its twin, run by the same test class). A PostgreSQL log plugs in
through :func:`open_feedback_log`.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np
import pandas as pd

from teamrec.errors import ConfigError, DataError
from teamrec.store import _migrations

IMPRESSION_LOG_COLUMNS: tuple[str, ...] = (
    "recommendation_id", "team", "person", "experiment", "arm", "item", "position", "explored", "propensity",
    "surface", "shown_at",
)
FEEDBACK_LOG_COLUMNS: tuple[str, ...] = ("recommendation_id", "team", "person", "item", "action", "surface", "at")


@runtime_checkable
class FeedbackLog(Protocol):
    """Append-only impressions and feedback, per team, plus the experiments' fingerprints."""

    def log_impressions(self, team: str, impressions: pd.DataFrame) -> int:
        """Store one recommendation's (or several) shown items: all rows, or none."""
        ...

    def log_feedback(self, team: str, feedback: pd.DataFrame) -> int:
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


def _times(values: pd.Series) -> np.ndarray:
    """Times (datetimes or epoch seconds) as epoch seconds."""
    if pd.api.types.is_numeric_dtype(values.dtype):
        return values.to_numpy(dtype=np.float64)
    parsed = pd.to_datetime(values, utc=True)
    return (parsed - pd.Timestamp(0, tz="UTC")).dt.total_seconds().to_numpy(dtype=np.float64)


def _prepare(team: str, frame: pd.DataFrame, columns: tuple[str, ...], name: str) -> pd.DataFrame:
    """The frame with every log column (optional ones filled), one team, checked for blanks."""
    out = frame.copy()
    for optional in ("experiment", "surface"):
        if optional in columns and optional not in out.columns:
            out[optional] = None
    out["team"] = team
    missing = [c for c in columns if c not in out.columns]
    if missing:
        raise DataError(f"missing column(s) {', '.join(missing)}", file=name)
    out = out[list(columns)].reset_index(drop=True)
    for col in ("recommendation_id", "person", "item"):
        blank = out[col].isna().to_numpy() | (out[col].astype(str) == "").to_numpy()
        if blank.any():
            raise DataError(f"row {int(np.flatnonzero(blank)[0])}: blank id", file=name, field=col)
        out[col] = out[col].astype(str)
    time_col = "shown_at" if "shown_at" in columns else "at"
    out[time_col] = _times(out[time_col])
    if "propensity" in columns:
        p = out["propensity"].to_numpy(dtype=np.float64)
        bad = ~np.isfinite(p) | (p <= 0) | (p > 1)
        if bad.any():
            raise DataError(f"row {int(np.flatnonzero(bad)[0])}: must be in (0, 1]", file=name, field="propensity")
        out["position"] = out["position"].astype(np.int64)
        out["explored"] = out["explored"].astype(bool)
    return out


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


def _replays(frame: pd.DataFrame) -> np.ndarray:
    return frame.duplicated(["recommendation_id", "item", "action"]).to_numpy()


def _replay_error(rid: str, item: str, action: str) -> DataError:
    return DataError(f"feedback {action!r} on item {item!r} of recommendation {rid!r} was already given",
                     field="recommendation_id")


class MemoryFeedbackLog:
    """The in-memory twin: frames per team, guarded by one lock."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._impressions: dict[str, list[pd.DataFrame]] = {}
        self._feedback: dict[str, list[pd.DataFrame]] = {}
        self._actions: set[tuple[str, str, str]] = set()
        self._shown: set[tuple[str, str]] = set()
        self._by_id: dict[tuple[str, str], pd.DataFrame] = {}
        self._fingerprints: dict[str, str] = {}

    def log_impressions(self, team: str, impressions: pd.DataFrame) -> int:
        frame = _prepare(team, impressions, IMPRESSION_LOG_COLUMNS, "impressions")
        keys = list(zip(frame["recommendation_id"], frame["item"], strict=True))
        with self._lock:
            if len(set(keys)) != len(keys) or any(k in self._shown for k in keys):
                raise DataError("an item is logged twice for one recommendation", file="impressions", field="item")
            self._shown.update(keys)
            self._impressions.setdefault(team, []).append(frame)
            for rid, part in frame.groupby("recommendation_id", sort=False):
                key = (team, str(rid))
                self._by_id[key] = pd.concat([self._by_id[key], part]) if key in self._by_id else part
        return len(frame)

    def log_feedback(self, team: str, feedback: pd.DataFrame) -> int:
        frame = _prepare(team, feedback, FEEDBACK_LOG_COLUMNS, "feedback")
        keys = list(zip(frame["recommendation_id"], frame["item"], frame["action"], strict=True))
        with self._lock:
            repeated = [k for k in keys if k in self._actions]
            if repeated or _replays(frame).any():
                raise _replay_error(*(repeated[0] if repeated else keys[int(np.flatnonzero(_replays(frame))[0])]))
            self._actions.update(keys)
            self._feedback.setdefault(team, []).append(frame)
        return len(frame)

    def _all(self, parts: list[pd.DataFrame], columns: tuple[str, ...]) -> pd.DataFrame:
        if not parts:
            return _finish(pd.DataFrame({c: [] for c in columns}), columns)
        return _finish(pd.concat(parts, ignore_index=True), columns)

    def impressions(self, team: str, experiment: str | None = None) -> pd.DataFrame:
        with self._lock:
            parts = list(self._impressions.get(team, []))
        frame = self._all(parts, IMPRESSION_LOG_COLUMNS)
        if experiment is not None:
            frame = frame[frame["experiment"] == experiment].reset_index(drop=True)
        return frame

    def feedback(self, team: str, experiment: str | None = None) -> pd.DataFrame:
        with self._lock:
            parts = list(self._feedback.get(team, []))
        frame = self._all(parts, FEEDBACK_LOG_COLUMNS)
        if experiment is not None:
            ids = set(self.impressions(team, experiment)["recommendation_id"])
            frame = frame[frame["recommendation_id"].isin(ids)].reset_index(drop=True)
        return frame

    def find(self, team: str, recommendation_id: str) -> pd.DataFrame:
        with self._lock:
            part = self._by_id.get((team, str(recommendation_id)))
        return self._all([] if part is None else [part], IMPRESSION_LOG_COLUMNS)

    def running_fingerprint(self, name: str) -> str | None:
        with self._lock:
            return self._fingerprints.get(name)

    def record_fingerprint(self, name: str, fingerprint: str) -> str:
        with self._lock:
            return self._fingerprints.setdefault(name, fingerprint)

    def close(self) -> None:
        """Nothing to release."""


class SQLiteFeedbackLog:
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

    def _insert(self, sql: str, rows: list[tuple], on_conflict: DataError) -> int:
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

    def log_impressions(self, team: str, impressions: pd.DataFrame) -> int:
        frame = _prepare(team, impressions, IMPRESSION_LOG_COLUMNS, "impressions")
        rows = list(zip(*(frame[c].tolist() for c in IMPRESSION_LOG_COLUMNS), strict=True))
        error = DataError("an item is logged twice for one recommendation", file="impressions", field="item")
        return self._insert(
            f"INSERT INTO impressions ({', '.join(IMPRESSION_LOG_COLUMNS)}) VALUES ({', '.join('?' * 11)})",
            rows, error,
        )

    def log_feedback(self, team: str, feedback: pd.DataFrame) -> int:
        frame = _prepare(team, feedback, FEEDBACK_LOG_COLUMNS, "feedback")
        if _replays(frame).any():
            first = frame.iloc[int(np.flatnonzero(_replays(frame))[0])]
            raise _replay_error(first["recommendation_id"], first["item"], first["action"])
        rows = list(zip(*(frame[c].tolist() for c in FEEDBACK_LOG_COLUMNS), strict=True))
        first = frame.iloc[0] if len(frame) else None
        error = (_replay_error(first["recommendation_id"], first["item"], first["action"]) if first is not None
                 else DataError("feedback replayed"))
        return self._insert(
            f"INSERT INTO feedback ({', '.join(FEEDBACK_LOG_COLUMNS)}) VALUES ({', '.join('?' * 7)})", rows, error
        )

    def _select(self, sql: str, args: tuple, columns: tuple[str, ...]) -> pd.DataFrame:
        with self._lock:
            rows = self._conn.execute(sql, args).fetchall()
        return _finish(pd.DataFrame.from_records(rows, columns=list(columns)), columns)

    def impressions(self, team: str, experiment: str | None = None) -> pd.DataFrame:
        cols = ", ".join(IMPRESSION_LOG_COLUMNS)
        if experiment is None:
            return self._select(f"SELECT {cols} FROM impressions WHERE team = ? ORDER BY seq", (team,),
                                IMPRESSION_LOG_COLUMNS)
        return self._select(f"SELECT {cols} FROM impressions WHERE team = ? AND experiment = ? ORDER BY seq",
                            (team, experiment), IMPRESSION_LOG_COLUMNS)

    def feedback(self, team: str, experiment: str | None = None) -> pd.DataFrame:
        cols = ", ".join(f"f.{c}" for c in FEEDBACK_LOG_COLUMNS)
        if experiment is None:
            return self._select(f"SELECT {cols} FROM feedback f WHERE f.team = ? ORDER BY f.seq", (team,),
                                FEEDBACK_LOG_COLUMNS)
        return self._select(
            f"SELECT {cols} FROM feedback f WHERE f.team = ? AND f.recommendation_id IN "
            "(SELECT recommendation_id FROM impressions WHERE team = ? AND experiment = ?) ORDER BY f.seq",
            (team, team, experiment), FEEDBACK_LOG_COLUMNS,
        )

    def find(self, team: str, recommendation_id: str) -> pd.DataFrame:
        cols = ", ".join(IMPRESSION_LOG_COLUMNS)
        return self._select(
            f"SELECT {cols} FROM impressions WHERE team = ? AND recommendation_id = ? ORDER BY position",
            (team, str(recommendation_id)), IMPRESSION_LOG_COLUMNS,
        )

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
    """The feedback log living beside ``store`` (an event store): the same SQLite file, or
    memory for the in-memory store. A store kind without a log here is a :class:`ConfigError`."""
    from teamrec.store.memory import MemoryEventStore
    from teamrec.store.sqlite import SQLiteEventStore

    if isinstance(store, SQLiteEventStore):
        if str(store.path) == ":memory:":
            return MemoryFeedbackLog()
        return SQLiteFeedbackLog(store.path)
    if isinstance(store, MemoryEventStore):
        return MemoryFeedbackLog()
    raise ConfigError(f"no impressions/feedback log for the event store {store!r} yet")
