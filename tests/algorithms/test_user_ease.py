"""User EASE: the contract, a dense reference, fold-in, the size guard and its choices of values."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from teamrec.algorithms.user_ease import UserEASE
from teamrec.errors import ModelTooLargeError
from teamrec.testing import AlgorithmContract, random_matrix


class TestUserEASEContract(AlgorithmContract):
    supports_similar_items = False
    supports_similar_users = True

    def make(self) -> UserEASE:
        return UserEASE(regularization=20.0)


def dense_user_ease(X: np.ndarray, lam: float) -> np.ndarray:
    """Every person's row regressed on the other people's rows, one ridge regression each."""
    n = X.shape[0]
    scores = np.empty_like(X)
    for u in range(n):  # the slow, obvious reference
        others = np.delete(np.arange(n), u)
        A = X[others]
        b = np.linalg.solve(A @ A.T + lam * np.eye(n - 1), A @ X[u])
        scores[u] = b @ A
    return scores


@pytest.mark.parametrize("lam", [0.5, 20.0, 300.0])
def test_equals_one_ridge_regression_per_person(lam: float) -> None:
    X = random_matrix(30, 40, density=0.25, seed=3)
    model = UserEASE(regularization=lam).fit(X)
    np.testing.assert_allclose(model.score(np.arange(30)), dense_user_ease(X.toarray(), lam), rtol=1e-8, atol=1e-10)


def test_a_fresh_row_is_regressed_on_the_other_people() -> None:
    X = random_matrix(30, 40, density=0.25, seed=4)
    model = UserEASE(regularization=5.0).fit(X)
    row = random_matrix(1, 40, density=0.3, seed=9)
    # person 2's events changed: regressed on everybody but person 2
    others = np.delete(np.arange(30), 2)
    A = X.toarray()[others]
    b = np.linalg.solve(A @ A.T + 5.0 * np.eye(29), A @ row.toarray()[0])
    np.testing.assert_allclose(model.score(np.array([2]), row)[0], b @ A, rtol=1e-8, atol=1e-10)
    # a person index past the stored ones excludes nobody
    A = X.toarray()
    b = np.linalg.solve(A @ A.T + 5.0 * np.eye(30), A @ row.toarray()[0])
    np.testing.assert_allclose(model.score(np.array([30]), row)[0], b @ A, rtol=1e-8, atol=1e-10)


def test_similar_users_are_the_largest_regression_weights() -> None:
    X = random_matrix(30, 40, density=0.25, seed=5)
    model = UserEASE(regularization=5.0).fit(X)
    P = model.gram_inverse_
    people, weights = model.similar_users([4], k=3)
    expected = -P[4] / P[4, 4]
    expected[4] = -np.inf
    assert list(people[0]) == list(np.argsort(-expected, kind="stable")[:3])
    np.testing.assert_allclose(weights[0], expected[people[0]])


def test_ratings_are_binarised_or_damped() -> None:
    X = sp.csr_matrix(np.array([[5.0, 3.0, 0.0], [4.0, 0.0, 1.0], [0.0, 2.0, 5.0]]))
    assert UserEASE().fit(X).binarized_
    kept = UserEASE(binary=False, value_power=0.5).fit(X)
    assert not kept.binarized_
    np.testing.assert_allclose(kept._V.toarray(), np.sqrt(X.toarray()))
    assert kept.lambda_ == pytest.approx(10.0 * X.sum() / 3)  # mean squared row norm of sqrt(X)


def test_too_many_people_is_a_clear_error() -> None:
    X = sp.random(300, 5, density=0.2, format="csr", random_state=0)
    with pytest.raises(ModelTooLargeError, match="300 people is over max_users=200"):
        UserEASE(max_users=200).fit(X)


def test_explain_names_the_people_behind_a_score() -> None:
    X = random_matrix(30, 40, density=0.25, seed=6)
    model = UserEASE(regularization=5.0).fit(X)
    item = int(np.argmax(np.where(X[0].toarray()[0] > 0, -np.inf, model.score(np.array([0]))[0])))
    why = model.explain(0, item, n=30)
    assert why.score == pytest.approx(model.score(np.array([0]))[0, item])
    assert all(c.kind == "user" and c.index != 0 for c in why.contributions)
