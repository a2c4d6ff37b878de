"""The in-memory twin of the SQLite store: same contract, same tests, nothing on disk."""

from __future__ import annotations

import threading

import pandas as pd

from teamrec.data.events import empty_events
from teamrec.store.base import AppendResult, prepare


class MemoryEventStore:
    """Events per team in memory (a list of batches), guarded by one lock."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._batches: dict[str, list[pd.DataFrame]] = {}
        self._ids: dict[str, set[str]] = {}
        # The store-wide sequence of each batch's first event, parallel to ``_batches``.
        self._starts: dict[str, list[int]] = {}
        self._sequence = 0

    def append(self, team: str, events: pd.DataFrame, *, batch_id: str | None = None) -> AppendResult:
        frame = prepare(team, events)
        with self._lock:
            if batch_id is not None and batch_id in self._ids.get(team, set()):
                return AppendResult(stored=0, total=self._count(team), duplicate=True)
            if len(frame):
                self._batches.setdefault(team, []).append(frame)
                self._starts.setdefault(team, []).append(self._sequence + 1)
                self._sequence += len(frame)
            if batch_id is not None:
                self._ids.setdefault(team, set()).add(batch_id)
            return AppendResult(stored=len(frame), total=self._count(team))

    def events(self, team: str) -> pd.DataFrame:
        with self._lock:
            batches = list(self._batches.get(team, []))
        if not batches:
            return empty_events()
        return pd.concat(batches, ignore_index=True)

    def since(self, team: str, sequence: int = 0) -> tuple[pd.DataFrame, int]:
        sequence = int(sequence)
        with self._lock:
            pairs = list(zip(self._starts.get(team, []), self._batches.get(team, []), strict=True))
        parts = []
        for start, frame in pairs:
            end = start + len(frame) - 1
            if end > sequence:
                parts.append(frame.iloc[max(0, sequence - start + 1):])
                top = end
        if not parts:
            return empty_events(), sequence
        return pd.concat(parts, ignore_index=True), top

    def _count(self, team: str) -> int:
        return sum(len(b) for b in self._batches.get(team, []))

    def count(self, team: str | None = None) -> int:
        with self._lock:
            if team is not None:
                return self._count(team)
            return sum(self._count(t) for t in self._batches)

    def teams(self) -> list[str]:
        with self._lock:
            return sorted(t for t, b in self._batches.items() if b)

    def close(self) -> None:
        """Nothing to release."""

    def __repr__(self) -> str:
        return "MemoryEventStore()"
