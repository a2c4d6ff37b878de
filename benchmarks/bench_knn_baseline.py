"""KNN with baselines: teamrec against Surprise on MovieLens 100K, 5 folds, in one run.

    .venv/bin/python benchmarks/bench_knn_baseline.py [--data ../shared/data/ml-100k]
        [--config default|item-pearson-baseline|all] [--folds 5] [--threads N] [--mf]

For each fold ``u1`` .. ``u5`` it times fit + predicting the fold's test pairs, ours and
Surprise's ``KNNBaseline`` one after the other (same process, same data), checks that the
predictions agree, and prints the totals and the speed-up. Then it times ranking one
person's 1,000 candidate items (``recommend(..., candidates=...)``): the first request for a
person (computing their row of estimates) and the ones after it (the row is kept), next to
Surprise predicting the same 1,000 items one by one. ``--mf`` adds biased MF against
Surprise's SVD. Ours uses every core by default (BLAS products, the estimator's thread
pool); ``--threads 1`` compares single-threaded, as Surprise always is. Needs
``scikit-surprise`` (``pip install -e .[bench]``).
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.sparse as sp
import threadpoolctl

from teamrec.algorithms import knn_baseline
from teamrec.algorithms.biased_mf import BiasedMF
from teamrec.algorithms.knn_baseline import KNNBaseline

try:
    import surprise
except ImportError as exc:  # pragma: no cover - a benchmark-only dependency
    raise SystemExit("this benchmark needs scikit-surprise: pip install -e .[bench]") from exc

CONFIGS = {
    "default": ({}, {}),
    "item-pearson-baseline": (
        {"user_based": False, "similarity": "pearson_baseline"},
        {"sim_options": {"name": "pearson_baseline", "user_based": False}},
    ),
}
DEFAULT_DATA = Path(
    os.environ.get("TEAMREC_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data")
) / "ml-100k"


def read(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, sep="\t", names=["user", "item", "rating", "timestamp"])


def lookup(vocab: np.ndarray, values: np.ndarray) -> np.ndarray:
    pos = np.minimum(np.searchsorted(vocab, values), len(vocab) - 1)
    return np.where(vocab[pos] == values, pos, -1)


class Fold:
    def __init__(self, data: Path, n: int) -> None:
        self.base, self.test = read(data / f"u{n}.base"), read(data / f"u{n}.test")
        self.users, self.items = np.unique(self.base.user), np.unique(self.base.item)
        rows = np.searchsorted(self.users, self.base.user)
        cols = np.searchsorted(self.items, self.base.item)
        self.X = sp.csr_matrix(
            (self.base.rating.astype(float), (rows, cols)), shape=(len(self.users), len(self.items))
        )
        self.test_users = lookup(self.users, self.test.user.to_numpy())
        self.test_items = lookup(self.items, self.test.item.to_numpy())
        reader = surprise.Reader(rating_scale=(1, 5))
        self.trainset = surprise.Dataset.load_from_df(
            self.base[["user", "item", "rating"]], reader
        ).build_full_trainset()
        self.testset = list(zip(self.test.user, self.test.item, self.test.rating.astype(float), strict=True))


def timed(fn):
    start = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - start


def compare(folds: list[Fold], name: str, ours_opts: dict, theirs_opts: dict) -> KNNBaseline:
    print(f"\n== KNNBaseline, {name}: fit + predict each fold's test pairs ==")
    print(
        f"{'fold':>5} {'ours fit':>9} {'ours test':>10} {'Surprise fit':>13} {'Surprise test':>14} {'max |diff|':>11}"
    )
    total_ours = total_theirs = 0.0
    model = None
    for n, fold in enumerate(folds, start=1):
        model, fit = timed(lambda fold=fold: KNNBaseline(**ours_opts).fit(fold.X))
        preds, test = timed(lambda model=model, fold=fold: model.predict(fold.test_users, fold.test_items))
        algo, s_fit = timed(lambda fold=fold: surprise.KNNBaseline(verbose=False, **theirs_opts).fit(fold.trainset))
        s_preds, s_test = timed(lambda algo=algo, fold=fold: algo.test(fold.testset))
        diff = np.abs(preds.estimate - np.array([p.est for p in s_preds])).max()
        total_ours += fit + test
        total_theirs += s_fit + s_test
        print(f"{'u' + str(n):>5} {fit:9.3f} {test:10.3f} {s_fit:13.3f} {s_test:14.3f} {diff:11.1e}")
    print(
        f"total fit+test: ours {total_ours:.3f} s, Surprise {total_theirs:.3f} s, "
        f"speed-up {total_theirs / total_ours:.1f}x"
    )
    return model


def ranking(fold: Fold, model: KNNBaseline, theirs_opts: dict, n_people: int = 200) -> None:
    rng = np.random.default_rng(0)
    people = rng.choice(fold.X.shape[0], size=n_people, replace=False)
    lists = [rng.choice(fold.X.shape[1], size=1000, replace=False) for _ in people]
    model = KNNBaseline(**model.get_params()).fit(fold.X)  # nothing kept from earlier calls
    cold, warm = [], []
    for person, cand in zip(people, lists, strict=True):
        _, t = timed(lambda person=person, cand=cand: model.recommend([person], k=10, candidates=cand))
        cold.append(t)
        _, t = timed(lambda person=person, cand=cand: model.recommend([person], k=10, candidates=cand))
        warm.append(t)
    _, everyone = timed(lambda: KNNBaseline(**model.get_params()).fit(fold.X).score(np.arange(fold.X.shape[0])))
    algo = surprise.KNNBaseline(verbose=False, **theirs_opts).fit(fold.trainset)
    surprise_times = []
    for person, cand in list(zip(people, lists, strict=True))[:10]:
        uid = fold.users[person]
        _, t = timed(
            lambda uid=uid, cand=cand: sorted((algo.predict(uid, fold.items[i]).est for i in cand), reverse=True)[:10]
        )
        surprise_times.append(t)
    ms = lambda values, q: 1000 * float(np.percentile(values, q))  # noqa: E731
    print(f"\n== ranking one person's 1,000 candidate items (recommend(k=10, candidates=...), {n_people} people) ==")
    print(f"first request for a person (computes their row): median {ms(cold, 50):.3f} ms, p95 {ms(cold, 95):.3f} ms")
    print(f"later requests, or any after warm() (row kept):  median {ms(warm, 50):.3f} ms, p95 {ms(warm, 95):.3f} ms")
    print(f"every person's row at once ({fold.X.shape[0]} x {fold.X.shape[1]}): {everyone:.3f} s")
    print(f"Surprise, 1,000 predict() calls + sort:          median {ms(surprise_times, 50):.1f} ms")


def biased_mf(folds: list[Fold]) -> None:
    print("\n== biased MF (ours) vs Surprise SVD: fit + predict each fold's test pairs ==")
    print(f"{'fold':>5} {'ours':>8} {'RMSE':>7} {'Surprise':>9} {'RMSE':>7}")
    for n, fold in enumerate(folds, start=1):
        def ours(fold: Fold = fold) -> np.ndarray:
            return BiasedMF().fit(fold.X).predict(fold.test_users, fold.test_items).estimate

        def theirs(fold: Fold = fold) -> np.ndarray:
            algo = surprise.SVD(random_state=0).fit(fold.trainset)
            return np.array([p.est for p in algo.test(fold.testset)])

        est, t = timed(ours)
        s_est, s_t = timed(theirs)
        truth = fold.test.rating.to_numpy()
        rmse = lambda e, truth=truth: float(np.sqrt(np.mean((e - truth) ** 2)))  # noqa: E731
        print(f"{'u' + str(n):>5} {t:8.3f} {rmse(est):7.4f} {s_t:9.3f} {rmse(s_est):7.4f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="the ml-100k folder")
    parser.add_argument("--config", choices=[*CONFIGS, "all"], default="default")
    parser.add_argument("--folds", type=int, default=5, choices=range(1, 6))
    parser.add_argument("--threads", type=int, default=0, help="limit our threads (0: every core)")
    parser.add_argument("--mf", action="store_true", help="also biased MF vs Surprise SVD")
    args = parser.parse_args()
    folds = [Fold(args.data, n) for n in range(1, args.folds + 1)]
    names = list(CONFIGS) if args.config == "all" else [args.config]
    threads = args.threads or knn_baseline._THREADS
    knn_baseline._THREADS = threads
    print(f"MovieLens 100K from {args.data}; ours on {threads} thread(s), {os.cpu_count()} CPU(s)")
    with threadpoolctl.threadpool_limits(args.threads or None):
        for name in names:
            ours_opts, theirs_opts = CONFIGS[name]
            model = compare(folds, name, ours_opts, theirs_opts)
            ranking(folds[0], model, theirs_opts)
        if args.mf:
            biased_mf(folds)


if __name__ == "__main__":
    main()
