"""Two real service processes (uvicorn, started here) sharing one PostgreSQL database: an
event accepted by one reaches the other's answers within ``[online] catch_up_seconds``, and a
retried batch is stored once whichever process receives it."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pandas as pd
import pytest

from teamrec.data.dataset import Dataset
from teamrec.store.pg_local import free_port

KEY = "acme-admin-key-0123456789"
H = {"X-API-Key": KEY}
T = "/api/v1/teams/acme"
#: No time-based refits: the background timer must not be what carries events across.
ENV = {**os.environ, "PYTHONWARNINGS": "", "TEAMREC_ONLINE__REFIT_SECONDS": "null"}


def _dataset(folder: Path) -> Path:
    members = {"C1": ["u1", "u2", "u3", "u4"], "C2": ["u1", "u2", "u3"], "C3": ["u2", "u3", "u4"], "C4": ["u1"]}
    rows = [(u, c) for c, people in members.items() for u in people]
    events = pd.DataFrame({"team": "acme", "user": [u for u, _ in rows], "item": [c for _, c in rows],
                           "kind": "member", "value": 1.0, "timestamp": 1.7e9})
    items = pd.DataFrame({"team": "acme", "item": list(members), "name": [c.lower() for c in members],
                          "description": "", "private": False, "archived": False})
    users = pd.DataFrame({"team": "acme", "user": ["u1", "u2", "u3", "u4"], "name": ["A", "B", "C", "D"]})
    return Dataset(events=events, items=items, users=users, info={"format": "csv"}).save(folder / "acme")


def _serve(config: Path, port: int, log: Path) -> subprocess.Popen:
    teamrec = Path(sys.executable).with_name("teamrec")
    command = [str(teamrec)] if teamrec.exists() else [sys.executable, "-c", "from teamrec.cli import run; run()"]
    with log.open("wb") as out:  # the child keeps its own copy of the descriptor
        return subprocess.Popen([*command, "serve", "--config", str(config), "--port", str(port), "--no-access-log"],
                                stdout=out, stderr=subprocess.STDOUT, env=ENV)


def _wait_ready(proc: subprocess.Popen, url: str, log: Path, timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"the service exited: {log.read_text()[-2000:]}")
        try:
            if httpx.get(f"{url}{T}/model", headers=H, timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    pytest.fail(f"the service did not start: {log.read_text()[-2000:]}")


@pytest.fixture
def two_services(postgres_url, tmp_path):
    source = _dataset(tmp_path)
    config = tmp_path / "teamrec.toml"
    config.write_text(
        f'database = "{postgres_url}"\n'
        "[online]\nrefit_events = 0\ncatch_up_seconds = 0.2\n"
        f'[teams.acme]\nsource = "{source}"\nmatrix = {{ kinds = ["member"], binary = true }}\n'
        f'[[keys]]\nteam = "acme"\nscopes = ["admin"]\nkey = "{KEY}"\n'
    )
    procs, urls = [], []
    try:
        for i in range(2):
            port = free_port()
            log = tmp_path / f"service{i}.log"
            procs.append((_serve(config, port, log), log))
            urls.append(f"http://127.0.0.1:{port}")
        for (proc, log), url in zip(procs, urls, strict=True):
            _wait_ready(proc, url, log)
        yield urls
    finally:
        for proc, _ in procs:
            proc.terminate()
        for proc, _ in procs:
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def _recs(url: str, user: str) -> list[str]:
    response = httpx.get(f"{url}{T}/people/{user}/recommendations", params={"k": 10}, headers=H, timeout=10)
    assert response.status_code == 200, response.text
    return [r["id"] for r in response.json()["results"]]


def test_an_event_accepted_by_one_process_reaches_the_others_answers(two_services):
    first, second = two_services
    assert "C2" in _recs(second, "u4")
    event = {"user": "u4", "item": "C2", "kind": "member", "value": 1, "timestamp": 1.8e9}
    response = httpx.post(f"{first}{T}/events", json={"events": [event]}, headers=H, timeout=10)
    assert response.status_code == 201, response.text
    assert "C2" not in _recs(first, "u4")  # the receiving process: at once
    deadline = time.monotonic() + 5.0  # the other: within catch_up_seconds (0.2 s), with slack for a busy machine
    while "C2" in _recs(second, "u4"):
        assert time.monotonic() < deadline, "the other process never saw the event"
        time.sleep(0.1)
    # and a newcomer known only through the other process gets personal answers there
    newcomer = [{"user": "u9", "item": "C4", "kind": "member", "value": 1, "timestamp": 1.8e9}]
    assert httpx.post(f"{second}{T}/events", json={"events": newcomer}, headers=H, timeout=10).status_code == 201
    deadline = time.monotonic() + 5.0
    while "C4" in _recs(first, "u9"):
        assert time.monotonic() < deadline, "the first process never saw the newcomer's event"
        time.sleep(0.1)


def test_a_retried_batch_is_stored_once_across_processes(two_services):
    first, second = two_services
    payload = {"events": [{"user": "u4", "item": "C4", "kind": "member", "value": 1, "timestamp": 1.8e9},
                          {"user": "u3", "item": "C4", "kind": "member", "value": 1, "timestamp": 1.8e9}],
               "batch_id": "sync-7"}
    one = httpx.post(f"{first}{T}/events", json=payload, headers=H, timeout=10).json()
    two = httpx.post(f"{second}{T}/events", json=payload, headers=H, timeout=10).json()
    assert (one["stored"], one["duplicate"]) == (2, False)
    assert (two["stored"], two["duplicate"], two["total"]) == (0, True, one["total"])
