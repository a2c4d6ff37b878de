"""The activity model's transforms and people like you, measured (issue 13, items 5 and 6).

Run: ``.venv/bin/python benchmarks/bench_activity_people.py [--data FOLDER] [--seed N]``

1. One-class RMSE (``occf-rmse``: 20 % of the filled entries held out plus as many empty cells
   with value 0) of ``knn-regression`` with and without its per-pair activity transforms, on
   Last.fm 2K (play counts) and the Slack export (messages and replies per person and
   channel), on raw and on log activity, for the old defaults (20 neighbours, absent activity
   counts 0: ``mode=all``, unshrunk transforms), the new neighbour mode alone (every similar
   channel, only the neighbours the person is active in: ``mode=active``) and the new
   defaults (that mode, transforms shrunk towards the identity: ``transform_shrinkage=5``).
   Estimates are now always clipped to the observed range, in every row.
2. Friends recall@10 (``people-like-you``: the share of each Last.fm listener's declared
   friends among their 10 most similar listeners, from listening alone) for random lists (the
   exact expectation, and one seeded draw), plain cosine, cosine with inverse-user-frequency
   weighting of artists, and teamrec's user-knn default (IUF + hubness correction), on play
   counts and on 0/1 listening.

Everything goes through the library form of ``teamrec evaluate`` (same splits, same seed).
BLAS is single-threaded (the machine is shared); no timings are reported.
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import scipy.sparse as sp  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = ROOT.parent / "shared" / "data"

SETTINGS: tuple[tuple[str, dict], ...] = (
    ("old defaults", {"neighbors": 20, "mode": "all", "transform_shrinkage": 0.0}),
    ("active, unshrunk", {"transform_shrinkage": 0.0}),
    ("new defaults", {}),
)


def load(folder: Path, fmt: str, scale: str):
    from teamrec.data.matrix import MatrixConfig, build_matrix
    from teamrec.data.sources import read_source

    log1p, binary = scale == "log1p", scale == "binary"
    if fmt == "lastfm":
        config = MatrixConfig(agg="sum", log1p=log1p, binary=binary)
    else:  # activity from messages and replies (membership alone has no scale to transform)
        config = MatrixConfig(kinds=("message", "reply"), agg="sum", log1p=log1p, binary=binary)
    dataset = read_source(folder, fmt)
    return build_matrix(dataset, config=config)


def occf_rows(folder: Path, fmt: str, seed: int) -> list[tuple[str, ...]]:
    from teamrec.evaluation import AlgorithmSpec, EvalData, create_protocol, evaluate

    rows = []
    for scale in ("raw", "log1p"):
        matrix = load(folder, fmt, scale)
        data = EvalData(matrix.matrix)
        for setting, params in SETTINGS:
            specs = [AlgorithmSpec("knn-regression", "with", dict(params)),
                     AlgorithmSpec("knn-regression", "without", {**params, "transforms": False})]
            result = evaluate(data, create_protocol("occf-rmse"), specs, seed=seed)
            with_t, without_t = (r.metrics["rmse"] for r in result.results)
            rows.append((scale, setting, f"{with_t:.4f}", f"{without_t:.4f}", f"{with_t / without_t - 1:+.1%}"))
    return rows


def random_draw(friends: sp.csr_matrix, k: int, seed: int) -> float:
    """Friends recall@k of k people drawn uniformly at random (without u) for every u."""
    n = friends.shape[0]
    rng = np.random.default_rng(seed)
    keys = rng.random((n, n))
    np.fill_diagonal(keys, np.inf)
    lists = np.argsort(keys, axis=1)[:, :k]
    counts = np.diff(friends.indptr)
    has = counts > 0
    picked = sp.csr_matrix((np.ones(n * k), (np.repeat(np.arange(n), k), lists.ravel())), shape=(n, n))
    hits = np.asarray(picked.multiply(friends).sum(axis=1)).ravel()
    return float(np.mean(hits[has] / np.minimum(counts[has], k)))


def people_rows(folder: Path, seed: int) -> list[tuple[str, ...]]:
    from teamrec.data.sources.lastfm import read_friendships
    from teamrec.evaluation import AlgorithmSpec, EvalData, create_protocol, evaluate
    from teamrec.evaluation.protocols import friendship_matrix

    pairs = read_friendships(folder)
    rows = []
    for scale in ("raw", "binary"):
        matrix = load(folder, "lastfm", scale)
        n = matrix.matrix.shape[0]
        friends = friendship_matrix(matrix.users.lookup(pairs["user"].to_numpy(), missing="ignore"),
                                    matrix.users.lookup(pairs["friend"].to_numpy(), missing="ignore"), n)
        data = EvalData(matrix.matrix, pairs=friends)
        specs = [
            AlgorithmSpec("user-knn", "plain cosine", {"weighting": "none", "hubness": 0.0}),
            AlgorithmSpec("user-knn", "cosine + IUF", {"hubness": 0.0}),
            AlgorithmSpec("user-knn", "teamrec user-knn default"),
        ]
        result = evaluate(data, create_protocol("people-like-you"), specs, k=10, seed=seed)
        expected = result.results[0].metrics["random_recall@10"]
        rows.append((scale, "random (expectation)", f"{expected:.4f}"))
        rows.append((scale, f"random (one draw, seed {seed})", f"{random_draw(friends, 10, seed):.4f}"))
        rows += [(scale, r.label, f"{r.metrics['friends_recall@10']:.4f}") for r in result.results]
    return rows


def show(title: str, header: tuple[str, ...], rows: list[tuple[str, ...]]) -> None:
    widths = [max(len(str(x)) for x in col) for col in zip(header, *rows, strict=False)]
    print(title)
    print("  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)))
    for row in rows:
        print("  ".join(str(x).ljust(w) for x, w in zip(row, widths, strict=True)))
    print()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="the shared data folder")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    header = ("activity", "knn-regression", "RMSE with transforms", "RMSE without", "change")
    show("One-class RMSE, Last.fm 2K (play counts)", header,
         occf_rows(args.data / "lastfm-2k", "lastfm", args.seed))
    show("One-class RMSE, Slack export (messages + replies)", header,
         occf_rows(args.data / "slack-export-sample", "slack-export", args.seed))
    show("People like you, Last.fm 2K: friends recall@10", ("listening", "similar people from", "recall@10"),
         people_rows(args.data / "lastfm-2k", args.seed))


if __name__ == "__main__":
    main()
