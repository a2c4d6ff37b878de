"""Load test: ``GET .../people/{user}/recommendations`` on a team of 10,000 items and 5,000 people.

What it does, all on loopback and bounded in count and time:

1. generates a synthetic team (5,000 people x 10,000 items, popularity-skewed, ~30 items per
   person, 2% private items) and saves it as a ``teamrec ingest`` folder in a temporary
   directory;
2. starts the real service on it (``teamrec serve FOLDER --port 0``, item-knn, one process)
   and waits for ``/health``;
3. drives recommendations for random people at a fixed rate (open loop: requests are sent on
   a schedule, not when the previous one returns, so a slow server cannot slow the test
   down and hide its own latency), then optionally as fast as a few connections go;
4. prints throughput and latency percentiles, and stops the server.

Latency is measured from the moment each request was *due* (so it includes any delay in
getting it out: no coordinated omission) and, separately, from when it was actually sent.

    .venv/bin/python benchmarks/load_test.py                  # 500 req/s for 20 s, then saturate
    .venv/bin/python benchmarks/load_test.py --rate 500 --seconds 30 --no-saturate
    .venv/bin/python benchmarks/load_test.py --url http://127.0.0.1:8000 --team load  # a running service

The goal on a 2-core machine: p99 at most 10 ms at 500 requests per second.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request
from pathlib import Path

import numpy as np

N_PEOPLE = 5_000
N_ITEMS = 10_000
PER_PERSON = 30
MAX_REQUESTS = 200_000  # a hard bound, whatever the rate and duration


def synthetic_team(folder: Path, seed: int = 0) -> Path:
    """5,000 people x 10,000 items with Zipf-like item popularity; 2% of items private."""
    import pandas as pd

    from teamrec.data.dataset import Dataset

    rng = np.random.default_rng(seed)
    popularity = 1.0 / np.arange(1, N_ITEMS + 1) ** 0.8
    popularity /= popularity.sum()
    users = np.repeat(np.arange(N_PEOPLE), PER_PERSON)
    items = rng.choice(N_ITEMS, size=len(users), p=popularity)
    events = pd.DataFrame({
        "team": "load",
        "user": np.char.add("u", users.astype(str)),
        "item": np.char.add("i", items.astype(str)),
        "kind": "member",
        "value": 1.0,
        "timestamp": 1.7e9 + rng.random(len(users)) * 3e7,
    })
    item_ids = np.char.add("i", np.arange(N_ITEMS).astype(str))
    meta = pd.DataFrame(
        {
            "team": "load",
            "item": item_ids,
            "name": np.char.add("channel-", np.arange(N_ITEMS).astype(str)),
            "private": rng.random(N_ITEMS) < 0.02,
        }
    )
    return Dataset(events=events, items=meta, info={"format": "synthetic"}).save(folder)


def start_service(folder: Path, algorithm: str, database: str = "memory:",
                  env: dict[str, str] | None = None) -> tuple[subprocess.Popen, str]:
    """``teamrec serve FOLDER`` on a free loopback port (events in ``database``); returns the
    process and its URL."""
    code = "from teamrec.cli import run; run()"
    cmd = [sys.executable, "-c", code, "serve", str(folder), "--name", "load", "--port", "0",
           "--database", database, "--no-access-log", "--algorithm", algorithm]
    env = {**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    deadline = time.monotonic() + 300
    url = None
    assert proc.stdout is not None
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            raise RuntimeError(f"the service stopped: {proc.stderr.read() if proc.stderr else ''}")
        if " at http://" in line:
            url = line.split(" at ", 1)[1].split()[0].rstrip("/")
            break
    if url is None:
        proc.kill()
        raise RuntimeError("the service did not start in time")
    threading.Thread(target=proc.stdout.read, daemon=True).start()  # keep the pipe drained
    return proc, url


async def _exchange(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: bytes) -> tuple[int, bytes]:
    """Send one prepared HTTP/1.1 request on a keep-alive connection; its status and body."""
    writer.write(request)
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    return status, await reader.readexactly(length)


def drive(url: str, team: str, users: list[str], *, rate: float | None, seconds: float, connections: int,
          key: str | None, k: int = 10) -> dict:
    """Send requests for ``seconds`` (and at most MAX_REQUESTS): at ``rate`` per second on a
    schedule, or with ``rate=None`` back to back on each connection.

    The client is one thread running an asyncio loop over ``connections`` keep-alive
    connections, with every request's bytes prepared beforehand: it needs little CPU, and no
    client thread waits for an interpreter lock before it notes a response (a client of many
    threads on a 2-core machine was measuring its own contention). Its timers wake up to
    1 ms late (epoll's resolution); that lateness counts in the latency, so figures err high."""
    parsed = urllib.parse.urlsplit(url)
    host, port = parsed.hostname or "127.0.0.1", parsed.port or 80
    headers = f"Host: {host}:{port}\r\nAccept: application/json\r\n" + (f"X-API-Key: {key}\r\n" if key else "")
    base = f"/api/v1/teams/{urllib.parse.quote(team)}/people"
    rng = np.random.default_rng(1)
    picks = [users[i] for i in rng.integers(0, len(users), size=min(MAX_REQUESTS, 1 + int((rate or 5000) * seconds)))]
    requests = [f"GET {base}/{urllib.parse.quote(p)}/recommendations?k={k} HTTP/1.1\r\n{headers}\r\n".encode()
                for p in picks]
    n_total = len(picks)
    due_latency = np.full(n_total, np.nan)
    sent_latency = np.full(n_total, np.nan)
    errors: list[str] = []
    start = time.perf_counter() + 0.2
    end = start + seconds
    counter = iter(range(n_total))

    async def worker(w: int) -> None:
        reader, writer = await asyncio.open_connection(host, port)
        n: int | None = w
        try:
            while True:
                if rate is None:
                    n = next(counter, None)
                    if n is None or time.perf_counter() >= end:
                        return
                    due = time.perf_counter()
                else:
                    assert n is not None
                    if n >= n_total:
                        return
                    due = start + n / rate
                    if due >= end:
                        return
                    pause = due - time.perf_counter()
                    if pause > 0:
                        await asyncio.sleep(pause)
                sent = time.perf_counter()
                try:
                    status, body = await _exchange(reader, writer, requests[n])
                    if status != 200:
                        errors.append(f"{status}: {body[:120]!r}")
                except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError) as exc:
                    errors.append(repr(exc))
                    writer.close()
                    reader, writer = await asyncio.open_connection(host, port)
                done = time.perf_counter()
                due_latency[n] = done - due
                sent_latency[n] = done - sent
                if rate is not None:
                    n += connections
        finally:
            writer.close()

    async def run() -> None:
        await asyncio.wait_for(asyncio.gather(*(worker(w) for w in range(connections))), timeout=seconds + 60)

    cpu = time.process_time()
    asyncio.run(run())
    client_cpu = time.process_time() - cpu
    took = max(time.perf_counter() - start, 1e-9)
    done_mask = ~np.isnan(sent_latency)
    n_done = int(done_mask.sum())
    ms = lambda a, q: float(np.percentile(a[done_mask], q) * 1000) if n_done else float("nan")  # noqa: E731
    return {
        "mode": f"fixed rate {rate:g}/s" if rate else f"saturate, {connections} connections",
        "requests": n_done,
        "errors": len(errors),
        "first_errors": errors[:3],
        "seconds": round(min(took, seconds + 60), 2),
        "throughput": round(n_done / min(took, seconds if rate else took), 1),
        "p50_ms": round(ms(due_latency, 50), 2),
        "p90_ms": round(ms(due_latency, 90), 2),
        "p99_ms": round(ms(due_latency, 99), 2),
        "max_ms": round(float(np.nanmax(due_latency) * 1000) if n_done else float("nan"), 2),
        "p50_sent_ms": round(ms(sent_latency, 50), 2),
        "p99_sent_ms": round(ms(sent_latency, 99), 2),
        "client_cpu_share": round(client_cpu / took, 3),
    }


def show(result: dict) -> None:
    print(
        f"{result['mode']:>32}: {result['requests']} requests in {result['seconds']}s, "
        f"{result['throughput']} req/s, errors {result['errors']}; latency p50 {result['p50_ms']} ms, "
        f"p90 {result['p90_ms']} ms, p99 {result['p99_ms']} ms, max {result['max_ms']} ms "
        f"(from send: p50 {result['p50_sent_ms']} ms, p99 {result['p99_sent_ms']} ms); "
        f"the client used {100 * result['client_cpu_share']:.0f}% of a core"
    )
    for error in result["first_errors"]:
        print(f"    error: {error}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rate", type=float, default=500.0, help="requests per second (fixed-rate phase)")
    parser.add_argument("--seconds", type=float, default=20.0, help="length of each phase")
    parser.add_argument("--connections", type=int, default=16, help="client connections (one thread drives all)")
    parser.add_argument("--warmup", type=float, default=3.0, help="seconds of warm-up traffic, not counted")
    parser.add_argument("--saturate", action=argparse.BooleanOptionalAction, default=True,
                        help="also measure the most the service does with 4 back-to-back connections")
    parser.add_argument("--algorithm", default="item-knn")
    parser.add_argument("--url", help="an already running service instead of starting one")
    parser.add_argument("--team", default="load")
    parser.add_argument("--key", default=os.environ.get("TEAMREC_READ_KEY"))
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args(argv)
    if args.url and urllib.parse.urlsplit(args.url).hostname not in ("127.0.0.1", "localhost", "::1"):
        parser.error("the load test only drives a service on this machine (loopback)")

    proc = None
    with tempfile.TemporaryDirectory(prefix="teamrec-load-") as tmp:
        if args.url:
            url = args.url.rstrip("/")
            users = [f"u{i}" for i in range(N_PEOPLE)]
        else:
            t0 = time.perf_counter()
            folder = synthetic_team(Path(tmp) / "team")
            proc, url = start_service(folder, args.algorithm)
            users = [f"u{i}" for i in range(N_PEOPLE)]
            print(f"service ready at {url} in {time.perf_counter() - t0:.1f}s "
                  f"({N_PEOPLE} people x {N_ITEMS} items, {args.algorithm}, one process)")
        try:
            with urllib.request.urlopen(f"{url}/api/v1/teams/{args.team}/model", timeout=30) as r:  # noqa: S310
                model = json.loads(r.read())
            print(f"model: {model['algorithm']}, {model['people']} people, {model['items']} items, "
                  f"{model['interactions']} interactions"  # private items: not told without the team's key
                  + (f", {model['private_items']} private items" if model["private_items"] is not None else ""))
            if args.warmup:
                drive(url, args.team, users, rate=min(args.rate, 200), seconds=args.warmup,
                      connections=args.connections, key=args.key)
            results = [drive(url, args.team, users, rate=args.rate, seconds=args.seconds,
                             connections=args.connections, key=args.key)]
            if args.saturate:
                results.append(drive(url, args.team, users, rate=None, seconds=min(args.seconds, 10),
                                     connections=4, key=args.key))
        finally:
            if proc is not None:
                proc.terminate()
                try:
                    proc.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    proc.kill()
    if args.json:
        print(json.dumps(results, indent=2))
    else:
        for result in results:
            show(result)
        fixed = results[0]
        verdict = "met" if fixed["p99_ms"] <= 10 and fixed["errors"] == 0 else "NOT met"
        print(f"goal (p99 <= 10 ms at {args.rate:g} req/s, no errors): {verdict}")
    return 0 if results[0]["errors"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
