"""The event stores side by side: SQLite (embedded, the default) against PostgreSQL (shared).

Two measurements per store, on loopback, bounded in count and time:

1. **ingest at the store**: ``append`` of batches of ``--batch`` events, one after another
   (each a durable transaction: SQLite ``synchronous=FULL`` in WAL mode, PostgreSQL with
   ``fsync=on`` and ``synchronous_commit=on``), then one incremental ``since()`` read of all of
   them -- events per second;
2. **the service on the store**: ``teamrec serve`` on load_test.py's synthetic team (5,000
   people x 10,000 items, item-knn) with ``--database`` the store; recommendations driven at
   ``--rate`` requests/s (open loop, latency from when each request was due), optionally while
   a writer posts 50-event batches through ``POST /events`` at ``--write-rate`` events/s; then
   the most ``POST /events`` takes with 4 connections back to back -- read p99 and events/s.
   Also on the in-memory store, the baseline with nothing durable on the request path (every
   recommendation logs its impressions in the store's database, group-committed by a background
   thread every ``[impressions] flush_ms``; ``TEAMREC_IMPRESSIONS__FLUSH_MS=0`` in the
   environment measures one commit per request).

PostgreSQL is a throwaway server (:class:`teamrec.store.pg_local.LocalPostgres`, same machine).

    .venv/bin/python benchmarks/bench_stores.py
    .venv/bin/python benchmarks/bench_stores.py --seconds 10 --rate 500 --json
"""

from __future__ import annotations

import argparse
import http.client
import json
import sys
import tempfile
import threading
import time
import urllib.parse
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).parent))
import load_test  # noqa: E402  (the synthetic team, the service start-up and the open-loop driver)

KEY = "bench-admin-key-0123456789"


def events(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({
        "user": np.char.add("u", rng.integers(0, load_test.N_PEOPLE, n).astype(str)),
        "item": np.char.add("i", rng.integers(0, load_test.N_ITEMS, n).astype(str)),
        "kind": "member", "value": 1.0, "timestamp": 1.8e9,
    })


def store_ingest(url: str, *, batches: int, batch: int) -> dict:
    """Appends of ``batches`` batches, then one since() of everything."""
    from teamrec.store import open_store

    store = open_store(url)
    frames = [events(batch, i) for i in range(batches)]
    start = time.perf_counter()
    for i, frame in enumerate(frames):
        store.append("bench", frame, batch_id=f"b{i}")
    took = time.perf_counter() - start
    start = time.perf_counter()
    read, _ = store.since("bench", 0)
    read_took = time.perf_counter() - start
    store.close()
    n = batches * batch
    assert len(read) == n
    return {"events": n, "append_events_per_s": round(n / took, 0),
            "append_ms_per_batch": round(took / batches * 1000, 2),
            "since_events_per_s": round(n / read_took, 0)}


class Writer:
    """Posts ``batch``-event batches at ``rate`` events/s (0: back to back) on ``connections``."""

    def __init__(self, url: str, *, rate: float, batch: int, connections: int = 1) -> None:
        self.parsed = urllib.parse.urlsplit(url)
        self.rate, self.batch, self.connections = rate, batch, connections
        self.stored = 0
        self.errors: list[str] = []
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []

    def _run(self, w: int) -> None:
        conn = http.client.HTTPConnection(self.parsed.hostname, self.parsed.port, timeout=30)
        headers = {"Content-Type": "application/json", "X-API-Key": KEY}
        i, start = 0, time.perf_counter()
        while not self._stop.is_set():
            if self.rate:
                due = start + i * self.batch * self.connections / self.rate
                if self._stop.wait(max(0.0, due - time.perf_counter())):
                    return
            frame = events(self.batch, 1000 * w + i)
            body = json.dumps({"events": frame.to_dict("records"), "batch_id": f"w{w}-{i}"})
            try:
                conn.request("POST", "/api/v1/teams/load/events", body=body, headers=headers)
                response = conn.getresponse()
                payload = response.read()
                if response.status != 201:
                    self.errors.append(f"{response.status}: {payload[:120]!r}")
                else:
                    with self._lock:
                        self.stored += self.batch
            except (http.client.HTTPException, OSError) as exc:
                self.errors.append(repr(exc))
                conn.close()
                conn = http.client.HTTPConnection(self.parsed.hostname, self.parsed.port, timeout=30)
            i += 1

    def start(self) -> Writer:
        self.started = time.perf_counter()
        self._threads = [threading.Thread(target=self._run, args=(w,), daemon=True) for w in range(self.connections)]
        for t in self._threads:
            t.start()
        return self

    def stop(self) -> dict:
        self._stop.set()
        for t in self._threads:
            t.join(timeout=60)
        took = time.perf_counter() - self.started
        return {"events": self.stored, "events_per_s": round(self.stored / took, 0), "errors": len(self.errors),
                "first_errors": self.errors[:2]}


def service_run(folder: Path, database: str, args: argparse.Namespace) -> dict:
    env = {"TEAMREC_ADMIN_KEY": KEY, "TEAMREC_ONLINE__REFIT_EVENTS": "0"}
    proc, url = load_test.start_service(folder, "item-knn", database=database, env=env)
    users = [f"u{i}" for i in range(load_test.N_PEOPLE)]
    try:
        load_test.drive(url, "load", users, rate=200, seconds=args.warmup, connections=16, key=None)
        writer = Writer(url, rate=args.write_rate, batch=50).start() if args.write_rate else None
        reads = load_test.drive(url, "load", users, rate=args.rate, seconds=args.seconds, connections=16, key=None)
        mixed_writes = writer.stop() if writer else {"events_per_s": 0, "errors": 0, "first_errors": []}
        flood = Writer(url, rate=0, batch=args.batch, connections=4).start()
        time.sleep(args.seconds / 2)
        ingest = flood.stop()
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    return {"reads": reads, "writes_during_reads": mixed_writes, "http_ingest": ingest}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rate", type=float, default=500.0, help="recommendation requests per second")
    parser.add_argument("--write-rate", type=float, default=0.0, help="events/s posted while reading (0: none)")
    parser.add_argument("--seconds", type=float, default=15.0, help="length of the read phase")
    parser.add_argument("--warmup", type=float, default=3.0)
    parser.add_argument("--batches", type=int, default=200, help="store ingest: batches appended")
    parser.add_argument("--batch", type=int, default=500, help="events per batch (store and HTTP ingest)")
    parser.add_argument("--memory", action=argparse.BooleanOptionalAction, default=True,
                        help="also run the service on the in-memory store (no durable writes), as the baseline")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)

    from teamrec.store.pg_local import LocalPostgres

    results: dict[str, dict] = {}
    with tempfile.TemporaryDirectory(prefix="teamrec-stores-") as tmp, LocalPostgres(fsync=True) as pg:
        folder = load_test.synthetic_team(Path(tmp) / "team")
        stores = {"sqlite": lambda name: str(Path(tmp) / f"{name}.sqlite3"), "postgres": pg.create_database}
        for kind, make in stores.items():
            results[kind] = {"store": store_ingest(make("ingest"), batches=args.batches, batch=args.batch)}
            results[kind].update(service_run(folder, make("service"), args))
        if args.memory:  # the baseline: nothing durable on the request path
            results["memory"] = service_run(folder, "memory:", args)
    if args.json:
        print(json.dumps(results, indent=2))
        return 0
    print(f"store ingest: {args.batches} batches x {args.batch} events, one writer, durable commits")
    print(f"{'':>10} {'append ev/s':>12} {'ms/batch':>9} {'since() ev/s':>13}")
    for kind, r in results.items():
        if "store" not in r:
            continue
        s = r["store"]
        print(f"{kind:>10} {s['append_events_per_s']:>12,.0f} {s['append_ms_per_batch']:>9} "
              f"{s['since_events_per_s']:>13,.0f}")
    print(f"\nservice: recommendations at {args.rate:g}/s for {args.seconds:g}s while posting "
          f"{args.write_rate:g} events/s; then POST /events back to back ({args.batch}-event batches, 4 connections)")
    print(f"{'':>10} {'req':>6} {'err':>4} {'p50 ms':>7} {'p90 ms':>7} {'p99 ms':>7} {'max ms':>7} "
          f"{'writes ev/s':>12} {'ingest ev/s':>12}")
    for kind, r in results.items():
        q, w, f = r["reads"], r["writes_during_reads"], r["http_ingest"]
        print(f"{kind:>10} {q['requests']:>6} {q['errors'] + w['errors'] + f['errors']:>4} {q['p50_ms']:>7} "
              f"{q['p90_ms']:>7} {q['p99_ms']:>7} {q['max_ms']:>7} {w['events_per_s']:>12,.0f} "
              f"{f['events_per_s']:>12,.0f}")
        for error in q["first_errors"] + w["first_errors"] + f["first_errors"]:
            print(f"    error: {error}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
