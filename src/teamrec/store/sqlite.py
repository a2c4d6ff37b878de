"""The embedded default event store: one SQLite file, durable on return.

Durability: the database runs in WAL mode with ``synchronous=FULL``, so a batch is on disk
(fsynced) when :meth:`SQLiteEventStore.append` returns, and a batch is one transaction: a
crash or an error halfway stores none of it. One connection is shared by the service's
threads behind a lock (SQLite serialises writers anyway); other processes (``teamrec
retrain`` on the same file) may read at the same time thanks to WAL.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd

from teamrec.data.events import EVENT_COLUMNS, empty_events, normalize_events
from teamrec.errors import DataError
from teamrec.store import _migrations
from teamrec.store.base import AppendResult, prepare


class SQLiteEventStore:
    """Events in a SQLite file (created, and migrated to the current schema, on open)."""

    def __init__(self, path: str | Path, *, timeout: float = 30.0) -> None:
        self.path = Path(path)
        if str(path) != ":memory:":
            self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._conn = sqlite3.connect(
                str(self.path), timeout=timeout, isolation_level=None, check_same_thread=False
            )
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA synchronous=FULL")
            self._conn.execute("PRAGMA foreign_keys=ON")
            self.migrations_applied = _migrations.migrate(self._conn)
        except sqlite3.DatabaseError as exc:
            raise DataError(f"not a usable SQLite event store: {exc}", file=str(self.path)) from None
        self._lock = threading.Lock()

    @property
    def schema_version(self) -> int:
        with self._lock:
            return max(_migrations.applied(self._conn), default=0)

    def append(self, team: str, events: pd.DataFrame, *, batch_id: str | None = None) -> AppendResult:
        frame = prepare(team, events)
        now = time.time()
        timestamps = frame["timestamp"].to_numpy(dtype=np.float64)
        with self._lock:
            conn = self._conn
            conn.execute("BEGIN IMMEDIATE")
            try:
                if batch_id is not None:
                    seen = conn.execute(
                        "SELECT 1 FROM batches WHERE team = ? AND batch_id = ?", (team, batch_id)
                    ).fetchone()
                    if seen:
                        conn.execute("ROLLBACK")
                        return AppendResult(stored=0, total=self._count(team), duplicate=True)
                cur = conn.execute(
                    "INSERT INTO batches (team, batch_id, n_events, received_at) VALUES (?, ?, ?, ?)",
                    (team, batch_id, len(frame), now),
                )
                batch = cur.lastrowid
                rows = zip(
                    frame["team"].tolist(),
                    frame["user"].tolist(),
                    frame["item"].tolist(),
                    frame["kind"].tolist(),
                    frame["value"].tolist(),
                    [None if np.isnan(t) else float(t) for t in timestamps],
                    [now] * len(frame),
                    [batch] * len(frame),
                    strict=True,
                )
                conn.executemany(
                    "INSERT INTO events (team, user, item, kind, value, timestamp, received_at, batch) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    rows,
                )
                total = self._count(team)
                conn.execute("COMMIT")
            except sqlite3.Error as exc:
                conn.execute("ROLLBACK")
                raise DataError(f"the batch was not stored: {exc}", file=str(self.path)) from None
            except BaseException:
                conn.execute("ROLLBACK")
                raise
        return AppendResult(stored=len(frame), total=total)

    def events(self, team: str) -> pd.DataFrame:
        with self._lock:
            rows = self._conn.execute(
                "SELECT team, user, item, kind, value, timestamp FROM events WHERE team = ? ORDER BY seq",
                (team,),
            ).fetchall()
        if not rows:
            return empty_events()
        frame = pd.DataFrame.from_records(rows, columns=list(EVENT_COLUMNS))
        frame["timestamp"] = frame["timestamp"].astype(np.float64)  # NULL -> NaN
        return normalize_events(frame, source=str(self.path))

    def since(self, team: str, sequence: int = 0) -> tuple[pd.DataFrame, int]:
        with self._lock:
            rows = self._conn.execute(
                "SELECT seq, team, user, item, kind, value, timestamp FROM events "
                "WHERE team = ? AND seq > ? ORDER BY seq",
                (team, int(sequence)),
            ).fetchall()
        if not rows:
            return empty_events(), int(sequence)
        frame = pd.DataFrame.from_records([r[1:] for r in rows], columns=list(EVENT_COLUMNS))
        frame["timestamp"] = frame["timestamp"].astype(np.float64)
        return normalize_events(frame, source=str(self.path)), int(rows[-1][0])

    def _count(self, team: str) -> int:
        return int(self._conn.execute("SELECT COUNT(*) FROM events WHERE team = ?", (team,)).fetchone()[0])

    def count(self, team: str | None = None) -> int:
        with self._lock:
            if team is not None:
                return self._count(team)
            return int(self._conn.execute("SELECT COUNT(*) FROM events").fetchone()[0])

    def teams(self) -> list[str]:
        with self._lock:
            return [r[0] for r in self._conn.execute("SELECT DISTINCT team FROM events ORDER BY team")]

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def __repr__(self) -> str:
        return f"SQLiteEventStore({str(self.path)!r})"
