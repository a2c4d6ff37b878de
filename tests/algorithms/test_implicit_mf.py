"""ALS and BPR through ``implicit``: the contract, planted structure, the confidence and the
fold-in against a dense reference, updates and reproducibility."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from teamrec.algorithms.implicit_mf import ALS, BPR
from teamrec.algorithms.registry import create
from teamrec.testing import AlgorithmContract


class TestALSContract(AlgorithmContract):
    supports_similar_users = True

    def make(self) -> ALS:
        return ALS(factors=8, iterations=10)


class TestBPRContract(AlgorithmContract):
    supports_similar_users = True

    def make(self) -> BPR:
        return BPR(factors=8, iterations=100)


def planted(n_groups: int = 3, users_per: int = 30, items_per: int = 20, seed: int = 0) -> sp.csr_matrix:
    """Click counts: each person clicks (1-5 times) only items of their own group."""
    rng = np.random.default_rng(seed)
    n_users, n_items = n_groups * users_per, n_groups * items_per
    same = (np.arange(n_users)[:, None] // users_per) == (np.arange(n_items)[None, :] // items_per)
    clicks = rng.integers(1, 6, (n_users, n_items)) * (same & (rng.random((n_users, n_items)) < 0.4))
    return sp.csr_matrix(clicks.astype(np.float64))


@pytest.mark.parametrize("name", ["als", "bpr"])
def test_recovers_planted_groups(name: str) -> None:
    X = planted()
    model = create(name, {"factors": 8}).fit(X)
    group_u, group_i = np.arange(X.shape[0]) // 30, np.arange(X.shape[1]) // 20
    items, _ = model.recommend(np.arange(X.shape[0]), k=5)
    assert np.mean(group_i[items] == group_u[:, None]) > 0.95
    similar, _ = model.similar_items(np.arange(X.shape[1]), k=5)
    assert np.mean(group_i[similar] == group_i[:, None]) >= 0.9
    seen = X.toarray() > 0
    assert not seen[np.arange(X.shape[0])[:, None], items].any()


def test_als_fold_in_is_the_least_squares_solution_with_confidence() -> None:
    X = planted()
    alpha, reg = 4.0, 0.5
    model = ALS(factors=6, alpha=alpha, regularization=reg).fit(X)
    row = sp.csr_matrix(X[[3]].toarray())
    Y = model.item_factors_.astype(np.float64)
    c = 1.0 + alpha * row.toarray()[0]  # confidence; preference 1 where there is a click
    p = (row.toarray()[0] > 0).astype(float)
    A = Y.T @ (c[:, None] * Y) + reg * np.eye(Y.shape[1])
    x = np.linalg.solve(A, Y.T @ (c * p))
    np.testing.assert_allclose(model.score([0], user_items=row)[0], Y @ x, rtol=1e-4, atol=1e-4)


def test_als_update_folds_in_new_people_and_items() -> None:
    X = planted()
    model = ALS(factors=8).fit(X)
    before = model.item_factors_.copy()
    new_person = sp.csr_matrix(X[[5]].toarray())  # a copy of person 5 (group 0)
    new_item = sp.csr_matrix(X[:, [45]].toarray())  # a copy of item 45 (group 2)
    grown = sp.vstack([sp.hstack([X, new_item]), sp.hstack([new_person, sp.csr_matrix((1, 1))])]).tocsr()
    model.update(grown)
    assert model.user_factors_.shape[0] == X.shape[0] + 1
    assert model.item_factors_.shape[0] == X.shape[1] + 1
    np.testing.assert_array_equal(model.item_factors_[:5], before[:5])  # untouched items stay
    items, _ = model.recommend([X.shape[0]], k=5)
    assert np.all(items[0] // 20 == 0)
    similar, _ = model.similar_items([X.shape[1]], k=5)
    assert np.mean(similar[0] // 20 == 2) >= 0.8


def test_bpr_fold_in_scores_the_persons_group() -> None:
    X = planted()
    model = BPR(factors=8).fit(X)
    row = sp.csr_matrix(X[[40]].toarray())  # group 1
    items, _ = model.recommend([0], k=5, user_items=row)
    assert np.all(items[0] // 20 == 1)


@pytest.mark.parametrize("cls", [ALS, BPR])
def test_same_seed_same_factors(cls) -> None:
    X = planted()
    a, b = cls(factors=4, random_state=3).fit(X), cls(factors=4, random_state=3).fit(X)
    np.testing.assert_array_equal(a.item_factors_, b.item_factors_)
    np.testing.assert_array_equal(a.user_factors_, b.user_factors_)


def test_als_gives_the_same_factors_on_any_number_of_threads():
    # Reproducible everywhere (issue 11): each person's and item's ALS solve is independent, so
    # implicit's threads change the speed, never the result. BPR's Hogwild threads would, which
    # is why BPR runs on one thread unless asked.
    rng = np.random.default_rng(0)
    X = sp.random(300, 200, density=0.05, random_state=1, format="csr")
    X.data[:] = rng.integers(1, 5, X.nnz)
    one = create("als", {"num_threads": 1, "iterations": 4}).fit(X)
    two = create("als", {"num_threads": 2, "iterations": 4}).fit(X)
    np.testing.assert_array_equal(one.user_factors_, two.user_factors_)
    np.testing.assert_array_equal(one.item_factors_, two.item_factors_)
    assert create("bpr").config.num_threads == 1
