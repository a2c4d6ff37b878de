"""The event store's contract: where events ingested through the API are kept durably.

A store holds events in the project's one schema (:mod:`teamrec.data.events`) and offers
what the service needs, nothing more::

    append(team, events, batch_id=None) -> AppendResult   all or nothing, durable on return
    events(team) -> DataFrame                             every event of a team, oldest first
    since(team, sequence=0) -> (DataFrame, int)           the team's events stored after a
                                                          store-wide sequence number, and the
                                                          new high-water sequence
    count(team=None) -> int
    teams() -> list[str]
    close()

Backends: :class:`~teamrec.store.sqlite.SQLiteEventStore` (the embedded default) and
:class:`~teamrec.store.memory.MemoryEventStore` (its in-memory twin, run by the same test
class). :func:`open_store` picks one from a URL, which is where a PostgreSQL store plugs in.

``batch_id`` makes a retried request harmless: a batch whose id the team has already stored
is not stored again (``AppendResult.duplicate`` says so).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, runtime_checkable

import pandas as pd

from teamrec.data.events import check_event_rules
from teamrec.errors import ConfigError, DataError


@dataclass(frozen=True)
class AppendResult:
    """What :meth:`EventStore.append` did: how many events it stored, and the team's total."""

    stored: int
    total: int
    duplicate: bool = False


@runtime_checkable
class EventStore(Protocol):
    """Durable, per-team, append-only storage of events."""

    def append(self, team: str, events: pd.DataFrame, *, batch_id: str | None = None) -> AppendResult:
        """Store ``events`` for ``team`` in one transaction: all of them, or none."""
        ...

    def events(self, team: str) -> pd.DataFrame:
        """Every stored event of ``team``, in the order they were stored."""
        ...

    def since(self, team: str, sequence: int = 0) -> tuple[pd.DataFrame, int]:
        """``team``'s events stored after store-wide sequence number ``sequence`` (oldest first,
        the columns of :meth:`events`) and the new high-water sequence: the largest sequence
        returned, or ``sequence`` itself when there is nothing newer.

        The sequence is one integer for the whole store that grows with every stored event
        (SQLite's rowid, a PostgreSQL bigserial), so a reader keeps one number per team and
        asks only for what is new: the online updater's incremental read.
        """
        ...

    def count(self, team: str | None = None) -> int:
        """How many events ``team`` (or every team) has stored."""
        ...

    def teams(self) -> list[str]:
        """The teams with stored events, sorted."""
        ...

    def close(self) -> None:
        """Release the store's resources."""
        ...


def prepare(team: str, events: pd.DataFrame) -> pd.DataFrame:
    """Check a batch against the event rules (:func:`~teamrec.data.events.check_event_rules`)
    and give every row ``team`` (a batch never writes another team's rows).

    Raises :class:`DataError` for a malformed batch, a row breaking a rule or naming a
    different team.
    """
    if not team:
        raise DataError("events need a team", field="team")
    frame = events.copy()
    if "team" in frame.columns:
        other = frame["team"].notna() & (frame["team"].astype(str) != team)
        if other.any():
            row = int(other.to_numpy().nonzero()[0][0])
            raise DataError(f"event for another team ({frame['team'].iloc[row]!r})", line=row + 2, field="team")
    frame["team"] = team
    return check_event_rules(frame, source="<batch>")


def open_store(url: str | os.PathLike[str]) -> EventStore:
    """The store a URL names.

    * ``memory:`` -- in memory, gone with the process (tests, throwaway demos);
    * ``sqlite:///path/to/file.sqlite3`` or a plain path -- SQLite, the embedded default;
    * ``postgresql://...`` -- PostgreSQL, shared by several processes (extra ``teamrec[postgres]``).
    """
    text = os.fspath(url)
    if text in ("memory:", ":memory:", "memory://"):
        from teamrec.store.memory import MemoryEventStore

        return MemoryEventStore()
    if text.startswith(("postgres://", "postgresql://")):
        from teamrec.store.postgres import PostgresEventStore

        return PostgresEventStore(text)
    if "://" in text and not text.startswith("sqlite://"):
        raise ConfigError(f"unknown event store URL {text!r}: use a SQLite path, sqlite:///PATH or memory:")
    path = text.removeprefix("sqlite:///") if text.startswith("sqlite:///") else text.removeprefix("sqlite://")
    from teamrec.store.sqlite import SQLiteEventStore

    return SQLiteEventStore(Path(path))
