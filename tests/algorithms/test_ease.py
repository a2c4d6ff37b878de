"""EASE: the contract, a dense reference, the size guard and the Woodbury update."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from teamrec.algorithms.ease import EASE, binarize, gram_inverse, looks_like_ratings, spd_inverse
from teamrec.errors import ModelTooLargeError
from teamrec.testing import AlgorithmContract, random_matrix


class TestEASEContract(AlgorithmContract):
    def make(self) -> EASE:
        return EASE(regularization=20.0)


def dense_ease(X: np.ndarray, lam: float) -> np.ndarray:
    """Steck (2019), algorithm 1, in plain NumPy."""
    G = X.T @ X + lam * np.eye(X.shape[1])
    P = np.linalg.inv(G)
    B = P / (-np.diag(P))
    np.fill_diagonal(B, 0.0)
    return B


@pytest.mark.parametrize("lam", [0.5, 50.0, 500.0])
def test_equals_the_dense_reference(lam: float) -> None:
    X = random_matrix(40, 30, density=0.25, seed=7)
    model = EASE(regularization=lam).fit(X)
    B = dense_ease(X.toarray(), lam)
    np.testing.assert_allclose(model.score(np.arange(40)), X.toarray() @ B, rtol=1e-9, atol=1e-10)
    assert np.all(np.diag(model._weights) == 0)


def test_too_many_items_is_a_clear_error() -> None:
    X = sp.random(5, 300, density=0.1, format="csr", random_state=0)
    with pytest.raises(ModelTooLargeError, match="max_items=200.*als"):
        EASE(max_items=200).fit(X)


def test_refuses_what_memory_cannot_hold(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("teamrec.algorithms.ease.available_memory", lambda: 1000)
    with pytest.raises(ModelTooLargeError, match="available"):
        EASE().fit(random_matrix(10, 20))


def test_update_is_exact_for_new_and_changed_people() -> None:
    X = random_matrix(60, 30, density=0.3, seed=1)
    grown = sp.vstack([X, random_matrix(2, 30, density=0.3, seed=2)]).tolil()
    grown[5, :] = 0
    grown[6, 3] = 4.0
    grown = grown.tocsr()
    model = EASE(regularization=5.0, refit_fraction=1.0).fit(X)
    model.update(grown)
    refit = EASE(regularization=5.0).fit(grown)
    users = np.arange(grown.shape[0])
    np.testing.assert_allclose(model.score(users), refit.score(users), atol=1e-9)


def test_fold_in_scores_a_new_person_from_their_items() -> None:
    X = random_matrix(30, 20, density=0.3, seed=3)
    model = EASE(regularization=10.0).fit(X)
    row = sp.csr_matrix(X[4].toarray())
    np.testing.assert_allclose(model.score([0], user_items=row), model.score([4]))


@pytest.mark.parametrize("n", [300, 301])
def test_blocked_inverse_equals_the_dense_inverse(monkeypatch: pytest.MonkeyPatch, n: int) -> None:
    monkeypatch.setattr("teamrec.algorithms.ease.LEAF", 64)
    rng = np.random.default_rng(n)
    M = rng.standard_normal((n + 20, n))
    A = M.T @ M + 5.0 * np.eye(n)
    expected = np.linalg.inv(A)
    P = spd_inverse(A.copy())
    np.testing.assert_allclose(P, expected, rtol=1e-9, atol=1e-11)
    np.testing.assert_array_equal(P, P.T)


def test_ratings_are_binarised_and_lambda_follows_the_gram_diagonal() -> None:
    stars = sp.csr_matrix(np.where(np.eye(6, 8, dtype=bool) | np.eye(6, 8, 2, dtype=bool), 4.0, 0.0))
    assert looks_like_ratings(stars) and not looks_like_ratings(stars * 0.3)
    model = EASE().fit(stars)
    assert model.binarized_
    # binary: mean diagonal of X'X is the mean item popularity, nnz / n_items
    assert model.lambda_ == pytest.approx(10.0 * stars.nnz / 8)
    same = EASE(binary=True, regularization=model.lambda_).fit(binarize(stars))
    np.testing.assert_allclose(model.score(np.arange(6)), same.score(np.arange(6)), atol=1e-12)
    kept = EASE(binary=False).fit(stars)
    assert not kept.binarized_ and kept.lambda_ == pytest.approx(10.0 * 16.0 * stars.nnz / 8)


def test_counts_and_fractional_activity_are_not_ratings() -> None:
    assert not looks_like_ratings(sp.csr_matrix(np.array([[1.0, 25.0, 3.0]])))
    assert not looks_like_ratings(sp.csr_matrix(np.array([[1.0, 1.0, 0.0]])))
    assert not looks_like_ratings(sp.csr_matrix(np.array([[0.69, 1.1, 0.0]])))


def _seventeen_thousand_items() -> sp.csr_matrix:
    """17,000 items kept cheap by sparsity: 60 groups of items no person links (the first,
    2,300 items, larger than LEAF: the blocked path), 1,600 items of one person each, and
    2,600 items nobody touched."""
    rng = np.random.default_rng(0)
    rows, cols, start = [], [], 0
    for group, size in enumerate([2_300] + [150] * 59):
        people = np.repeat(np.arange(group * 40, group * 40 + 40), 12)
        rows.append(people)
        cols.append(start + rng.integers(0, size, people.size))
        start += size
    rows.append(np.arange(2_400, 4_000))
    cols.append(start + np.arange(1_600))
    X = sp.csr_matrix((np.ones(sum(map(len, rows))), (np.concatenate(rows), np.concatenate(cols))),
                      shape=(4_000, 17_000))
    X.data[:] = 1.0
    return X


def test_seventeen_thousand_items_invert_without_crashing() -> None:
    """Issue 13: multithreaded OpenBLAS potrf segfaulted at ~16,000 items (Last.fm 2K: 17,632).
    The Gram inverse of 17,000 items (one dense 2.3 GB result), columns checked against a
    direct sparse solve."""
    X = _seventeen_thousand_items()
    gram = sp.csr_matrix(X.T @ X)
    P = gram_inverse(gram, 3.0)
    regularised = sp.csc_matrix(gram + 3.0 * sp.identity(17_000))
    for col in (0, 2_299, 4_321, 11_500, 16_999):  # blocked group, small group, items alone (one unused)
        e = np.zeros(17_000)
        e[col] = 1.0
        np.testing.assert_allclose(P[:, col], spla.spsolve(regularised, e), atol=1e-10)


def test_seventeen_thousand_items_fit_or_are_refused_clearly() -> None:
    """The whole model holds two dense 17,000-square matrices: it fits where the memory is
    there, else refuses with the project's error naming the memory; never a crash."""
    try:
        model = EASE().fit(_seventeen_thousand_items())
    except ModelTooLargeError as exc:
        assert "GiB" in str(exc) and "available" in str(exc)
        return
    assert model.gram_inverse_.shape == (17_000, 17_000) and np.isfinite(model.score(np.arange(10))).all()


def test_gram_inverse_is_the_inverse_whatever_the_components() -> None:
    X = sp.csr_matrix(np.array([[1, 1, 0, 0, 0], [0, 1, 0, 0, 0], [0, 0, 1, 0, 0], [0, 0, 0, 1, 1.0]]))
    got = gram_inverse(sp.csr_matrix(X.T @ X), 2.0)
    np.testing.assert_allclose(got, np.linalg.inv((X.T @ X).toarray() + 2.0 * np.eye(5)), atol=1e-12)
    linked = sp.csr_matrix(np.ones((3, 5)))
    np.testing.assert_allclose(gram_inverse(sp.csr_matrix(linked.T @ linked), 1.0),
                               np.linalg.inv((linked.T @ linked).toarray() + np.eye(5)), atol=1e-12)


def test_update_on_ratings_stays_exact_on_the_binarised_rows() -> None:
    X = sp.csr_matrix(np.round(random_matrix(60, 30, density=0.3, seed=8).toarray()))
    grown = X.tolil()
    grown[3, :] = 0
    grown[4, 7] = 5.0
    grown = grown.tocsr()
    model = EASE(regularization=5.0, refit_fraction=1.0).fit(X)
    assert model.binarized_
    model.update(grown)
    refit = EASE(regularization=5.0).fit(grown)
    np.testing.assert_allclose(model.score(np.arange(60)), refit.score(np.arange(60)), atol=1e-9)


def test_dropout_is_edlae_penalty_on_the_gram_diagonal() -> None:
    """Steck (2020): the penalty lambda I + p / (1 - p) diag(X'X), then EASE's zero diagonal."""
    X = random_matrix(40, 30, density=0.25, seed=8)
    model = EASE(regularization=5.0, dropout=0.25).fit(X)
    D = X.toarray()
    G = D.T @ D
    P = np.linalg.inv(G + np.diag(5.0 + (0.25 / 0.75) * np.diag(G)))
    B = P / (-np.diag(P))
    np.fill_diagonal(B, 0.0)
    np.testing.assert_allclose(model.score(np.arange(40)), D @ B, rtol=1e-9, atol=1e-10)
    grown = sp.vstack([X, random_matrix(3, 30, density=0.3, seed=1)]).tocsr()
    np.testing.assert_allclose(model.update(grown).score(np.arange(43)),
                               EASE(regularization=5.0, dropout=0.25).fit(grown).score(np.arange(43)))


def test_value_power_damps_the_values_kept() -> None:
    X = sp.csr_matrix(np.array([[4.0, 1.0, 0.0], [0.0, 9.0, 1.0], [1.0, 0.0, 4.0]]))
    model = EASE(binary=False, value_power=0.5, regularization=1.0).fit(X)
    reference = EASE(binary=False, regularization=1.0).fit(sp.csr_matrix(np.sqrt(X.toarray())))
    np.testing.assert_allclose(model.score(np.arange(3)), reference.score(np.arange(3)))
