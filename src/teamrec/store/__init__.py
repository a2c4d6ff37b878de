"""The event store: events ingested through the API, kept durably per team.

::

    from teamrec.store import open_store
    store = open_store("events.sqlite3")      # or "memory:"
    store.append("acme", events_frame)        # all or nothing, on disk on return
    store.events("acme")                      # what a retrain adds to the source's events
"""

from teamrec.store.base import AppendResult, EventStore, open_store
from teamrec.store.memory import MemoryEventStore
from teamrec.store.sqlite import SQLiteEventStore

__all__ = ["AppendResult", "EventStore", "MemoryEventStore", "SQLiteEventStore", "open_store"]
