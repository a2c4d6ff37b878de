"""Sticky assignment of 100,000 people: teamrec's vectorised hash beside hashlib per id.

Run: ``.venv/bin/python benchmarks/bench_assignment.py [--ids N] [--repeats R]``

Both give every ``(team, person)`` an arm from a salted hash. The peer is the obvious way:
``hashlib.blake2b`` of ``"salt|experiment|team|person"`` per id in a Python loop, then the
same weight lookup. teamrec's ``assign`` hashes the ids' code points with NumPy (see
``teamrec/experiments/_hash.py``) and also decides the rollout (a second hash per team).
Timings alternate between the two (a busy machine slows both alike); best and median of the
repeats. The balance column is the chi-square p-value of the arms against the weights 1:2:1.
"""

from __future__ import annotations

import argparse
import hashlib
import statistics
import time

import numpy as np
from scipy import stats

from teamrec.experiments.assignment import assign
from teamrec.experiments.settings import parse_experiment

EXPERIMENT = parse_experiment({
    "name": "bench",
    "arms": [
        {"name": "a", "algorithm": "popularity", "weight": 1},
        {"name": "b", "algorithm": "item-knn", "weight": 2},
        {"name": "c", "algorithm": "ease", "weight": 1},
    ],
    "start": "2026-01-01T00:00:00Z",
    "salt": "s",
})


def hashlib_assign(team: str, persons: list[str]) -> np.ndarray:
    """The peer: one blake2b call per id, then the cumulative weights."""
    cumulative = np.cumsum(EXPERIMENT.weights)
    prefix = f"{EXPERIMENT.salt}|{EXPERIMENT.name}|{team}|"
    draws = np.fromiter(
        (int.from_bytes(hashlib.blake2b((prefix + p).encode(), digest_size=8).digest(), "little") >> 11
         for p in persons),
        dtype=np.float64, count=len(persons),
    ) * 2.0**-53
    return np.searchsorted(cumulative, draws, side="right")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ids", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    persons = [f"U{i:07d}" for i in range(args.ids)]
    array = np.asarray(persons, dtype=object)
    times: dict[str, list[float]] = {"teamrec assign": [], "hashlib per id": []}
    results = {}
    for _ in range(args.repeats):
        start = time.perf_counter()
        results["teamrec assign"] = assign(EXPERIMENT, "team", array)
        times["teamrec assign"].append(time.perf_counter() - start)
        start = time.perf_counter()
        results["hashlib per id"] = hashlib_assign("team", persons)
        times["hashlib per id"].append(time.perf_counter() - start)
    expected = args.ids * np.asarray(EXPERIMENT.weights)
    print(f"{args.ids:,} ids, {args.repeats} repeats (timings on a shared machine: compare the columns, not runs)")
    print(f"{'method':<16} {'best ms':>9} {'median ms':>10} {'balance p':>10}")
    for name, values in times.items():
        counts = np.bincount(results[name], minlength=3)
        p = stats.chisquare(counts, expected).pvalue
        print(f"{name:<16} {1e3 * min(values):>9.1f} {1e3 * statistics.median(values):>10.1f} {p:>10.3f}")


if __name__ == "__main__":
    main()
