"""The event store contract against a real PostgreSQL server (started by conftest.py), then
what only a shared store does: migrations, incremental reads, several processes at once."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from teamrec.errors import ConfigError, DataError
from teamrec.store import open_store
from teamrec.store._pg_migrations import MIGRATIONS
from teamrec.store.postgres import PostgresEventStore


def _load_contract():
    """The contract class of test_store.py (tests are not a package: load it by path)."""
    spec = importlib.util.spec_from_file_location("_teamrec_store_contract", Path(__file__).with_name("test_store.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.StoreContract, module.batch


StoreContract, batch = _load_contract()


class TestPostgresStore(StoreContract):
    @pytest.fixture
    def store(self, postgres_url):
        store = PostgresEventStore(postgres_url)
        yield store
        store.close()


@pytest.fixture
def store(postgres_url):
    store = PostgresEventStore(postgres_url)
    yield store
    store.close()


def test_open_store_names_postgres(postgres_url):
    store = open_store(postgres_url)
    assert isinstance(store, PostgresEventStore)
    assert "PostgresEventStore" in repr(store)
    store.close()


def test_an_unreachable_server_is_a_config_error(postgres_server):
    from teamrec.store.pg_local import free_port

    with pytest.raises(ConfigError, match="PostgreSQL"):
        PostgresEventStore(f"postgresql://nobody:secret@127.0.0.1:{free_port()}/x", timeout=2)


def test_migrations_are_numbered_recorded_and_applied_once(postgres_url):
    first = PostgresEventStore(postgres_url)
    assert first.migrations_applied == sorted(MIGRATIONS) == list(range(1, len(MIGRATIONS) + 1))
    assert first.schema_version == max(MIGRATIONS)
    first.append("acme", batch(2), batch_id="x")
    first.close()
    again = PostgresEventStore(postgres_url)
    assert again.migrations_applied == []
    assert again.count("acme") == 2 and again.append("acme", batch(2), batch_id="x").duplicate
    again.close()


def test_concurrent_openers_migrate_once(postgres_url):
    applied: list[list[int]] = []
    errors: list[BaseException] = []

    def open_one():
        try:
            s = PostgresEventStore(postgres_url)
            applied.append(s.migrations_applied)
            s.close()
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=open_one) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert sorted(n for a in applied for n in a) == sorted(MIGRATIONS)


def test_a_failing_row_rolls_the_whole_batch_back(store, monkeypatch):
    store.append("acme", batch(2))
    frame = batch(3, start=10)
    frame.loc[2, "user"] = ""  # the event rules refuse it; without them the table's CHECK does
    from teamrec.data.events import normalize_events
    from teamrec.store import postgres as pg_store

    monkeypatch.setattr(pg_store, "prepare", lambda team, ev: normalize_events(ev.assign(team=team)))
    with pytest.raises(DataError, match="not stored"):
        store.append("acme", frame, batch_id="half")
    assert store.count("acme") == 2
    monkeypatch.undo()
    assert store.append("acme", batch(3, start=10), batch_id="half").stored == 3


def test_text_and_floats_round_trip_exactly(store):
    awkward = ["NA", "a,b", 'say "hi"', "line\nbreak", "tab\there", "back\\slash", "ünïcødé", "null", " x "]
    values = np.array([0.1, 1 / 3, 1e-300, -2.5e8 - 1 / 7, 123456789.123456789, 0.0, -0.0, 7.0, 2**-52])
    frame = pd.DataFrame(
        {"user": awkward, "item": awkward[::-1], "kind": "read", "value": values,
         "timestamp": [np.nan, 1.7e9 + 0.123456, *([np.nan] * 7)]}
    )
    store.append("acme", frame)
    back = store.events("acme")
    assert back["user"].tolist() == awkward and back["item"].tolist() == awkward[::-1]
    assert np.array_equal(back["value"].to_numpy(), values)
    assert np.isnan(back["timestamp"].iloc[0]) and back["timestamp"].iloc[1] == 1.7e9 + 0.123456


# -- since(): the incremental read --------------------------------------------------------
def test_since_reads_only_what_is_new(store):
    frame, seq = store.since("acme")
    assert len(frame) == 0 and seq == 0 and list(frame.columns) == list(store.events("acme").columns)
    store.append("acme", batch(3))
    first, seq1 = store.since("acme", 0)
    assert first["user"].tolist() == ["u0", "u1", "u2"] and seq1 > 0
    store.append("globex", batch(2, user="g"))
    store.append("acme", batch(2, start=3))
    second, seq2 = store.since("acme", seq1)
    assert second["user"].tolist() == ["u3", "u4"] and seq2 > seq1
    assert (second["team"] == "acme").all()
    none, seq3 = store.since("acme", seq2)
    assert len(none) == 0 and seq3 == seq2
    # Reading from 0 is the whole team, identical to events().
    everything, _ = store.since("acme")
    pd.testing.assert_frame_equal(everything, store.events("acme"))


def test_since_never_skips_an_event_under_concurrent_writers(store):
    """A reader polling since() while four threads append collects every event exactly once."""
    done = threading.Event()

    def write(t):
        for j in range(15):
            store.append("acme", batch(4, user=f"t{t}-{j}-"))

    threads = [threading.Thread(target=write, args=(t,)) for t in range(4)]
    for t in threads:
        t.start()
    seen: list[str] = []
    seq = 0

    def read():
        nonlocal seq
        while not done.is_set():
            frame, seq = store.since("acme", seq)
            seen.extend(frame["user"])
            time.sleep(0.002)

    reader = threading.Thread(target=read)
    reader.start()
    for t in threads:
        t.join()
    done.set()
    reader.join()
    frame, seq = store.since("acme", seq)
    seen.extend(frame["user"])
    assert len(seen) == len(set(seen)) == 4 * 15 * 4


# -- several processes --------------------------------------------------------------------
_WORKER = textwrap.dedent(
    """
    import json, os, sys, time
    import pandas as pd
    from teamrec.store.postgres import PostgresEventStore
    url, go, name = sys.argv[1:4]
    store = PostgresEventStore(url)
    frame = pd.DataFrame({"user": [f"u{i}" for i in range(500)], "item": "c", "kind": "member", "value": 1.0,
                          "timestamp": 1.7e9})
    while not os.path.exists(go):
        time.sleep(0.001)
    result = store.append("acme", frame, batch_id="retried-batch")
    print(json.dumps({"stored": result.stored, "duplicate": result.duplicate, "total": result.total}))
    store.close()
    """
)


def test_a_batch_sent_to_two_processes_at_once_is_stored_once(postgres_url, tmp_path):
    PostgresEventStore(postgres_url).close()  # schema in place before the race
    go = tmp_path / "go"
    procs = [
        subprocess.Popen([sys.executable, "-c", _WORKER, postgres_url, str(go), str(n)],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for n in range(2)
    ]
    time.sleep(1.0)  # both are connected and waiting
    go.touch()
    results = []
    for p in procs:
        out, err = p.communicate(timeout=120)
        assert p.returncode == 0, err
        results.append(json.loads(out))
    assert sorted(r["duplicate"] for r in results) == [False, True]
    assert sorted(r["stored"] for r in results) == [0, 500]
    assert all(r["total"] == 500 for r in results)
    store = PostgresEventStore(postgres_url)
    assert store.count("acme") == 500
    store.close()


def test_a_second_process_sees_committed_events_through_since(postgres_url):
    writer, reader = PostgresEventStore(postgres_url), PostgresEventStore(postgres_url)
    _, seq = reader.since("acme")
    writer.append("acme", batch(3))
    frame, seq = reader.since("acme", seq)
    assert len(frame) == 3
    writer.close()
    reader.close()
