"""The event store contract, run against SQLite and its in-memory twin; then what only SQLite
does (files, migrations, durability across reopen, concurrent writers)."""

from __future__ import annotations

import sqlite3
import threading

import numpy as np
import pandas as pd
import pytest

from teamrec.data.events import EVENT_COLUMNS
from teamrec.errors import ConfigError, DataError
from teamrec.store import EventStore, MemoryEventStore, SQLiteEventStore, open_store
from teamrec.store._migrations import MIGRATIONS


def batch(n: int, *, user: str = "u", start: int = 0, **extra) -> pd.DataFrame:
    frame = pd.DataFrame(
        {
            "user": [f"{user}{i}" for i in range(start, start + n)],
            "item": [f"c{i % 3}" for i in range(start, start + n)],
            "kind": "member",
            "value": 1.0,
            "timestamp": [1.7e9 + i for i in range(start, start + n)],
        }
    )
    for key, value in extra.items():
        frame[key] = value
    return frame


class StoreContract:
    """What every :class:`EventStore` does; subclasses give ``store``."""

    @pytest.fixture
    def store(self, tmp_path) -> EventStore:  # pragma: no cover - overridden
        raise NotImplementedError

    def test_is_an_event_store(self, store):
        assert isinstance(store, EventStore)

    def test_empty(self, store):
        assert store.count() == 0
        assert store.teams() == []
        events = store.events("acme")
        assert list(events.columns) == list(EVENT_COLUMNS) and len(events) == 0

    def test_append_and_read_back_in_order(self, store):
        first = store.append("acme", batch(3))
        second = store.append("acme", batch(2, start=3))
        assert (first.stored, first.total) == (3, 3)
        assert (second.stored, second.total) == (2, 5)
        events = store.events("acme")
        assert events["user"].tolist() == ["u0", "u1", "u2", "u3", "u4"]
        assert (events["team"] == "acme").all()
        assert events["timestamp"].tolist() == [1.7e9 + i for i in range(5)]
        assert events.dtypes["value"] == np.float64

    def test_teams_are_kept_apart(self, store):
        store.append("acme", batch(3))
        store.append("globex", batch(1, user="g"))
        assert store.teams() == ["acme", "globex"]
        assert store.count("acme") == 3 and store.count("globex") == 1 and store.count() == 4
        assert store.events("globex")["user"].tolist() == ["g0"]
        assert set(store.events("acme")["user"]) == {"u0", "u1", "u2"}

    def test_a_row_for_another_team_refuses_the_whole_batch(self, store):
        frame = batch(3)
        frame["team"] = ["acme", "globex", "acme"]
        with pytest.raises(DataError, match="another team"):
            store.append("acme", frame)
        assert store.count() == 0

    def test_missing_timestamp_is_nan(self, store):
        store.append("acme", batch(2).drop(columns="timestamp").assign(timestamp=np.nan))
        assert store.events("acme")["timestamp"].isna().all()

    def test_bad_values_store_nothing(self, store):
        frame = batch(3)
        frame.loc[2, "value"] = np.inf
        with pytest.raises(DataError, match="value"):
            store.append("acme", frame)
        frame = batch(3)
        frame.loc[1, "item"] = None
        with pytest.raises(DataError, match="item"):
            store.append("acme", frame)
        assert store.count("acme") == 0

    def test_a_batch_id_is_stored_once(self, store):
        assert store.append("acme", batch(2), batch_id="b-1").stored == 2
        again = store.append("acme", batch(2), batch_id="b-1")
        assert again.duplicate and again.stored == 0 and again.total == 2
        # The same id is another batch in another team.
        assert store.append("globex", batch(2), batch_id="b-1").stored == 2
        assert store.count() == 4

    def test_concurrent_appends_all_land(self, store):
        def write(t):
            for j in range(10):
                store.append("acme", batch(5, user=f"t{t}-{j}-"))

        threads = [threading.Thread(target=write, args=(t,)) for t in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert store.count("acme") == 4 * 10 * 5


class TestMemoryStore(StoreContract):
    @pytest.fixture
    def store(self, tmp_path):
        return MemoryEventStore()


class TestSQLiteStore(StoreContract):
    @pytest.fixture
    def store(self, tmp_path):
        store = SQLiteEventStore(tmp_path / "events.sqlite3")
        yield store
        store.close()

    def test_events_survive_a_reopen(self, tmp_path):
        path = tmp_path / "events.sqlite3"
        store = SQLiteEventStore(path)
        store.append("acme", batch(4), batch_id="x")
        store.close()
        again = SQLiteEventStore(path)
        assert again.count("acme") == 4
        assert again.append("acme", batch(4), batch_id="x").duplicate
        assert again.migrations_applied == []  # nothing to migrate the second time
        again.close()

    def test_migrations_are_numbered_and_recorded(self, tmp_path):
        store = SQLiteEventStore(tmp_path / "events.sqlite3")
        assert store.migrations_applied == sorted(MIGRATIONS) == list(range(1, len(MIGRATIONS) + 1))
        assert store.schema_version == max(MIGRATIONS)
        store.close()
        conn = sqlite3.connect(tmp_path / "events.sqlite3")
        rows = conn.execute("SELECT version, name FROM schema_migrations ORDER BY version").fetchall()
        assert rows == [(n, MIGRATIONS[n][0]) for n in sorted(MIGRATIONS)]
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        conn.close()

    def test_an_older_database_is_migrated_forward(self, tmp_path):
        path = tmp_path / "old.sqlite3"
        conn = sqlite3.connect(path, isolation_level=None)
        from teamrec.store import _migrations

        _migrations.applied(conn)
        name, first = MIGRATIONS[1]
        first(conn)
        conn.execute("INSERT INTO schema_migrations VALUES (1, ?, 0)", (name,))
        conn.execute(
            "INSERT INTO events (team, user, item, kind, value, timestamp, received_at) "
            "VALUES ('acme', 'u', 'c', 'member', 1, NULL, 0)"
        )
        conn.close()
        store = SQLiteEventStore(path)
        assert store.migrations_applied == [n for n in sorted(MIGRATIONS) if n > 1]
        assert store.count("acme") == 1
        store.append("acme", batch(1), batch_id="new")
        assert store.count("acme") == 2
        store.close()

    def test_a_failing_row_rolls_the_whole_batch_back(self, store):
        store.append("acme", batch(2))
        frame = batch(3, start=10)
        frame.loc[2, "user"] = ""  # passes the frame checks, refused by the table's CHECK
        with pytest.raises(DataError, match="not stored"):
            store.append("acme", frame, batch_id="half")
        assert store.count("acme") == 2
        # The failed batch's id was not kept either: a corrected retry goes through.
        assert store.append("acme", batch(3, start=10), batch_id="half").stored == 3

    def test_a_second_process_sees_committed_events(self, tmp_path):
        path = tmp_path / "events.sqlite3"
        writer = SQLiteEventStore(path)
        reader = SQLiteEventStore(path)
        writer.append("acme", batch(3))
        assert reader.count("acme") == 3
        writer.close()
        reader.close()

    def test_not_a_database(self, tmp_path):
        path = tmp_path / "junk.sqlite3"
        path.write_bytes(b"this is not sqlite" * 100)
        with pytest.raises(DataError, match="SQLite"):
            SQLiteEventStore(path)


@pytest.mark.parametrize("url", ["memory:", ":memory:"])
def test_open_memory(url):
    assert isinstance(open_store(url), MemoryEventStore)


def test_open_sqlite_paths(tmp_path):
    for url in (tmp_path / "a.sqlite3", f"sqlite:///{tmp_path / 'b.sqlite3'}", str(tmp_path / "sub" / "c.db")):
        store = open_store(url)
        assert isinstance(store, SQLiteEventStore) and store.path.exists()
        store.close()


@pytest.mark.parametrize("url", ["postgresql://db/teamrec", "mysql://x"])
def test_open_other_urls(url):
    with pytest.raises(ConfigError):
        open_store(url)
