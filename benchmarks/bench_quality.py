"""Recommendation quality: teamrec's default ``auto`` beside the peers, on the same splits.

Run: ``.venv/bin/python benchmarks/bench_quality.py [--only ml-100k,deskdrop,lastfm,slack] [--defaults]``
(``--defaults``: the measurements behind each default -- EASE's and user EASE's lambda,
binarising or damping ratings, EDLAE's dropout, item-knn's neighbourhood, ALS's alpha,
RP3beta's beta, Mult-DAE alone and blended -- on the same splits).

One run, one split per data set (seed 0), every model fitted on the same training matrix and
measured by teamrec's own protocols (:mod:`teamrec.evaluation.protocols`):

* ml-100k: per-user random 75/25 holdout, every rating counts as relevant, nDCG@10;
* Deskdrop: Moreira's sampled protocol (event strengths, people with 5+ items, log1p), each
  held-out article ranked among 100 untouched ones, *ties counted against the held-out
  article* (the protocol's own rule sends ties to the lower item index; here the ranks come
  from the same :func:`~teamrec.evaluation.metrics.sampled_ranks` with the held-out item put
  last among equals), recall@10;
* Last.fm 2K: binary listening, per-user 20 % holdout, nDCG@10;
* the Slack export: channel membership, per-user 20 % holdout, nDCG@10.

Peers: implicit's ALS, BPR and CosineRecommender (its defaults, on the binary matrix), a plain
NumPy EASE (lambda 500 on the binary matrix, as Steck's paper), and popularity. Everything
runs on one BLAS thread (the machine is shared); ``auto`` searches on a validation split carved
from the training matrix only.
"""

from __future__ import annotations

import os

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402
from collections.abc import Callable  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import scipy.sparse as sp  # noqa: E402

from teamrec.algorithms import _topk  # noqa: E402
from teamrec.algorithms.base import Algorithm, AlgorithmConfig  # noqa: E402
from teamrec.algorithms.registry import create  # noqa: E402
from teamrec.data.dataset import Dataset  # noqa: E402
from teamrec.data.matrix import build_matrix, default_config  # noqa: E402
from teamrec.data.sources import read_source  # noqa: E402
from teamrec.evaluation import metrics as M  # noqa: E402
from teamrec.evaluation import split as S  # noqa: E402
from teamrec.evaluation.protocols import EvalData, Holdout, Sampled  # noqa: E402

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
SEED = 0
TARGETS = {"ml-100k": 0.50, "deskdrop": 0.57, "lastfm": 0.235, "slack": None}


# -- peers, wrapped in teamrec's contract so that the protocols measure them the same way ------
class _Peer(Algorithm):
    """A peer model: ``fit`` returns its scorer, ``(users, binary rows) -> dense scores``."""

    Config = AlgorithmConfig

    def __init__(self, name: str, fit: Callable[[sp.csr_matrix], Scorer]) -> None:
        super().__init__()
        self.name = name  # type: ignore[misc]
        self._fitter = fit

    def _fit(self, X: sp.csr_matrix) -> None:
        self._scorer = self._fitter(binary(X))

    def score(self, users: np.ndarray, user_items: sp.spmatrix | None = None) -> np.ndarray:
        users = np.atleast_1d(users)
        return np.asarray(self._scorer(users, binary(self._rows(users, user_items))), dtype=np.float64)


Scorer = Callable[[np.ndarray, sp.csr_matrix], np.ndarray]


def binary(X: sp.spmatrix) -> sp.csr_matrix:
    out = sp.csr_matrix(X, dtype=np.float64, copy=True)
    out.eliminate_zeros()
    out.data[:] = 1.0
    return out


def numpy_ease(X: sp.csr_matrix, lam: float = 500.0) -> Scorer:
    """Steck (2019), algorithm 1, in plain NumPy."""
    G = (X.T @ X).toarray()
    G[np.diag_indices(G.shape[0])] += lam
    P = np.linalg.inv(G)
    B = P / (-np.diag(P))
    np.fill_diagonal(B, 0.0)
    return lambda users, rows: np.asarray(rows @ B)


def implicit_als(X: sp.csr_matrix) -> Scorer:
    from implicit.cpu.als import AlternatingLeastSquares

    model = AlternatingLeastSquares(random_state=SEED, num_threads=1)
    model.fit(X.astype(np.float32), show_progress=False)
    users, items = model.user_factors, model.item_factors
    return lambda u, rows: users[u] @ items.T


def implicit_bpr(X: sp.csr_matrix) -> Scorer:
    from implicit.cpu.bpr import BayesianPersonalizedRanking

    model = BayesianPersonalizedRanking(random_state=SEED, num_threads=1)
    model.fit(X.astype(np.float32), show_progress=False)
    users, items = model.user_factors, model.item_factors
    return lambda u, rows: users[u] @ items.T


def implicit_cosine(X: sp.csr_matrix) -> Scorer:
    from implicit.nearest_neighbours import CosineRecommender

    model = CosineRecommender()
    model.fit(X, show_progress=False)
    S_ = model.similarity.tocsr()
    return lambda users, rows: (rows @ S_).toarray()


def popularity(X: sp.csr_matrix) -> Scorer:
    counts = np.asarray(X.sum(axis=0)).ravel()
    return lambda users, rows: np.tile(counts, (rows.shape[0], 1))


PEERS = {
    "implicit ALS": implicit_als,
    "implicit BPR": implicit_bpr,
    "implicit cosine": implicit_cosine,
    "numpy EASE": numpy_ease,
    "popularity": popularity,
}


# -- data sets ---------------------------------------------------------------------------------
def ml100k() -> sp.csr_matrix:
    return build_matrix(read_source(DATA / "ml-100k" / "u.data", "movielens"),
                        config=default_config("movielens")).matrix


def deskdrop() -> sp.csr_matrix:
    data = read_source(DATA / "deskdrop" / "users_interactions.csv", "deskdrop")
    strength = {"VIEW": 1.0, "LIKE": 2.0, "BOOKMARK": 2.5, "FOLLOW": 3.0, "COMMENT CREATED": 4.0}
    events = data.events.copy()
    events["value"] = events["kind"].map(strength).fillna(events["value"]).to_numpy(dtype=float)
    data = Dataset(events=events, items=data.items, users=data.users, info=dict(data.info))
    config = default_config("deskdrop").model_copy(update={"log1p": True, "min_user_interactions": 5})
    return build_matrix(data, config=config).matrix


def lastfm() -> sp.csr_matrix:
    config = default_config("lastfm", {"binary": True})
    return build_matrix(read_source(DATA / "lastfm-2k" / "user_artists.dat", "lastfm"), config=config).matrix


def slack() -> sp.csr_matrix:
    return build_matrix(read_source(DATA / "slack-export-sample", "slack-export"),
                        config=default_config("slack-export")).matrix


#: data set -> (loader, protocol, metric measured, auto's validation metric: the same measure)
SETS = {"ml-100k": (ml100k, Holdout(test_share=0.25), "ndcg@10", "ndcg@10"),
        "deskdrop": (deskdrop, Sampled(negatives=100), "recall@10", "sampled-recall@10"),
        "lastfm": (lastfm, Holdout(test_share=0.2), "ndcg@10", "ndcg@10"),
        "slack": (slack, Holdout(test_share=0.2), "ndcg@10", "ndcg@10")}


def sampled_recall_ties_against(model: Algorithm, split: S.Split) -> float:
    """recall@10 of the sampled protocol with every tie counted against the held-out item."""
    users, inverse = np.unique(split.users, return_inverse=True)
    test_scores = np.empty(split.n_test)
    neg_scores = np.full(split.negatives.shape, -np.inf)
    valid = split.negatives >= 0
    step = _topk.user_batches(len(users), split.shape[1])
    for start in range(0, len(users), step):
        block = np.asarray(model.score(users[start : start + step]), dtype=np.float64)
        rows = np.flatnonzero((inverse >= start) & (inverse < start + step))
        local = inverse[rows] - start
        test_scores[rows] = block[local, split.items[rows]]
        neg_scores[rows] = np.where(valid[rows], block[local[:, None], np.maximum(split.negatives[rows], 0)], -np.inf)
    last = np.full(split.n_test, split.shape[1])  # the held-out item sorts after every tied negative
    ranks = M.sampled_ranks(test_scores, last, neg_scores, split.negatives)
    return M.sampled_recall(ranks, [10])["recall@10"]


def measure(model: Algorithm, protocol, split: S.Split, metric: str) -> float:  # noqa: ANN001
    if isinstance(protocol, Sampled):
        return sampled_recall_ties_against(model, split)
    return protocol.evaluate(model, split, 10).metrics[metric]


def run(name: str, peers: list[str]) -> None:
    load, protocol, metric, select_by = SETS[name]
    X = load()
    split = protocol.splits(EvalData(X), SEED)[0]
    print(f"\n## {name}: {X.shape[0]:,} users, {X.shape[1]:,} items, {X.nnz:,} entries; "
          f"{protocol.name}, {split.n_test:,} held out; {metric}", flush=True)
    rows = []
    t0 = time.perf_counter()
    auto = create("auto", {"metric": select_by}).fit(split.train)
    rows.append(("teamrec auto", measure(auto, protocol, split, metric), time.perf_counter() - t0))
    s = auto.summary()
    chosen = f"{s['algorithm']} {s['params']}" + (" (budget cut the search)" if s["budget_cut"] else "")
    for label, fit in PEERS.items():
        if label not in peers:
            continue
        t0 = time.perf_counter()
        peer = _Peer(label, fit).fit(split.train)
        rows.append((label, measure(peer, protocol, split, metric), time.perf_counter() - t0))
    best_peer = max(rows[1:], key=lambda r: r[1])
    print(f"| model | {metric} | fit + measure s |\n|---|---|---|")
    for label, value, seconds in rows:
        print(f"| {label} | {value:.4f} | {seconds:.1f} |")
    print(f"auto chose: {chosen}; validation {s['metric']} by candidate: "
          + ", ".join(f"{r['algorithm']}{r['params'] or ''} {r[s['metric']]:.4f}" for r in s["validation"]))
    ours = rows[0][1]
    target = TARGETS[name]
    verdict = f"auto - best peer ({best_peer[0]}) = {ours - best_peer[1]:+.4f}"
    if target is not None:
        verdict += f"; target {target}: {'reached' if ours >= target else f'missed by {target - ours:.4f}'}"
    print(verdict, flush=True)


#: --defaults: the settings behind each default, (label, algorithm, parameters).
DEFAULT_SWEEP = [
    ("ease lambda 3 x mean diag(X'X)", "ease", {"regularization_scale": 3.0}),
    ("ease lambda 10 x mean diag(X'X) (default)", "ease", {}),
    ("ease lambda 30 x mean diag(X'X)", "ease", {"regularization_scale": 30.0}),
    ("ease lambda 500 fixed (old default), values as given", "ease", {"regularization": 500.0, "binary": False}),
    ("ease lambda 500 fixed, binarised", "ease", {"regularization": 500.0, "binary": True}),
    ("ease default lambda, values as given", "ease", {"binary": False}),
    ("ease default lambda, values ** 0.5", "ease", {"binary": False, "value_power": 0.5}),
    ("ease dropout 0.25 (EDLAE)", "ease", {"dropout": 0.25}),
    ("ease dropout 0.5 (EDLAE)", "ease", {"dropout": 0.5}),
    ("ease dropout 0.25 (EDLAE), values ** 0.5", "ease", {"binary": False, "value_power": 0.5, "dropout": 0.25}),
    ("user-ease lambda 3 x mean diag(XX')", "user-ease", {"regularization_scale": 3.0}),
    ("user-ease lambda 10 x mean diag(XX') (default)", "user-ease", {}),
    ("user-ease lambda 30 x mean diag(XX')", "user-ease", {"regularization_scale": 30.0}),
    ("user-ease default lambda, values ** 0.5", "user-ease", {"binary": False, "value_power": 0.5}),
    ("blend: user-ease + half ease, both on values ** 0.5", "blend",
     {"first": "user-ease", "first_params": {"binary": False, "value_power": 0.5}, "second": "ease",
      "second_params": {"binary": False, "value_power": 0.5}, "weight": 0.5}),
    ("blend: user-ease on values ** 0.5 + quarter rp3beta 0.5", "blend",
     {"first": "user-ease", "first_params": {"binary": False, "value_power": 0.5}, "second": "rp3beta",
      "second_params": {"beta": 0.5}, "weight": 0.25}),
    ("user-knn 100 neighbours", "user-knn", {"neighbors": 100}),
    ("item-knn 50 neighbours, no shrinkage (old default)", "item-knn", {"neighbors": 50, "shrinkage": 0.0}),
    ("item-knn 200 neighbours, shrinkage 10 (default)", "item-knn", {}),
    ("als alpha 1 (default)", "als", {"alpha": 1.0}),
    ("als alpha 10", "als", {"alpha": 10.0}),
    ("als alpha 40", "als", {"alpha": 40.0}),
    ("als alpha 1, regularization 50, 128 factors", "als", {"alpha": 1.0, "regularization": 50.0, "factors": 128}),
    ("rp3beta beta 0", "rp3beta", {"beta": 0.0}),
    ("rp3beta beta 0.3", "rp3beta", {"beta": 0.3}),
    ("rp3beta beta 0.5 (default)", "rp3beta", {}),
    ("mult-dae (default: 100 hidden, 100 epochs)", "mult-dae", {}),
    ("blend: ease on values ** 0.5 + quarter mult-dae", "blend",
     {"first": "ease", "first_params": {"binary": False, "value_power": 0.5}, "second": "mult-dae", "weight": 0.25}),
    ("blend: user-ease on values ** 0.5 + quarter mult-dae", "blend",
     {"first": "user-ease", "first_params": {"binary": False, "value_power": 0.5}, "second": "mult-dae",
      "weight": 0.25}),
    ("blend: user-ease on values ** 0.5 + half mult-dae", "blend",
     {"first": "user-ease", "first_params": {"binary": False, "value_power": 0.5}, "second": "mult-dae",
      "weight": 0.5}),
]


def sweep(name: str) -> None:
    """The measurements behind the defaults, on the same split as :func:`run`."""
    load, protocol, metric, _ = SETS[name]
    X = load()
    split = protocol.splits(EvalData(X), SEED)[0]
    print(f"\n## defaults on {name}: {X.shape[1]:,} items; {protocol.name}; {metric}")
    print(f"| setting | {metric} |\n|---|---|")
    for label, algorithm, params in DEFAULT_SWEEP:
        dense = {"ease", "mult-dae"} & {algorithm, params.get("first"), params.get("second")}
        if dense and X.shape[1] > 12_000:
            print(f"| {label} | not run ({X.shape[1]:,} items: a dense inverse per setting) |")
            continue
        model = create(algorithm, params).fit(split.train)
        print(f"| {label} | {measure(model, protocol, split, metric):.4f} |", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default=",".join(SETS), help="comma-separated data sets")
    parser.add_argument("--defaults", action="store_true", help="measure the settings behind the defaults instead")
    parser.add_argument("--peers", default=",".join(PEERS), help="comma-separated peers (default: all)")
    args = parser.parse_args()
    warnings.filterwarnings("ignore", message="OpenBLAS is configured")
    warnings.filterwarnings("ignore", message="Method expects CSR input")
    print("quality benchmark: seed 0, one BLAS thread, timings under shared load")
    peers = [p.strip() for p in args.peers.split(",")]
    for name in args.only.split(","):
        if args.defaults:
            sweep(name.strip())
        else:
            run(name.strip(), peers)


if __name__ == "__main__":
    main()
