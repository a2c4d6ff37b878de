"""Read latency while the model retrains back to back (issue 11: no stalls).

Starts the real service (``teamrec serve``, one process) on the load test's synthetic team
(5,000 people x 10,000 items, item-knn), then drives ``GET .../recommendations`` at a fixed
rate (open loop, latency from each request's due time) twice: once with no retrain, once while
a client asks for full retrains back to back (``POST .../model/retrain``, each waiting for
the previous one). The fit runs in the service's worker process; what the serving process
still does per retrain (load the model folder, build the serving index) shows in the second
line. Everything is on loopback and bounded in time.

    .venv/bin/python benchmarks/bench_stalls.py                 # 500 reads/s, 20 s per phase
    .venv/bin/python benchmarks/bench_stalls.py --rate 500 --seconds 30

The goal on a 2-core machine: read p99 at most 10 ms at 500 reads/s during retrains.
"""

from __future__ import annotations

import argparse
import http.client
import os
import secrets
import sys
import tempfile
import threading
import time
import urllib.parse
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from load_test import N_ITEMS, N_PEOPLE, drive, show, start_service, synthetic_team  # noqa: E402


def retrain_loop(url: str, team: str, key: str, stop: threading.Event, took: list[float], errors: list[str]) -> None:
    """Ask for full retrains one after another (each waits for its answer) until ``stop``."""
    parsed = urllib.parse.urlsplit(url)
    while not stop.is_set():
        conn = http.client.HTTPConnection(parsed.hostname, parsed.port, timeout=600)
        began = time.perf_counter()
        try:
            conn.request("POST", f"/api/v1/teams/{team}/model/retrain", headers={"X-API-Key": key})
            response = conn.getresponse()
            response.read()
            if response.status != 200:
                errors.append(str(response.status))
            else:
                took.append(time.perf_counter() - began)
        except Exception as exc:  # noqa: BLE001 - a benchmark counts every failure
            errors.append(repr(exc))
        finally:
            conn.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rate", type=float, default=500.0, help="reads per second")
    parser.add_argument("--seconds", type=float, default=20.0, help="length of each phase")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--algorithm", default="item-knn")
    args = parser.parse_args(argv)

    key = secrets.token_urlsafe(24)
    os.environ["TEAMREC_ADMIN_KEY"] = key  # the admin key `teamrec serve` gives the team
    with tempfile.TemporaryDirectory(prefix="teamrec-stalls-") as tmp:
        folder = synthetic_team(Path(tmp) / "team")
        proc, url = start_service(folder, args.algorithm)
        print(f"service at {url}: {N_PEOPLE} people x {N_ITEMS} items, {args.algorithm}, one process; "
              f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f} at the start")
        users = [f"u{i}" for i in range(N_PEOPLE)]
        try:
            drive(url, "load", users, rate=min(args.rate, 200), seconds=3, connections=args.connections, key=None)
            quiet = drive(url, "load", users, rate=args.rate, seconds=args.seconds, connections=args.connections,
                          key=None)
            quiet["mode"] = f"{args.rate:g} reads/s, no retrain"
            stop, took, errors = threading.Event(), [], []
            loop = threading.Thread(target=retrain_loop, args=(url, "load", key, stop, took, errors), daemon=True)
            loop.start()
            time.sleep(1.0)  # the first retrain is under way
            busy = drive(url, "load", users, rate=args.rate, seconds=args.seconds, connections=args.connections,
                         key=None)
            stop.set()
            loop.join(timeout=600)
            busy["mode"] = f"{args.rate:g} reads/s, retrains back to back"
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    show(quiet)
    show(busy)
    mean = sum(took) / len(took) if took else float("nan")
    print(f"retrains during the second phase: {len(took)} finished (mean {mean:.2f} s each), errors {len(errors)}")
    print(f"load average at the end: {os.getloadavg()[0]:.2f} (above ~1.5 on 2 cores: other work shared the machine)")
    verdict = "met" if busy["p99_ms"] <= 10 and busy["errors"] == 0 else "NOT met"
    print(f"goal (read p99 <= 10 ms at {args.rate:g} reads/s during retrains, no errors): {verdict}")
    return 0 if busy["errors"] == 0 and not errors else 1


if __name__ == "__main__":
    sys.exit(main())
