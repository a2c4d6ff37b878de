"""What ranks ``knn-regression``'s top-N lists: the estimate alone against the estimate weighed by
the neighbours behind it, on ml-100k, Deskdrop and Last.fm 2K.

Run: ``.venv/bin/python benchmarks/bench_knn_regression_ranking.py [--only ml-100k,deskdrop,lastfm]``

Each data set is split once (seed 0) as its ``teamrec evaluate`` command in docs/benchmarks.md
splits it (ml-100k: ratings, per-user 25 % holdout, nDCG@10; Deskdrop: event strengths, log1p,
people with 5+ items, each held-out article among 100 sampled ones, recall@10; Last.fm: log
plays, per-user 20 % holdout, nDCG@10). One model with the defaults (mode ``active``) is fitted
per data set; only the ranking changes between the rows, never the estimate (:meth:`predict`):

* ``estimate alone``: ``pred(u, c)``, the ranking before (ties by the lower item index);
* ``estimate, ties by neighbours``: the same, equal estimates ordered by how many active
  neighbours stand behind them (what KNN with baselines does);
* ``estimate x D / (D + lam)``: the estimate shrunk towards 0 (absent activity) by the
  similarity mass ``D(u, c)`` of the active neighbours it averages over;
* ``estimate x D``: the limit as ``lam`` grows, the default ranking now.
"""

from __future__ import annotations

import os

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import sys  # noqa: E402
import warnings  # noqa: E402
from collections.abc import Callable  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import scipy.sparse as sp  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_quality import DATA, deskdrop  # noqa: E402

from teamrec.algorithms import _similarity as sim  # noqa: E402
from teamrec.algorithms.knn_regression import KNNRegression  # noqa: E402
from teamrec.data.matrix import build_matrix, default_config  # noqa: E402
from teamrec.data.sources import read_source  # noqa: E402
from teamrec.evaluation.protocols import EvalData, Holdout, Sampled  # noqa: E402

SEED = 0
LAMBDAS = (1.0, 10.0, 100.0, 1000.0)


class Ranked(KNNRegression):
    """The default model with its ranking chosen by :attr:`rule` (the estimate is untouched)."""

    rule: tuple[str, float] = ("product", 0.0)

    def _parts(self, users: np.ndarray, user_items: sp.spmatrix | None) -> tuple[np.ndarray, ...]:
        rows = self._rows(np.atleast_1d(users), user_items)
        present = sim.binary(rows)
        num = (rows @ self._w_slope).toarray() + (present @ self._w_intercept).toarray()
        n_active = (present @ self._w_pattern).toarray()
        den = (present @ self._w_sim).toarray()
        possible = (n_active > 0) & (den > 0)
        est = np.clip(np.divide(num, den, out=np.zeros_like(num), where=possible), 0.0, self._ceiling)
        return est, den, n_active, possible

    def _keys(self, users: np.ndarray, user_items: sp.spmatrix | None) -> tuple[np.ndarray, np.ndarray | None]:
        est, den, n_active, possible = self._parts(users, user_items)
        kind, lam = self.rule
        secondary = None
        if kind == "estimate":
            primary = est
        elif kind == "ties":
            primary, secondary = est, n_active
        elif kind == "shrunk":
            primary = est * den / (den + lam)
        else:
            primary = est * den
        return np.where(possible, primary, -np.inf), secondary

    def score(self, users: np.ndarray, user_items: sp.spmatrix | None = None) -> np.ndarray:
        primary = self._keys(users, user_items)[0]
        primary[~np.isfinite(primary)] = 0.0  # impossible: 0, as the model's own score
        return primary

    def _rank_keys(self, users: np.ndarray, user_items: sp.spmatrix | None) -> tuple[np.ndarray, np.ndarray | None]:
        return self._keys(users, user_items)


def ml100k() -> sp.csr_matrix:
    return build_matrix(read_source(DATA / "ml-100k" / "u.data", "movielens"),
                        config=default_config("movielens")).matrix


def lastfm() -> sp.csr_matrix:
    return build_matrix(read_source(DATA / "lastfm-2k" / "user_artists.dat", "lastfm"),
                        config=default_config("lastfm")).matrix  # log plays, the format's default


SETS: dict[str, tuple[Callable[[], sp.csr_matrix], Holdout | Sampled, str]] = {
    "ml-100k": (ml100k, Holdout(test_share=0.25), "ndcg@10"),
    "deskdrop": (deskdrop, Sampled(negatives=100), "recall@10"),
    "lastfm": (lastfm, Holdout(test_share=0.2), "ndcg@10"),
}
RULES = ([("estimate alone (before)", ("estimate", 0.0)), ("estimate, ties by neighbours", ("ties", 0.0))]
         + [(f"estimate x D / (D + {lam:g})", ("shrunk", lam)) for lam in LAMBDAS]
         + [("estimate x D (default)", ("product", 0.0))])


def run(name: str) -> None:
    load, protocol, metric = SETS[name]
    X = load()
    split = protocol.splits(EvalData(X), SEED)[0]
    model = Ranked().fit(split.train)
    print(f"\n## {name}: {X.shape[0]:,} people, {X.shape[1]:,} items; {protocol.name}, "
          f"{split.n_test:,} held out; {metric}", flush=True)
    print(f"| top-N ranking | {metric} |\n|---|---|")
    for label, rule in RULES:
        if rule[0] == "ties" and isinstance(protocol, Sampled):
            print(f"| {label} | not run (the sampled protocol ranks by one score) |")
            continue
        model.rule = rule
        print(f"| {label} | {protocol.evaluate(model, split, 10).metrics[metric]:.4f} |", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default=",".join(SETS), help="comma-separated data sets")
    args = parser.parse_args()
    warnings.filterwarnings("ignore", message="OpenBLAS is configured")
    print("knn-regression top-N ranking: seed 0, one BLAS thread, default model (mode active)")
    for name in args.only.split(","):
        run(name.strip())


if __name__ == "__main__":
    main()
