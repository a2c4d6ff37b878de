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

    # -- the incremental read (issue 10): since(team, sequence) -------------------------------
    def test_since_zero_reads_everything_with_the_high_water_mark(self, store):
        store.append("acme", batch(3))
        events, seq = store.since("acme")
        assert events["user"].tolist() == ["u0", "u1", "u2"]
        assert list(events.columns) == list(EVENT_COLUMNS)
        assert seq > 0
        assert events.equals(store.events("acme"))

    def test_since_reads_only_what_is_new_oldest_first(self, store):
        store.append("acme", batch(2))
        _, seq = store.since("acme")
        store.append("acme", batch(3, start=2))
        events, newer = store.since("acme", seq)
        assert events["user"].tolist() == ["u2", "u3", "u4"]
        assert newer > seq
        assert events.dtypes["value"] == np.float64 and events.dtypes["timestamp"] == np.float64

    def test_since_with_nothing_new_returns_the_same_sequence(self, store):
        empty, seq = store.since("acme", 7)
        assert len(empty) == 0 and seq == 7 and list(empty.columns) == list(EVENT_COLUMNS)
        store.append("acme", batch(2))
        _, top = store.since("acme")
        again, same = store.since("acme", top)
        assert len(again) == 0 and same == top

    def test_since_is_one_sequence_for_the_whole_store(self, store):
        store.append("acme", batch(2))
        _, acme_top = store.since("acme")
        store.append("globex", batch(2, user="g"))
        store.append("acme", batch(1, start=2))
        globex, globex_top = store.since("globex")
        assert globex["user"].tolist() == ["g0", "g1"] and (globex["team"] == "globex").all()
        assert globex_top > acme_top  # later in the store, whatever the team
        acme, top = store.since("acme", acme_top)
        assert acme["user"].tolist() == ["u2"] and top > globex_top
        # A sequence taken from another team's read is valid too: only newer events come back.
        assert store.since("acme", globex_top)[0]["user"].tolist() == ["u2"]

    def test_since_skips_a_duplicate_batch(self, store):
        store.append("acme", batch(2), batch_id="b")
        _, seq = store.since("acme")
        store.append("acme", batch(2), batch_id="b")
        assert len(store.since("acme", seq)[0]) == 0

    # -- the event rules hold for every writer, not only HTTP ----------------------------------
    @pytest.mark.parametrize(
        "column, value, message",
        [
            ("user", "   ", "blank"),
            ("item", "x" * 300, "longer than 256"),
            ("kind", " ", "blank"),
            ("value", 2e9, "at most 1e.09"),
            ("value", True, "true/false"),
            ("timestamp", -5.0, "between 1970 and 2100"),
            ("timestamp", 5e9, "between 1970 and 2100"),
        ],
    )
    def test_event_rules_refuse_the_batch(self, store, column, value, message):
        frame = batch(3)
        frame[column] = frame[column].astype(object)
        frame.loc[1, column] = value
        with pytest.raises(DataError, match=message) as err:
            store.append("acme", frame)
        assert err.value.field == column and "line 3" in str(err.value)
        assert store.count() == 0


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

    def test_a_failing_row_rolls_the_whole_batch_back(self, store, monkeypatch):
        store.append("acme", batch(2))
        frame = batch(3, start=10)
        frame.loc[2, "user"] = ""  # the event rules refuse it; without them the table's CHECK does
        from teamrec.data.events import normalize_events
        from teamrec.store import sqlite as sqlite_store

        monkeypatch.setattr(sqlite_store, "prepare", lambda team, ev: normalize_events(ev.assign(team=team)))
        with pytest.raises(DataError, match="not stored"):
            store.append("acme", frame, batch_id="half")
        assert store.count("acme") == 2
        monkeypatch.undo()
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
