"""KNN with baselines: the contract, Surprise's KNNBaseline as the oracle (MovieLens 100K u1
and small -1/+1 data), and the parts Surprise does not have (ranking, fold-in, update)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from teamrec.algorithms.knn_baseline import KNNBaseline
from teamrec.errors import ModelTooLargeError, UnknownIdError
from teamrec.testing import AlgorithmContract, checkerboard

surprise = pytest.importorskip("surprise")


class TestKNNBaselineContract(AlgorithmContract):
    # A rating model: it estimates *values*, and the checkerboard's values (1..5, uniformly
    # random) carry no parity signal -- the parity is only in *which* cells are rated. The
    # estimate of an odd item for an even person is the baseline (no neighbour rated it),
    # of an even item the baseline plus noise, so the top-3 is no better than chance.
    learns_structure = False
    supports_similar_users = True

    def make(self) -> KNNBaseline:
        return KNNBaseline()


class TestKNNBaselineItemBasedContract(TestKNNBaselineContract):
    def make(self) -> KNNBaseline:
        return KNNBaseline(user_based=False, similarity="pearson_baseline")


# -- Surprise as the oracle ------------------------------------------------------------------


class Split:
    """A MovieLens base/test split as a matrix (ids mapped in sorted order, which is the
    order of first appearance in the files: they are sorted by user, then item)."""

    def __init__(self, base: pd.DataFrame, test: pd.DataFrame, rating_scale: tuple[float, float]) -> None:
        self.base, self.test = base, test
        self.users = np.unique(base.user)
        self.items = np.unique(base.item)
        rows = np.searchsorted(self.users, base.user)
        cols = np.searchsorted(self.items, base.item)
        self.X = sp.csr_matrix(
            (base.rating.astype(float), (rows, cols)), shape=(len(self.users), len(self.items))
        )
        self.test_users = _lookup(self.users, test.user.to_numpy())
        self.test_items = _lookup(self.items, test.item.to_numpy())
        reader = surprise.Reader(rating_scale=rating_scale)
        self.trainset = surprise.Dataset.load_from_df(base[["user", "item", "rating"]], reader).build_full_trainset()

    def surprise_predictions(self, **options) -> tuple[np.ndarray, np.ndarray]:
        algo = surprise.KNNBaseline(verbose=False, **options).fit(self.trainset)
        preds = [algo.predict(u, i) for u, i in zip(self.test.user, self.test.item, strict=True)]
        est = np.array([p.est for p in preds])
        actual_k = np.array([p.details.get("actual_k", 0) for p in preds])
        return est, actual_k


def _lookup(vocab: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Index of each value in the sorted ``vocab``, -1 when absent (unknown)."""
    pos = np.minimum(np.searchsorted(vocab, values), len(vocab) - 1)
    return np.where(vocab[pos] == values, pos, -1)


def _read(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, sep="\t", names=["user", "item", "rating", "timestamp"])


@pytest.fixture(scope="module")
def u1(ml100k_dir: Path) -> Split:
    return Split(_read(ml100k_dir / "u1.base"), _read(ml100k_dir / "u1.test"), (1, 5))


@pytest.mark.parametrize(
    ("ours", "theirs", "n_test"),
    [
        ({}, {}, None),  # Surprise's defaults: user-based, MSD, k=40, min_k=1, ALS baselines
        (
            {"user_based": False, "similarity": "pearson_baseline"},
            {"sim_options": {"name": "pearson_baseline", "user_based": False}},
            None,
        ),
        ({"similarity": "cosine", "k": 20}, {"k": 20, "sim_options": {"name": "cosine"}}, 4000),
        (
            {"user_based": False, "similarity": "pearson", "k": 10, "min_k": 3, "min_support": 3},
            {"k": 10, "min_k": 3, "sim_options": {"name": "pearson", "user_based": False, "min_support": 3}},
            4000,
        ),
    ],
    ids=["defaults", "item-pearson-baseline", "user-cosine", "item-pearson-min-support"],
)
def test_equals_surprise_on_movielens_u1(u1: Split, ours: dict, theirs: dict, n_test: int | None) -> None:
    if n_test is not None:  # a prefix of u1.test is enough for the other similarities
        u1 = Split(u1.base, u1.test.iloc[:n_test], (1, 5))
    expected, actual_k = u1.surprise_predictions(**theirs)
    model = KNNBaseline(**ours).fit(u1.X)
    preds = model.predict(u1.test_users, u1.test_items)
    np.testing.assert_allclose(preds.estimate, expected, rtol=0, atol=1e-6)
    known = (u1.test_users >= 0) & (u1.test_items >= 0)
    np.testing.assert_array_equal(preds.details["n_neighbors"][known], actual_k[known])
    assert (~known).sum() > 0 and preds.details["impossible"][~known].all()


def test_equals_surprise_on_plus_minus_one_votes() -> None:
    rng = np.random.default_rng(3)
    mask = rng.random((60, 45)) < 0.35
    votes = np.where(rng.random((60, 45)) < 0.6, 1.0, -1.0)
    users, items = np.nonzero(mask)
    base = pd.DataFrame({"user": users, "item": items, "rating": votes[users, items]})
    pairs = pd.DataFrame(
        {"user": rng.integers(0, 60, 400), "item": rng.integers(0, 45, 400), "rating": 0.0}
    )
    split = Split(base, pairs, (-1, 1))
    for ours, theirs in [
        ({}, {}),
        ({"user_based": False, "similarity": "pearson_baseline", "k": 5},
         {"k": 5, "sim_options": {"name": "pearson_baseline", "user_based": False}}),
    ]:
        expected, _ = split.surprise_predictions(**theirs)
        got = KNNBaseline(**ours).fit(split.X).predict(split.test_users, split.test_items).estimate
        np.testing.assert_allclose(got, expected, rtol=0, atol=1e-9)
        assert got.min() >= -1 and got.max() <= 1


# -- our own behaviour -----------------------------------------------------------------------


def _small() -> sp.csr_matrix:
    X = checkerboard(30, 24, density=0.6, seed=2).toarray()
    X[X == 0] = np.where(np.random.default_rng(1).random(X.shape) < 0.15, 3.0, 0.0)[X == 0]
    return sp.csr_matrix(X)


def test_score_rows_equal_predict_pairs_with_and_without_cache() -> None:
    X = _small()
    for options in [{}, {"user_based": False, "similarity": "pearson_baseline"}, {"k": 3, "similarity": "cosine"}]:
        cached = KNNBaseline(**options).fit(X)
        plain = KNNBaseline(cache_max_cells=0, **options).fit(X)
        users = np.repeat(np.arange(X.shape[0]), X.shape[1])
        items = np.tile(np.arange(X.shape[1]), X.shape[0])
        expected = plain.predict(users, items).estimate.reshape(X.shape)
        np.testing.assert_allclose(plain.score(np.arange(X.shape[0])), expected, atol=1e-12)
        np.testing.assert_allclose(cached.score(np.arange(X.shape[0])), expected, atol=1e-12)
        np.testing.assert_allclose(cached.score([3, 1]), expected[[3, 1]], atol=1e-12)


def test_ties_at_the_kth_neighbour_go_to_the_lower_index() -> None:
    # Person 0 agrees perfectly (MSD similarity 1) with people 1..4 on item 0; all of them
    # rated item 1. With k=2, people 1 and 2 are the neighbours, not 3 and 4.
    X = np.zeros((5, 2))
    X[:, 0] = 4
    X[1:, 1] = [5, 5, 1, 1]
    model = KNNBaseline(k=2, clip=False).fit(sp.csr_matrix(X))
    pred = model.predict(np.array([0]), np.array([1]))
    assert pred.details["n_neighbors"][0] == 2
    exp = model.explain(0, 1, n=5)
    assert sorted(c.index for c in exp.contributions if c.kind == "user") == [1, 2]


def test_predict_details_and_unknowns() -> None:
    X = _small()
    model = KNNBaseline(min_k=2).fit(X)
    preds = model.predict(np.array([0, 0, X.shape[0], -1]), np.array([1, X.shape[1], 1, 2]))
    mu, bu, bi = model.global_mean_, model.user_bias_, model.item_bias_
    np.testing.assert_allclose(preds.estimate[1:], [mu + bu[0], mu + bi[1], mu + bi[2]])
    assert preds.details["impossible"][1:].all()
    assert preds.details["n_neighbors"][1:].tolist() == [0, 0, 0]
    with pytest.raises(UnknownIdError):
        model.score([X.shape[0]])


def test_ranking_breaks_equal_estimates_by_neighbour_count() -> None:
    # Person 0 rated item 0; items 1 and 2 both estimate above the top of the scale (4 here)
    # and are clipped to it, item 1 on two neighbours, item 2 on four: item 2 ranks first.
    X = np.array(
        [
            [5, 0, 0],
            [5, 5, 5],
            [5, 0, 5],
            [5, 0, 5],
            [1, 1, 1],
        ],
        dtype=float,
    )
    model = KNNBaseline(rating_scale=(1.0, 4.0)).fit(sp.csr_matrix(X))
    est, counts = model._rank_keys(np.array([0]), None)
    assert est[0, 1] == est[0, 2] == 4.0 and (counts[0, 1], counts[0, 2]) == (2, 4)
    items, _ = model.recommend([0], k=2)
    assert items.tolist() == [[2, 1]]
    items, _ = model.recommend([0], k=2, candidates=np.array([2, 1]))
    assert items.tolist() == [[2, 1]]


@pytest.mark.parametrize(
    "cand", [np.array([3, 7, 1, 20, 11, 5, 16]), np.array([7, 2, 2, 19])], ids=["long-list", "short-list"]
)
def test_candidate_lists_rank_like_the_generic_path(cand: np.ndarray) -> None:
    X = _small()
    model = KNNBaseline(k=5).fit(X)
    mask = np.zeros(X.shape[1], dtype=bool)
    mask[cand] = True
    users = np.arange(X.shape[0])
    exclude = sp.csr_matrix(([1], ([2], [7])), shape=(len(users), X.shape[1]))
    fast = model.recommend(users, k=4, candidates=cand, exclude=exclude)
    generic = model.recommend(users, k=4, candidates=mask, exclude=exclude)
    np.testing.assert_array_equal(fast[0], generic[0])
    np.testing.assert_allclose(fast[1], generic[1])


def test_fold_in_reproduces_a_known_person() -> None:
    X = _small()
    for options in [{}, {"user_based": False, "similarity": "pearson_baseline"}]:
        model = KNNBaseline(**options).fit(X)
        users = np.array([4, 9])
        np.testing.assert_allclose(model.score(users, user_items=X[users]), model.score(users), atol=1e-9)


def test_update_with_new_people_matches_a_refit_for_msd() -> None:
    X = _small()
    rng = np.random.default_rng(5)
    extra = sp.csr_matrix(np.where(rng.random((2, X.shape[1])) < 0.5, rng.integers(1, 6, (2, X.shape[1])), 0.0))
    grown = sp.vstack([X, extra]).tolil()
    grown[0, 0] = 2.0  # and a changed rating
    grown = grown.tocsr()
    updated = KNNBaseline().fit(X).update(grown)
    refit = KNNBaseline().fit(grown)
    np.testing.assert_allclose(updated.sim_, refit.sim_, atol=1e-12)  # MSD needs no baselines
    users = np.arange(grown.shape[0])
    assert np.abs(updated.score(users) - refit.score(users)).mean() < 0.05  # warm-started baselines


def test_too_large_is_a_clear_error() -> None:
    X = sp.random(400, 50, density=0.1, format="csr", random_state=0)
    X.data = np.ceil(X.data * 5)
    with pytest.raises(ModelTooLargeError, match="max_memory_mb"):
        KNNBaseline(max_memory_mb=1).fit(X)


def test_explanation_adds_up_to_the_estimate() -> None:
    X = _small()
    model = KNNBaseline(clip=False, k=4).fit(X)
    exp = model.explain(2, 5, n=10)
    assert exp.contributions[0].kind == "baseline"
    assert sum(c.weight for c in exp.contributions) == pytest.approx(exp.score)


@pytest.mark.parametrize("seed", range(5))
def test_two_key_topk_equals_the_shared_helper(seed: int) -> None:
    from teamrec.algorithms import _topk
    from teamrec.algorithms.knn_baseline import _topk_two_keys

    rng = np.random.default_rng(seed)
    primary = rng.integers(0, 4, (6, 30)).astype(float)  # many ties
    primary[rng.random(primary.shape) < 0.2] = -np.inf
    primary[0] = -np.inf
    secondary = rng.integers(0, 3, primary.shape).astype(float)
    for k in (1, 5, 30, 40):
        got = _topk_two_keys(primary.copy(), secondary, k)
        want = _topk.topk(primary.copy(), k, secondary=secondary)
        np.testing.assert_array_equal(got[0], want[0])
        np.testing.assert_array_equal(got[1], want[1])


def test_warm_keeps_every_row_so_rankings_are_lookups():
    from teamrec.testing import random_matrix

    X = random_matrix(30, 25, density=0.4, seed=3)
    cold = KNNBaseline().fit(X)
    warm = KNNBaseline().fit(X).warm()
    assert warm._cached.all() and cold._cache is None
    cand = np.arange(0, 25, 3)  # a short list: estimated on its own when the row is not kept
    for u in range(30):
        a, b = cold.recommend([u], k=5, candidates=cand), warm.recommend([u], k=5, candidates=cand)
        np.testing.assert_array_equal(a[0], b[0])
        np.testing.assert_allclose(a[1], b[1], rtol=0, atol=1e-12)
    assert KNNBaseline(cache_max_cells=10).fit(X).warm()._cache is None  # too big to keep: nothing
