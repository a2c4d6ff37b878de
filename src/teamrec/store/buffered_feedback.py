"""Impressions group-committed off the request path, in front of any :class:`FeedbackLog`.

Every recommendation logs its impressions; with one durable commit per request a SQLite or
PostgreSQL log serialises the service on its fsyncs (about 4 ms each), so reads fall behind
at a few hundred requests/s. :class:`BufferedFeedbackLog` checks a request's rows at once
(bad rows are refused on the request, as before), keeps them in memory and returns; a
background thread writes everything waiting in one call per team (one transaction) every
``flush_ms``, or sooner when ``flush_rows`` are waiting, so N requests cost one commit.

What stays exact:

* ``find`` (feedback validation) sees buffered rows: a feedback right after its
  recommendation finds it in the buffer. Rows leave the buffer only after their commit.
* ``log_feedback`` stays synchronous and durable; when its recommendation is still buffered,
  the buffer is flushed first, so a stored feedback never points at a lost impression.
* ``impressions``/``feedback`` (the report) flush first, then read the backend.
* A failed background write is logged and retried on the next flush, never dropped; rows the
  backend refuses as data (a :class:`DataError`, which no retry can fix) are written request
  by request so only the refused request's rows are left out, and that is logged as an error.
* The buffer is bounded: past ``max_rows`` a request writes its own rows synchronously
  (back-pressure, not dropping or growing without bound).
* ``close()`` stops the thread and flushes what is left.

An impression is durable within ``flush_ms`` (plus the commit); in a multi-process
deployment another process sees it (e.g. a feedback on it) once this process has flushed.
"""

from __future__ import annotations

import logging
import threading

import pandas as pd

from teamrec.errors import DataError
from teamrec.store.feedback import (
    _ITEM,
    _RID,
    IMPRESSION_LOG_COLUMNS,
    FeedbackLog,
    Rows,
    _finish,
    _prepare,
)

log = logging.getLogger(__name__)

#: Where a stored impression row has its position (see IMPRESSION_LOG_COLUMNS).
_POSITION = IMPRESSION_LOG_COLUMNS.index("position")


class BufferedFeedbackLog:
    """A :class:`FeedbackLog` whose impressions are written by a background thread, in batches."""

    def __init__(self, backend: FeedbackLog, *, flush_ms: float = 50.0, flush_rows: int = 5_000,
                 max_rows: int = 100_000) -> None:
        if flush_ms <= 0 or flush_rows < 1 or max_rows < flush_rows:
            raise ValueError(f"need flush_ms > 0 and 1 <= flush_rows <= max_rows; got {flush_ms}, {flush_rows}, "
                             f"{max_rows}")
        self.backend = backend
        self.flush_ms, self.flush_rows, self.max_rows = flush_ms, flush_rows, max_rows
        self._lock = threading.Lock()  # guards the buffer (held briefly, on the request path)
        self._flush_lock = threading.Lock()  # one flush at a time; held while rows are in flight
        self._pending: list[tuple[str, str, list[tuple]]] = []  # (team, recommendation_id, rows), oldest first
        self._by_id: dict[tuple[str, str], list[tuple]] = {}
        self._rows = 0
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._closed = False
        self._thread = threading.Thread(target=self._run, name="teamrec-impressions-flush", daemon=True)
        self._thread.start()

    # -- writes ---------------------------------------------------------------------------

    def log_impressions(self, team: str, impressions: Rows) -> int:
        """Check the rows, buffer them and return (written synchronously when the buffer is full)."""
        rows = _prepare(team, impressions, IMPRESSION_LOG_COLUMNS, "impressions")
        if not rows:
            return 0
        keys = [(r[_RID], r[_ITEM]) for r in rows]
        if len(set(keys)) != len(keys):
            raise DataError("an item is logged twice for one recommendation", file="impressions", field="item")
        with self._lock:
            if self._closed:
                raise RuntimeError("the feedback log is closed")
            full = self._rows + len(rows) > self.max_rows
            if not full:
                self._buffer(team, rows)
                if self._rows >= self.flush_rows:
                    self._wake.set()
                return len(rows)
        log.warning("impression buffer full (%d rows): writing %d row(s) on the request path", self._rows, len(rows))
        return self.backend.log_impressions(team, _columns(rows))

    def _buffer(self, team: str, rows: list[tuple]) -> None:
        """Add rows (one call's) to the buffer, under ``self._lock``; several ids split per id."""
        by_rid: dict[str, list[tuple]] = {}
        for row in rows:
            by_rid.setdefault(row[_RID], []).append(row)
        for rid, group in by_rid.items():
            known = self._by_id.get((team, rid))
            if known is not None and {r[_ITEM] for r in known} & {r[_ITEM] for r in group}:
                raise DataError("an item is logged twice for one recommendation", file="impressions", field="item")
        for rid, group in by_rid.items():
            self._pending.append((team, rid, group))
            self._by_id.setdefault((team, rid), []).extend(group)
        self._rows += len(rows)

    def log_feedback(self, team: str, feedback: Rows) -> int:
        """Synchronous and durable; the recommendations it is about are flushed first."""
        ids = feedback["recommendation_id"] if isinstance(feedback, pd.DataFrame) else feedback.get("recommendation_id")
        ids = [ids] if isinstance(ids, str) or ids is None else list(ids)
        with self._lock:
            buffered = any((team, str(rid)) in self._by_id for rid in ids)
        if buffered:
            self.flush()
        return self.backend.log_feedback(team, feedback)

    def flush(self) -> int:
        """Write every buffered row now (one call per team); returns the rows written. A backend
        failure is raised here (the rows stay buffered for the next try)."""
        with self._flush_lock:
            return self._flush_locked()

    def _flush_locked(self) -> int:
        with self._lock:
            batch = list(self._pending)
        if not batch:
            return 0
        per_team: dict[str, list[tuple]] = {}
        for team, _, rows in batch:
            per_team.setdefault(team, []).extend(rows)
        written: set[int] = set()  # indexes into batch, done (stored or refused for good)
        refused: set[int] = set()
        try:
            for team, rows in per_team.items():
                try:
                    self.backend.log_impressions(team, _columns(rows))
                except DataError:
                    self._write_one_by_one(team, batch, written, refused)
                else:
                    written.update(i for i, entry in enumerate(batch) if entry[0] == team)
        finally:
            self._forget(batch, written)
        return sum(len(batch[i][2]) for i in written - refused)

    def _write_one_by_one(self, team: str, batch: list[tuple[str, str, list[tuple]]], written: set[int],
                          refused: set[int]) -> None:
        """The team's batch was refused as data: write it request by request, leaving out (and
        logging) only the refused ones; other errors propagate (those rows are retried)."""
        for i, (t, rid, rows) in enumerate(batch):
            if t != team:
                continue
            try:
                self.backend.log_impressions(team, _columns(rows))
            except DataError as exc:
                log.error("impressions of recommendation %r (team %r) refused by the log, not stored: %s",
                          rid, team, exc)
                refused.add(i)
            written.add(i)

    def _forget(self, batch: list[tuple[str, str, list[tuple]]], written: set[int]) -> None:
        """Take the written entries (the first ``len(batch)`` pending, some of them) out of the buffer."""
        if not written:
            return
        with self._lock:
            head = self._pending[: len(batch)]
            self._pending = [entry for i, entry in enumerate(head) if i not in written] + self._pending[len(batch):]
            for i in written:
                team, rid, rows = batch[i]
                left = [r for r in self._by_id.get((team, rid), []) if all(r is not w for w in rows)]
                if left:
                    self._by_id[(team, rid)] = left
                else:
                    self._by_id.pop((team, rid), None)
                self._rows -= len(rows)

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self.flush_ms / 1000.0)
            self._wake.clear()
            if self._stop.is_set():
                return
            try:
                self.flush()
            except Exception:  # logged and retried on the next flush; the rows stay buffered
                log.warning("writing %d buffered impression row(s) failed; retrying in %g ms", self.buffered_rows,
                            self.flush_ms, exc_info=True)

    @property
    def buffered_rows(self) -> int:
        """Rows waiting to be written."""
        with self._lock:
            return self._rows

    # -- reads ----------------------------------------------------------------------------

    def find(self, team: str, recommendation_id: str) -> pd.DataFrame:
        """A recommendation's impressions: from the buffer while it is there, else the backend."""
        with self._lock:
            rows = list(self._by_id.get((team, str(recommendation_id)), []))
        if not rows:
            return self.backend.find(team, recommendation_id)
        rows.sort(key=lambda r: r[_POSITION])
        return _finish(pd.DataFrame.from_records(rows, columns=list(IMPRESSION_LOG_COLUMNS)), IMPRESSION_LOG_COLUMNS)

    def impressions(self, team: str, experiment: str | None = None) -> pd.DataFrame:
        self.flush()
        return self.backend.impressions(team, experiment)

    def feedback(self, team: str, experiment: str | None = None) -> pd.DataFrame:
        self.flush()
        return self.backend.feedback(team, experiment)

    def running_fingerprint(self, name: str) -> str | None:
        return self.backend.running_fingerprint(name)

    def record_fingerprint(self, name: str, fingerprint: str) -> str:
        return self.backend.record_fingerprint(name, fingerprint)

    def close(self) -> None:
        """Stop the thread, write what is left, close the backend (a failed last write is raised)."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
        self._stop.set()
        self._wake.set()
        self._thread.join()
        try:
            self.flush()
        except Exception:
            log.error("closing the feedback log: %d buffered impression row(s) could not be written",
                      self.buffered_rows)
            raise
        finally:
            self.backend.close()

    def __repr__(self) -> str:
        return f"BufferedFeedbackLog({self.backend!r}, flush_ms={self.flush_ms:g})"


def _columns(rows: list[tuple]) -> dict[str, list]:
    """Stored rows back as the column -> list mapping the logs take."""
    return {c: [r[i] for r in rows] for i, c in enumerate(IMPRESSION_LOG_COLUMNS)}

