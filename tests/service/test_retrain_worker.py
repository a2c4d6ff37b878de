"""Retrains do not stall serving (issue 11): the fit runs in a worker process, concurrent
requests are merged, reads are answered while a model trains, and /model counts the events a
saved model learnt from across a restart."""

from __future__ import annotations

import os
import threading
import time

import httpx

from teamrec.service import create_app
from teamrec.store import MemoryEventStore

from .conftest import AUTH, TestClient, live_server, make_settings

T = "/api/v1/teams/demo"


def test_a_retrain_runs_in_another_process(client):
    before = client.app.state.service.registry.get("demo")
    assert before.worker_pid is None  # the start-up model is trained before serving, in-process
    response = client.post(f"{T}/model/retrain", headers=AUTH["demo-admin"])
    assert response.status_code == 200, response.text
    state = client.app.state.service.registry.get("demo")
    assert state.version == before.version + 1
    assert state.worker_pid is not None and state.worker_pid != os.getpid()
    # The worker's model serves the same answers as one fitted here.
    body = client.get(f"{T}/people/U0103/recommendations", params={"k": 5}).json()
    assert body["model_version"] == state.version and len(body["results"]) == 5


def test_an_incremental_refresh_runs_in_another_process(client):
    events = [{"user": "U0103", "item": "C0110", "kind": "member"}]
    assert client.post(f"{T}/events", json={"events": events}, headers=AUTH["demo-write"]).status_code == 201
    registry = client.app.state.service.registry
    state = registry.refresh("demo")
    assert state.worker_pid not in (None, os.getpid())
    assert state.info["refreshed_people"] == 1 and state.store_events == 1


def test_concurrent_retrain_requests_are_merged(globex_dir):
    app = create_app(make_settings(globex_dir), store=MemoryEventStore())
    statuses: list[int] = []
    with live_server(app) as url:
        registry = app.state.service.registry
        fits_before = registry.fits["demo"]
        start = threading.Barrier(45)

        def ask() -> None:
            with httpx.Client(base_url=url, timeout=120) as http:
                start.wait()
                statuses.append(http.post(f"{T}/model/retrain", headers=AUTH["demo-admin"]).status_code)

        threads = [threading.Thread(target=ask) for _ in range(45)]
        for thread in threads:
            thread.start()
        # While the 45 wait, /model is answered at once (no thread is held by a waiting retrain).
        time.sleep(0.2)
        with httpx.Client(base_url=url, timeout=10) as http:
            began = time.perf_counter()
            assert http.get(f"{T}/model").status_code == 200
            assert time.perf_counter() - began < 2.0
        for thread in threads:
            thread.join(timeout=120)
        fits = registry.fits["demo"] - fits_before
    assert statuses == [200] * 45
    # The first request's retrain, and one follow-up for everyone who came while it ran.
    assert 1 <= fits <= 2, fits


def test_reads_are_answered_during_a_retrain(globex_dir):
    app = create_app(make_settings(globex_dir), store=MemoryEventStore())
    with live_server(app) as url, httpx.Client(base_url=url, timeout=10) as http:
        registry = app.state.service.registry
        version = registry.get("demo").version
        future = registry.submit("demo", full=True)
        during, slowest, served = 0, 0.0, []
        while not future.done():
            began = time.perf_counter()
            response = http.get(f"{T}/people/U0103/recommendations", params={"k": 10})
            elapsed = time.perf_counter() - began
            assert response.status_code == 200
            if not future.done():
                during += 1
                slowest = max(slowest, elapsed)
                served.append(response.json()["model_version"])
        # The old model serves meanwhile, then the new one (the swap lands on the server's
        # loop a moment before the retrain's caller hears of it).
        assert served == sorted(served) and set(served) <= {version, version + 1} and served[0] == version
        assert future.result().version == version + 1
        assert http.get(f"{T}/model").json()["model_version"] == version + 1
    assert during >= 5, during
    assert slowest < 1.0, slowest


def test_model_counts_survive_a_restart_with_a_saved_model(globex_dir, tmp_path):
    store = MemoryEventStore()
    teams = {"demo": {"format": "demo", "model_dir": str(tmp_path / "demo")}, "globex": {"source": str(globex_dir)}}
    settings = make_settings(globex_dir, teams=teams)
    events = [{"user": "U0103", "item": "C0110", "kind": "member"},
              {"user": "U0104", "item": "C0110", "kind": "member"}]
    with TestClient(create_app(settings, store=store)) as first:
        assert first.post(f"{T}/events", json={"events": events}, headers=AUTH["demo-write"]).status_code == 201
        assert first.post(f"{T}/model/retrain", headers=AUTH["demo-admin"]).status_code == 200
        counts = first.get(f"{T}/model").json()["events"]
        assert counts["store"] == 2 and counts["since_training"] == 0
    with TestClient(create_app(settings, store=store)) as second:
        body = second.get(f"{T}/model").json()
        assert body["format"] == "saved model"
        assert body["events"]["store"] == 2 and body["events"]["since_training"] == 0, body["events"]
        more = [{"user": "U0105", "item": "C0110", "kind": "member"}]
        ingested = second.post(f"{T}/events", json={"events": more}, headers=AUTH["demo-write"]).json()
        assert ingested["since_training"] == 1
        assert second.get(f"{T}/model").json()["events"]["since_training"] == 1


def test_a_killed_servers_working_folders_are_removed_by_the_next(tmp_path):
    import subprocess
    import sys

    from teamrec.service.registry import WORKDIR_PREFIX, remove_orphaned_workdirs

    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    dead = tmp_path / f"{WORKDIR_PREFIX}{gone.stdout.strip()}-abc"
    (dead / "demo-1").mkdir(parents=True)
    alive = tmp_path / f"{WORKDIR_PREFIX}{os.getpid()}-def"
    alive.mkdir()
    assert remove_orphaned_workdirs(str(tmp_path)) == [dead]
    assert not dead.exists() and alive.exists()


def test_a_swap_builds_its_index_from_the_workers_tables(globex_dir, monkeypatch):
    """The serving process's half of a retrain or refresh (own model and experiment arms) never
    runs the per-item Python pass: the worker prepared the index's tables, and the index built
    from them is the one the model alone gives."""
    from teamrec.service import serving

    from .test_serving import index_view

    experiment = {"name": "knn-vs-pop", "start": "2020-01-01T00:00:00Z", "salt": "s1",
                  "arms": [{"name": "control", "algorithm": "popularity"}, {"name": "knn", "algorithm": "item-knn"}]}
    with TestClient(create_app(make_settings(globex_dir, experiments=[experiment]), store=MemoryEventStore())) as c:
        registry = c.app.state.service.registry
        assert len(registry.states("demo")) == 3  # the team's model and two arms

        def no_pass_here(model):
            raise AssertionError("the serving process prepared an index")

        monkeypatch.setattr(serving, "prepare", no_pass_here)
        registry.retrain("demo")
        events = [{"user": "U0103", "item": "C0110", "kind": "member"}]
        assert c.post(f"{T}/events", json={"events": events}, headers=AUTH["demo-write"]).status_code == 201
        registry.refresh("demo")
        states = registry.states("demo")
        monkeypatch.undo()
        assert all(state.worker_pid not in (None, os.getpid()) for state in states)
        for state in states:
            assert state.model.data.private.any() and state.model.data.archived.any()
            assert index_view(state.index) == index_view(serving.ServingIndex(state.model))


def test_a_swap_runs_on_the_servers_event_loop_between_requests(globex_dir, monkeypatch):
    """The serving process's half of every retrain and refresh (own model and experiment
    arms) runs as steps on the server's event loop, not in the job's thread, where it would
    fight the loop for the interpreter lock (teamrec.service.foreground)."""
    import asyncio

    from teamrec.service import training

    experiment = {"name": "knn-vs-pop", "start": "2020-01-01T00:00:00Z", "salt": "s1",
                  "arms": [{"name": "control", "algorithm": "popularity"}, {"name": "knn", "algorithm": "item-knn"}]}
    on_loop: list[bool] = []
    load_folder_steps = training.load_folder_steps

    def noting(folder):
        try:
            asyncio.get_running_loop()
            on_loop.append(True)
        except RuntimeError:
            on_loop.append(False)
        return (yield from load_folder_steps(folder))

    with TestClient(create_app(make_settings(globex_dir, experiments=[experiment]), store=MemoryEventStore())) as c:
        monkeypatch.setattr(training, "load_folder_steps", noting)
        assert c.post(f"{T}/model/retrain", headers=AUTH["demo-admin"]).status_code == 200
        events = [{"user": "U0103", "item": "C0110", "kind": "member"}]
        assert c.post(f"{T}/events", json={"events": events}, headers=AUTH["demo-write"]).status_code == 201
        c.app.state.service.registry.refresh("demo")  # from this thread: the steps still go to the loop
        assert on_loop == [True] * 6  # retrain and refresh, each of the model and its two arms
        assert c.get(f"{T}/people/U0103/recommendations").status_code == 200


def _cores_here() -> int:
    return len(os.sched_getaffinity(0))


def test_a_fit_takes_at_most_one_core_from_the_server():
    """The worker keeps to one core (its kNN thread pool included), niced below the server
    and, on Linux, in the idle scheduling class (a waking server thread preempts it at once)."""
    import pytest

    from teamrec.service import training
    from teamrec.service.registry import _worker_context

    if not hasattr(os, "sched_getaffinity") or len(os.sched_getaffinity(0)) < 2:
        pytest.skip("one core here, or no CPU affinity on this system")
    from concurrent.futures import ProcessPoolExecutor

    with ProcessPoolExecutor(max_workers=1, mp_context=_worker_context(), initializer=training.worker_init) as pool:
        assert pool.submit(_cores_here).result() == 1
        assert pool.submit(os.nice, 0).result() >= min(19, os.nice(0) + training.WORKER_NICENESS)
        if hasattr(os, "SCHED_IDLE"):
            assert pool.submit(os.sched_getscheduler, 0).result() == os.SCHED_IDLE
    assert len(os.sched_getaffinity(0)) >= 2  # the server itself keeps every core
