"""Retrains while requests run: a real server, reader threads on every read route, a writer
ingesting, and repeated retrains swapping models underneath. No request may fail, and no
reader may see the model version go backwards (a half-built or mixed model would show up as
an error, a 500, or a version out of order)."""

from __future__ import annotations

import threading
import time

import httpx
import pytest

from teamrec.service import create_app
from teamrec.store import MemoryEventStore

from .conftest import AUTH, live_server, make_settings

T = "/api/v1/teams/demo"
READS = [
    (f"{T}/people/U0103/recommendations", {"k": 10}),
    (f"{T}/people/U0150/recommendations", {"k": 5, "explain": "true"}),
    (f"{T}/people/someone-new/recommendations", {"k": 5}),
    (f"{T}/items/ml/similar", {"k": 10}),
    (f"{T}/people/U0120/similar", {"k": 10}),
    (f"{T}/items", {"q": "data"}),
    (f"{T}/people", {"q": "an"}),
    (f"{T}/model", {}),
]
RETRAINS = 6


@pytest.mark.slow
def test_retrains_while_requests_run(globex_dir):
    # No background refit: the versions counted are the retrains' (the writer's events would
    # otherwise start one whenever the run outlasts refit_events' worth of them).
    settings = make_settings(globex_dir, online={"refit_events": 0, "refit_seconds": None})
    app = create_app(settings, store=MemoryEventStore())
    failures: list[str] = []
    counts: list[int] = []
    stop = threading.Event()

    with live_server(app) as url:

        def reader(n: int) -> None:
            done, last_version = 0, 0
            with httpx.Client(base_url=url, timeout=30) as http:
                while not stop.is_set():
                    path, params = READS[(n + done) % len(READS)]
                    try:
                        response = http.get(path, params=params)
                    except httpx.HTTPError as exc:
                        failures.append(f"{path}: {exc!r}")
                        continue
                    done += 1
                    if response.status_code != 200:
                        failures.append(f"{path}: {response.status_code} {response.text[:200]}")
                        continue
                    version = response.json().get("model_version")
                    if version is not None:
                        if version < last_version:
                            failures.append(f"{path}: version {version} after {last_version}")
                        last_version = version
            counts.append(done)

        def writer() -> None:
            n = 0
            with httpx.Client(base_url=url, timeout=30, headers=AUTH["demo-write"]) as http:
                while not stop.is_set():
                    batch = {"events": [{"user": f"new-{n}", "item": "C0106", "kind": "member"},
                                        {"user": f"new-{n}", "item": "C0107", "kind": "member"}]}
                    response = http.post(f"{T}/events", json=batch)
                    if response.status_code != 201:
                        failures.append(f"ingest: {response.status_code} {response.text[:200]}")
                    n += 1
                    time.sleep(0.01)

        threads = [threading.Thread(target=reader, args=(n,)) for n in range(6)]
        threads.append(threading.Thread(target=writer))
        for thread in threads:
            thread.start()
        versions = []
        try:
            with httpx.Client(base_url=url, timeout=60, headers=AUTH["demo-admin"]) as admin:
                for _ in range(RETRAINS):
                    time.sleep(0.15)
                    response = admin.post(f"{T}/model/retrain")
                    assert response.status_code == 200, response.text
                    versions.append(response.json()["model_version"])
        finally:
            time.sleep(0.2)
            stop.set()
            for thread in threads:
                thread.join(timeout=30)

        with httpx.Client(base_url=url) as http:
            final = http.get(f"{T}/model").json()

    assert failures == []
    assert versions == list(range(2, RETRAINS + 2))
    assert final["model_version"] == RETRAINS + 1
    # The last retrain learnt from events ingested while requests ran.
    assert final["events"]["store"] > 0 and final["people"] > 200
    assert len(counts) == 6 and min(counts) > 10, counts
