"""Online updates: an accepted event changes that person's recommendations at once.

Between two fits of a team's model, :class:`FreshEvents` holds the events stored after the
snapshot was built (read incrementally from the event store with ``since(sequence)``, starting
at the snapshot's own sequence number), grouped by person. At request time the person's fresh
row is their stored matrix row with those events folded in
(:func:`teamrec.data.matrix.fold_events`) and is scored by the algorithm through
``user_items`` -- every algorithm supports it -- so a person the model has never seen gets
personal recommendations after their first events, not popularity. A ``leave`` or ``dismiss``
hides the item from that person at once.

Events stored by another process sharing the store (PostgreSQL) reach this one's answers
within ``[online] catch_up_seconds``: a request first reads what was stored after the
snapshot's sequence when the last read is older than that (:meth:`FreshEvents.catch_up_within`,
an indexed incremental read, never the whole team).

In the background the :class:`Refresher` swaps in a new snapshot once ``refit_events`` events
have arrived or ``refit_seconds`` have passed with some pending: an incremental one
(:meth:`ModelRegistry.refresh`: the matrix extended append-only, the algorithm's ``update``),
and a full retrain through the one team builder every ``retrain_seconds``. A new snapshot
starts with an empty :class:`FreshEvents` at its own sequence.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import scipy.sparse as sp

from teamrec.data.matrix import MatrixConfig, fold_events
from teamrec.store.base import EventStore

if TYPE_CHECKING:
    from teamrec.recommender import TeamModel
    from teamrec.service.registry import ModelRegistry

log = logging.getLogger(__name__)


class FreshEvents:
    """The events a snapshot has not seen yet, per person (thread-safe)."""

    def __init__(self, team: str, sequence: int, config: MatrixConfig | None) -> None:
        self.team = team
        self.sequence = sequence
        self.config = config
        self.count = 0
        #: When :meth:`catch_up` last read the store (``time.monotonic()``).
        self.read_at = float("-inf")
        self._by_user: dict[str, list[pd.DataFrame]] = {}
        self._lock = threading.Lock()

    def catch_up(self, store: EventStore) -> int:
        """Read what the store has after :attr:`sequence`; returns how many events were new.
        A snapshot without matrix settings (a model loaded without its source) has nothing to
        fold events into: it reads nothing."""
        if self.config is None:
            return 0
        with self._lock:
            read_at = time.monotonic()
            events, top = store.since(self.team, self.sequence)
            self.sequence = top
            self.read_at = read_at
            if events.empty:
                return 0
            for user, part in events.groupby("user", sort=False):
                self._by_user.setdefault(str(user), []).append(part)
            self.count += len(events)
            return len(events)

    def catch_up_within(self, store: EventStore, seconds: float) -> int:
        """:meth:`catch_up` when the last read is older than ``seconds`` (0: every call).

        This is how events stored by *another* process (a shared PostgreSQL store) reach this
        one's answers: a request reads only what was stored after :attr:`sequence` (an indexed
        incremental read, never the whole team), at most once per ``seconds``; while one
        thread reads, the others answer from what is already here rather than queue."""
        if time.monotonic() - self.read_at < seconds:
            return 0
        if not self._lock.acquire(blocking=False):  # another request is reading right now
            return 0
        self._lock.release()  # catch_up takes it again; a second reader in between only re-reads
        return self.catch_up(store)

    def of(self, user: str) -> pd.DataFrame | None:
        """``user``'s fresh events, oldest first (None: none).

        The parts read since the last call are merged once and kept merged, so a person asking
        again and again between two fits costs one concatenation per new batch of events, not
        one per request (the frame is the same either way)."""
        with self._lock:
            parts = self._by_user.get(user)
            if not parts:
                return None
            if len(parts) > 1:
                parts[:] = [pd.concat(parts, ignore_index=True)]
            return parts[0]

    def row(self, model: TeamModel, user: str) -> tuple[sp.csr_matrix | None, np.ndarray | None]:
        """``user``'s fresh row (1 x n_items, None when nothing new applies) and the items
        their fresh events hide from them (None: none)."""
        if self.config is None:
            return None, None
        events = self.of(user)
        if events is None:
            return None, None
        data = model.data
        u = data.users.get(user)
        stored = np.zeros(data.n_items) if u is None else data.matrix[u].toarray().ravel()
        row, hide = fold_events(self.config, stored, events, data.items)
        return sp.csr_matrix(row[None, :]), (hide if hide.any() else None)


class Refresher:
    """Swaps in a new snapshot in the background after ``refit_events`` fresh events or
    ``refit_seconds`` (with any pending), and a full retrain every ``retrain_seconds``."""

    def __init__(
        self,
        registry: ModelRegistry,
        *,
        refit_events: int,
        refit_seconds: float | None,
        retrain_seconds: float | None,
    ) -> None:
        self.registry = registry
        self.refit_events = refit_events
        self.refit_seconds = refit_seconds
        self.retrain_seconds = retrain_seconds
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._running: set[str] = set()
        self._lock = threading.Lock()
        self._full_at: dict[str, float] = {}  # when each team was last retrained in full

    def after_ingest(self, team: str, pending: int) -> None:
        """Called after events are accepted: start a background refit when enough wait."""
        if self.refit_events and pending >= self.refit_events:
            self.refit_async(team)

    def refit_async(self, team: str, *, full: bool = False) -> bool:
        """Start a background refresh of ``team`` unless one runs (incremental; ``full``: a
        retrain from the source); whether one was started."""
        with self._lock:
            if team in self._running:
                return False
            self._running.add(team)

        def run() -> None:
            try:
                (self.registry.retrain if full else self.registry.refresh)(team)
                if full:
                    self._full_at[team] = time.time()
            except Exception:
                log.exception("background refit of team %s failed", team)
            finally:
                with self._lock:
                    self._running.discard(team)

        threading.Thread(target=run, name=f"refit-{team}", daemon=True).start()
        return True

    def start(self) -> None:
        """Run the timer thread (only when a time-based refit or retrain is configured)."""
        if not (self.refit_seconds or self.retrain_seconds) or self._thread is not None:
            return
        self._thread = threading.Thread(target=self._loop, name="teamrec-refresher", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def _loop(self) -> None:
        tick = min(x for x in (self.refit_seconds, self.retrain_seconds) if x)
        while not self._stop.wait(min(tick, 1.0)):
            now = time.time()
            for team in self.registry.names():
                if team not in self.registry.settings.teams:  # a batch team: the next batch refits it
                    continue
                state = self.registry.get(team)
                age = now - state.trained_at
                state.fresh.catch_up(self.registry.store)
                pending = state.fresh.count
                full_age = now - self._full_at.setdefault(team, state.trained_at)
                if self.retrain_seconds and full_age >= self.retrain_seconds:
                    self.refit_async(team, full=True)
                elif self.refit_seconds and pending and age >= self.refit_seconds:
                    self.refit_async(team)
