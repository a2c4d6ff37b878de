"""Online updates: how fast an accepted event changes a person's recommendations, and what a
background update costs against a full refit.

Run: ``.venv/bin/python benchmarks/bench_online.py [--algorithm A ...] [--trials N] [--json]``

Two teams: MovieLens 100K (943 people x 1,682 films, ratings) and the load test's synthetic
team (5,000 people x 10,000 items, ~30 memberships each, 2% private; see load_test.py).

1. **Event -> changed recommendations, over HTTP on loopback.** The real service (create_app,
   uvicorn in this process, an in-memory event store) serves the team with the algorithm. Per
   trial, a random person's current top item is read; then, timed: ``POST .../events`` (the
   person takes that item) and ``GET .../recommendations`` until the item is gone from the list
   (it is on the first read: the event is folded in at request time, no retrain). The figure
   is the time from sending the POST to the answer without the item; p50 and p99 over the trials.
2. **Background update against full refit.** In process, on the team's matrix: 50 people each
   gain one item; ``partial_fit_users`` (the incremental update the background refresher can
   use) against ``fit`` on the new matrix, best of 3.

The machine has 2 cores and was shared with other engineers' test runs when the figures in
docs/benchmarks.md were taken: treat them as upper bounds.
"""

from __future__ import annotations

import argparse
import http.client
import json
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import scipy.sparse as sp

sys.path.insert(0, str(Path(__file__).resolve().parent))

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
ALGORITHMS = ("popularity", "item-knn", "user-knn", "cooccurrence", "als", "ease")
#: EASE inverts an items x items matrix: 10,000 items is an 800 MB dense inverse; left out.
SKIP = {("large", "ease")}


def team_settings(name: str, algorithm: str, folder: Path) -> dict:
    if name == "ml100k":
        return {"source": str(DATA / "ml-100k" / "u.data"), "format": "movielens", "algorithm": algorithm}
    return {"source": str(folder), "algorithm": algorithm}


def serve(settings_dict: dict):
    """The service on a free loopback port in a thread; returns (server, thread, port)."""
    import uvicorn

    from teamrec.service import Settings, create_app
    from teamrec.store import MemoryEventStore

    app = create_app(Settings.model_validate(settings_dict), store=MemoryEventStore())
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning",
                                           access_log=False, lifespan="on"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 600
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the service did not start")
        time.sleep(0.02)
    return server, thread, server.servers[0].sockets[0].getsockname()[1], app


def freshness(team: str, algorithm: str, folder: Path, trials: int, seed: int) -> dict:
    key = "bench-admin-key-0123456789"
    settings = {"mode": "production", "database": "memory:", "online": {"refit_events": 0, "refit_seconds": None},
                "teams": {team: team_settings(team, algorithm, folder)},
                "keys": [{"team": team, "key": key, "scopes": ["admin"]}]}
    server, thread, port, app = serve(settings)
    headers = {"X-API-Key": key, "Content-Type": "application/json"}
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)

    def call(method: str, path: str, body: dict | None = None) -> dict:
        conn.request(method, path, body=None if body is None else json.dumps(body), headers=headers)
        response = conn.getresponse()
        data = response.read()
        if response.status >= 300:
            raise RuntimeError(f"{method} {path}: {response.status} {data[:200]!r}")
        return json.loads(data)

    try:
        users = [str(u) for u in app.state.service.registry.get(team).model.data.users.ids]
        rng = np.random.default_rng(seed)
        base = f"/api/v1/teams/{team}"
        kind = "rating" if team == "ml100k" else "member"
        times, reads = [], []
        for user in rng.choice(users, size=trials, replace=False).tolist():
            top = call("GET", f"{base}/people/{user}/recommendations?k=10")["results"][0]["id"]
            start = time.perf_counter()
            call("POST", f"{base}/events", {"events": [{"user": user, "item": top, "kind": kind, "value": 5}]})
            n = 0
            while True:
                n += 1
                ids = [r["id"] for r in call("GET", f"{base}/people/{user}/recommendations?k=10")["results"]]
                if top not in ids:
                    break
                if n > 100:
                    raise RuntimeError(f"{algorithm}: the event never changed {user}'s recommendations")
            times.append(time.perf_counter() - start)
            reads.append(n)
        # One request no slower: a plain read of a person with no fresh events.
        plain = []
        for user in rng.choice(users, size=trials, replace=False).tolist():
            start = time.perf_counter()
            call("GET", f"{base}/people/{user}/recommendations?k=10")
            plain.append(time.perf_counter() - start)
    finally:
        conn.close()
        server.should_exit = True
        thread.join(timeout=10)
    ms = np.array(times) * 1e3
    return {"team": team, "algorithm": algorithm, "trials": trials, "p50_ms": float(np.percentile(ms, 50)),
            "p99_ms": float(np.percentile(ms, 99)), "reads_needed": max(reads),
            "read_p50_ms": float(np.percentile(np.array(plain) * 1e3, 50)),
            "read_p99_ms": float(np.percentile(np.array(plain) * 1e3, 99))}


def update_vs_refit(matrix: sp.csr_matrix, algorithm: str, seed: int, changed: int = 50) -> dict:
    from teamrec.testing import quick

    rng = np.random.default_rng(seed)
    users = rng.choice(matrix.shape[0], size=changed, replace=False)
    items = rng.integers(0, matrix.shape[1], size=changed)
    grown = matrix.tolil(copy=True)
    for u, i in zip(users, items, strict=True):
        grown[u, i] = 1.0
    grown = grown.tocsr()
    update_s, refit_s = [], []
    for _ in range(3):
        model = quick(algorithm).fit(matrix)
        start = time.perf_counter()
        model.partial_fit_users(users, grown[users])
        update_s.append(time.perf_counter() - start)
        start = time.perf_counter()
        quick(algorithm).fit(grown)
        refit_s.append(time.perf_counter() - start)
    return {"algorithm": algorithm, "changed_people": changed, "update_ms": min(update_s) * 1e3,
            "refit_ms": min(refit_s) * 1e3}


def matrices(folder: Path) -> dict[str, sp.csr_matrix]:
    from teamrec.data.sources import read_source
    from teamrec.spec import TeamSpec, team_matrix

    out = {}
    ml = read_source(DATA / "ml-100k" / "u.data", "movielens")
    out["ml100k"] = team_matrix(TeamSpec(format="movielens"), ml).matrix
    out["large"] = team_matrix(TeamSpec(), read_source(folder)).matrix
    return out


def main(argv: list[str] | None = None) -> int:
    from load_test import synthetic_team

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--algorithm", action="append", help=f"default: {', '.join(ALGORITHMS)}")
    parser.add_argument("--team", action="append", choices=["ml100k", "large"])
    parser.add_argument("--trials", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--skip-http", action="store_true")
    parser.add_argument("--skip-update", action="store_true")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    algorithms = args.algorithm or list(ALGORITHMS)
    teams = args.team or ["ml100k", "large"]
    results: dict[str, list] = {"freshness": [], "update": []}
    with tempfile.TemporaryDirectory() as tmp:
        folder = synthetic_team(Path(tmp) / "load")
        if not args.skip_http:
            for team in teams:
                for algorithm in algorithms:
                    if (team, algorithm) not in SKIP:
                        results["freshness"].append(freshness(team, algorithm, folder, args.trials, args.seed))
        if not args.skip_update:
            mats = matrices(folder)
            for team in teams:
                for algorithm in algorithms:
                    if (team, algorithm) not in SKIP:
                        results["update"].append({"team": team, **update_vs_refit(mats[team], algorithm, args.seed)})
    if args.json:
        print(json.dumps(results, indent=2))
        return 0
    if results["freshness"]:
        print(f"Event accepted -> that person's recommendations changed, over HTTP on loopback ({args.trials} people)")
        print(f"{'team':8} {'algorithm':13} {'p50 ms':>8} {'p99 ms':>8} {'reads':>6} {'read p50':>9} {'read p99':>9}")
        for r in results["freshness"]:
            print(f"{r['team']:8} {r['algorithm']:13} {r['p50_ms']:8.2f} {r['p99_ms']:8.2f} {r['reads_needed']:6d} "
                  f"{r['read_p50_ms']:9.2f} {r['read_p99_ms']:9.2f}")
    if results["update"]:
        print()
        print("Background update (partial_fit_users, 50 people changed) against a full refit (best of 3)")
        print(f"{'team':8} {'algorithm':13} {'update ms':>10} {'refit ms':>10} {'speed-up':>9}")
        for r in results["update"]:
            print(f"{r['team']:8} {r['algorithm']:13} {r['update_ms']:10.1f} {r['refit_ms']:10.1f} "
                  f"{r['refit_ms'] / max(r['update_ms'], 1e-9):8.1f}x")
    print("\n(one run; the machine was shared with other engineers while measuring)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
