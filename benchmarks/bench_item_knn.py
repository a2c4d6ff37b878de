"""Item-item cosine KNN on Last.fm 2K: teamrec's ItemKNN beside implicit's CosineRecommender.

Run: ``.venv/bin/python benchmarks/bench_item_knn.py [--repeats N] [--data PATH]``

Both fit the same users x artists play-count matrix (1,892 x 17,632, 92,834 entries) and keep
the 20 nearest neighbours of every artist, on every core (and, for reference, on one).
implicit counts an artist among its own K neighbours, so it is run with K=20 (its default:
19 others) and K=21 (20 others, what ItemKNN(neighbors=20) keeps). Timings alternate
between the libraries (so a busy machine slows both alike) and report the best and the
median of the repeats; memory is the peak resident-set growth during one fit in a fresh
process (sampled), and the size of the neighbour matrix.
Agreement is the share of implicit's K=21 neighbours (self removed) that ItemKNN also keeps.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import warnings
from pathlib import Path

import scipy.sparse as sp

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = ROOT.parent / "shared" / "data" / "lastfm-2k" / "user_artists.dat"
K = 20


def load_matrix(path: Path) -> sp.csr_matrix:
    """The play-count matrix, read and built the way teamrec does it."""
    from teamrec.data.matrix import build_matrix
    from teamrec.data.sources import read_source

    return build_matrix(read_source(path, "lastfm")).matrix


def fit_ours(X: sp.csr_matrix, threads: int = 0):
    from teamrec.algorithms.knn import ItemKNN

    return ItemKNN(neighbors=K, threads=threads).fit(X).similarity_


def fit_implicit(X: sp.csr_matrix, k: int, threads: int = 0):
    from implicit.nearest_neighbours import CosineRecommender

    model = CosineRecommender(K=k, num_threads=threads)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.fit(X, show_progress=False)
    return model.similarity


def _rss_mb() -> float:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def child(which: str, npz: str) -> None:
    """One fit in this fresh process; prints its peak resident-set growth (sampled every
    0.2 ms by a thread) and the size of the neighbour matrix, as JSON."""
    X = sp.load_npz(npz).tocsr()
    import implicit.nearest_neighbours  # noqa: F401 - imports before the baseline

    import teamrec.algorithms.knn  # noqa: F401

    base = _rss_mb()
    peak = [base]
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            peak[0] = max(peak[0], _rss_mb())
            time.sleep(0.0002)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    S = fit_ours(X) if which == "ours" else fit_implicit(X, int(which.split("=")[1]))
    done.set()
    sampler.join()
    peak[0] = max(peak[0], _rss_mb())
    S = sp.csr_matrix(S)
    size = S.data.nbytes + S.indices.nbytes + S.indptr.nbytes
    print(json.dumps({"peak_growth_mb": peak[0] - base, "result_mb": size / 2**20}))


def neighbour_sets(S: sp.csr_matrix) -> list[set[int]]:
    S = sp.csr_matrix(S)
    return [set(S.indices[S.indptr[i] : S.indptr[i + 1]]) - {i} for i in range(S.shape[0])]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--npz", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.npz)
        return

    X = load_matrix(args.data)
    print(f"Last.fm 2K: {X.shape[0]:,} users x {X.shape[1]:,} artists, {X.nnz:,} play counts; "
          f"{os.cpu_count()} cores; K={K}")
    runs = {"teamrec ItemKNN(neighbors=20)": lambda: fit_ours(X),
            "implicit CosineRecommender(K=20)": lambda: fit_implicit(X, 20),
            "implicit CosineRecommender(K=21)": lambda: fit_implicit(X, 21),
            "teamrec, 1 thread": lambda: fit_ours(X, threads=1),
            "implicit K=21, 1 thread": lambda: fit_implicit(X, 21, threads=1)}
    for fn in runs.values():  # warm up: imports, thread pools, caches
        fn()
    times: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(args.repeats):
        for name, fn in runs.items():
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)

    with tempfile.TemporaryDirectory() as tmp:
        npz = os.path.join(tmp, "X.npz")
        sp.save_npz(npz, X)
        memory = {}
        for name, which in zip(runs, ["ours", "implicit=20", "implicit=21"], strict=True):  # all cores
            out = subprocess.run([sys.executable, __file__, "--child", which, "--npz", npz],
                                 capture_output=True, text=True, check=True)
            memory[name] = json.loads(out.stdout.strip().splitlines()[-1])

    ours = neighbour_sets(fit_ours(X))
    theirs = neighbour_sets(fit_implicit(X, 21))
    kept = sum(len(a & b) for a, b in zip(ours, theirs, strict=True)) / max(sum(len(b) for b in theirs), 1)

    print(f"\n{'':34s} {'best s':>8s} {'median s':>9s} {'peak RSS +MB':>13s} {'result MB':>10s}")
    for name in runs:
        t = times[name]
        m = memory.get(name)
        mem = f"{m['peak_growth_mb']:13.1f} {m['result_mb']:10.2f}" if m else f"{'':13s} {'':10s}"
        print(f"{name:34s} {min(t):8.4f} {statistics.median(t):9.4f} {mem}")
    ref = "implicit CosineRecommender(K=21)"
    mine = "teamrec ItemKNN(neighbors=20)"
    print(f"\nteamrec / implicit(K=21): best {min(times[mine]) / min(times[ref]):.2f}x, "
          f"median {statistics.median(times[mine]) / statistics.median(times[ref]):.2f}x (below 1: faster); "
          f"one thread each: {min(times['teamrec, 1 thread']) / min(times['implicit K=21, 1 thread']):.2f}x")
    print(f"agreement: {kept:.2%} of implicit's neighbours (K=21, self removed) are also teamrec's "
          "(the rest are ties broken differently)")


if __name__ == "__main__":
    main()
