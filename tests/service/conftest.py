"""Service fixtures: apps built per case from settings, the demo team plus a small second team,
keys for each scope, and a real uvicorn server in a thread for the browser and the
concurrency tests."""

from __future__ import annotations

import threading
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pandas as pd
import pytest

from teamrec.data.dataset import Dataset
from teamrec.service import Settings, create_app
from teamrec.store import MemoryEventStore

with warnings.catch_warnings():
    # Starlette suggests httpx2 for its test client; httpx is what is installed.
    warnings.filterwarnings("ignore", message=".*starlette.testclient.*")
    from fastapi.testclient import TestClient

KEYS = {
    "demo-read": "demo-read-key-0123456789",
    "demo-write": "demo-write-key-0123456789",
    "demo-admin": "demo-admin-key-0123456789",
    "globex-admin": "globex-admin-key-0123456789",
}
AUTH = {name: {"X-API-Key": key} for name, key in KEYS.items()}


def globex_dataset() -> Dataset:
    """A second, tiny team with a private channel: the data a demo key must never reach."""
    members = {
        "G1": ("general", ["g1", "g2", "g3", "g4"], False),
        "G2": ("widgets", ["g1", "g2", "g3"], False),
        "G3": ("gadgets", ["g2", "g3", "g4"], False),
        "G9": ("globex-secret-board", ["g1", "g2"], True),
    }
    rows = [(u, c) for c, (_, people, _) in members.items() for u in people]
    events = pd.DataFrame({"team": "globex", "user": [u for u, _ in rows], "item": [c for _, c in rows],
                           "kind": "member", "value": 1.0, "timestamp": 1.7e9})
    items = pd.DataFrame({"team": "globex", "item": list(members), "name": [m[0] for m in members.values()],
                          "description": "", "private": [m[2] for m in members.values()], "archived": False})
    users = pd.DataFrame({"team": "globex", "user": ["g1", "g2", "g3", "g4"],
                          "name": ["Gina One", "Gil Two", "Gus Three", "Gwen Four"]})
    return Dataset(events=events, items=items, users=users, info={"format": "csv"})


@pytest.fixture(scope="session")
def globex_dir(tmp_path_factory) -> Path:
    return globex_dataset().save(tmp_path_factory.mktemp("globex") / "globex")


def make_settings(globex_dir: Path, **changes) -> Settings:
    base = {
        "mode": "production",
        "database": "memory:",
        "teams": {
            "demo": {"format": "demo"},
            "globex": {"source": str(globex_dir), "matrix": {"kinds": ["member"], "binary": True}},
        },
        "keys": [
            {"team": "demo", "key": KEYS["demo-read"], "scopes": ["read"]},
            {"team": "demo", "key": KEYS["demo-write"], "scopes": ["write"]},
            {"team": "demo", "key": KEYS["demo-admin"], "scopes": ["admin"]},
            {"team": "globex", "key": KEYS["globex-admin"], "scopes": ["admin"]},
        ],
    }
    base.update(changes)
    return Settings.model_validate(base)


@pytest.fixture(scope="module")
def read_client(globex_dir) -> Iterator[TestClient]:
    """One app for tests that only read (built once per module)."""
    app = create_app(make_settings(globex_dir), store=MemoryEventStore())
    with TestClient(app) as client:
        yield client


@pytest.fixture
def store() -> MemoryEventStore:
    return MemoryEventStore()


@pytest.fixture
def client(globex_dir, store) -> Iterator[TestClient]:
    """A fresh app per test, for tests that write or retrain."""
    app = create_app(make_settings(globex_dir), store=store)
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client


@contextmanager
def live_server(app, *, timeout: float = 60.0) -> Iterator[str]:
    """Serve ``app`` with uvicorn on a free loopback port in a thread; yields the base URL."""
    import uvicorn

    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning",
                                           access_log=False, lifespan="on"))
    thread = threading.Thread(target=server.run, name="live-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + timeout
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the live server did not start")
        time.sleep(0.02)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
