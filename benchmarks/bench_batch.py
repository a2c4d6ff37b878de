"""The batch job at 100, 300 and 1,000 teams: the local engine beside Spark local[2].

Run: ``.venv/bin/python benchmarks/bench_batch.py [--teams 100 300 1000] [--events-per-team 10000]``

For each size, a workload is generated (``teamrec generate``: long-tailed team sizes, read
and write logs; 10,000 events per team on average, so 10 million at 1,000 teams) and written
as Parquet partitioned by team; then every team is fitted (item-knn on the activity score
``log1p(reads + 5 writes)``), and its top-10 recommendations, similar items, people like each
person and saved model are written, by each engine in turn:

* ``local``: :func:`teamrec.batch.local.run_local` with 2 worker processes;
* ``spark``: :func:`teamrec.batch.spark.run_spark` on ``local[2]`` (the JVM is started once,
  before the clock, and its start-up is printed separately).

Printed per run: wall seconds, seconds per team (should stay flat as teams grow), the
summed per-team work (fit + recommend + similar lists, inside the tasks) and its share of
the wall time x 2 cores (the rest is reading, shuffling and writing), and the peak resident
memory of a task (one team in one worker process: the peak is reset when the task starts).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from teamrec.batch import BatchSpec  # noqa: E402
from teamrec.data.generate import ACTIVITY_MATRIX, generate_workload, write_workload  # noqa: E402
from teamrec.spec import TeamSpec  # noqa: E402

CORES = 2


def row(teams: int, events: int, engine: str, manifest: dict, wall: float) -> str:
    per_team = manifest["per_team"]
    work = sum(r["fit_seconds"] for r in per_team)
    rss = [r["peak_rss_mb"] for r in per_team]
    return (f"{teams:>6} {events:>11,} {engine:>6} {wall:>8.1f} {1000 * wall / teams:>10.1f} "
            f"{work:>9.1f} {100 * work / (wall * CORES):>7.0f}% {max(rss):>9.0f} {statistics.median(rss):>9.0f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--teams", type=int, nargs="+", default=[100, 300, 1000])
    parser.add_argument("--events-per-team", type=int, default=10_000)
    parser.add_argument("--engines", nargs="+", default=["local", "spark"], choices=["local", "spark"])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--models", action=argparse.BooleanOptionalAction, default=True)
    parser.add_argument("--workdir", type=Path, default=None, help="where to write (default: a temporary folder)")
    args = parser.parse_args()

    spec = BatchSpec(default=TeamSpec(algorithm="item-knn", matrix=ACTIVITY_MATRIX.model_dump()))
    work = args.workdir or Path(tempfile.mkdtemp(prefix="teamrec-bench-batch-"))
    print(f"machine: {os.cpu_count()} cores (shared with other jobs while measured); python {sys.version.split()[0]}")
    if "spark" in args.engines:
        from teamrec.batch.spark import spark_session

        start = time.perf_counter()
        spark_session("local[2]", partitions=16)
        print(f"spark local[2] session started in {time.perf_counter() - start:.1f} s (not counted below)")
    header = (f"{'teams':>6} {'events':>11} {'engine':>6} {'wall s':>8} {'ms/team':>10} "
              f"{'work s':>9} {'work%':>8} {'rss max':>9} {'rss med':>9}")
    lines = []
    try:
        for teams in args.teams:
            events = teams * args.events_per_team
            source = work / f"events-{teams}"
            start = time.perf_counter()
            workload = generate_workload(teams, events, seed=args.seed)
            gen = time.perf_counter() - start
            write_workload(workload, source)
            print(f"generated {events:,} events of {teams} teams in {gen:.1f} s, written in "
                  f"{time.perf_counter() - start - gen:.1f} s")
            for engine in args.engines:
                out = work / f"out-{teams}-{engine}"
                start = time.perf_counter()
                if engine == "local":
                    from teamrec.batch.local import run_local

                    manifest = run_local(source, out, spec, k=10, workers=CORES, models=args.models)
                else:
                    from teamrec.batch.spark import run_spark

                    manifest = run_spark(source, out, spec, k=10, master="local[2]", models=args.models)
                wall = time.perf_counter() - start
                lines.append(row(teams, events, engine, manifest, wall))
                print(header if len(lines) == 1 else "", lines[-1], sep="\n" if len(lines) == 1 else "", flush=True)
                shutil.rmtree(out, ignore_errors=True)
            shutil.rmtree(source, ignore_errors=True)
    finally:
        if args.workdir is None:
            shutil.rmtree(work, ignore_errors=True)
    print("\n== summary (work = per-team fit + recommend + similar lists inside the tasks; "
          f"work% = work / (wall x {CORES} cores); rss = peak resident MB of one task) ==")
    print(header)
    print("\n".join(lines))
    goal = [line for line in lines if line.split()[0] == "1000"]
    if goal:
        ok = all(float(line.split()[3]) < 120 for line in goal)
        print(f"goal (1,000 teams / 10M events under 120 s on each engine): {'met' if ok else 'NOT met'}")


if __name__ == "__main__":
    main()
