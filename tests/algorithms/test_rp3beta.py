"""RP3beta: the contract and a dense reference of the three-step walk."""

from __future__ import annotations

import numpy as np
import pytest

from teamrec.algorithms import rp3beta
from teamrec.algorithms.rp3beta import RP3beta
from teamrec.testing import AlgorithmContract, random_matrix


class TestRP3betaContract(AlgorithmContract):
    def make(self) -> RP3beta:
        return RP3beta(neighbors=20)


def dense_rp3beta(X: np.ndarray, alpha: float, beta: float, k: int) -> np.ndarray:
    B = (X > 0).astype(float)
    P_ui = (B / np.maximum(B.sum(1, keepdims=True), 1)) ** alpha
    P_iu = (B.T / np.maximum(B.sum(0)[:, None], 1)) ** alpha
    pop = B.sum(0)
    W = (P_iu @ P_ui) * np.where(pop > 0, np.maximum(pop, 1) ** -beta, 0.0)[None, :]
    np.fill_diagonal(W, 0.0)
    for row in W:  # keep each row's k largest
        if (row > 0).sum() > k:
            row[row < np.sort(row)[-k]] = 0.0
    return W


@pytest.mark.parametrize("alpha, beta, k", [(1.0, 0.0, 30), (0.8, 0.5, 5), (1.2, 0.3, 10)])
def test_equals_the_dense_reference(monkeypatch: pytest.MonkeyPatch, alpha: float, beta: float, k: int) -> None:
    monkeypatch.setattr(rp3beta, "BLOCK_CELLS", 7 * 30)  # several blocks of source items
    X = random_matrix(40, 30, density=0.3, seed=11)
    model = RP3beta(alpha=alpha, beta=beta, neighbors=k).fit(X)
    W = dense_rp3beta(X.toarray(), alpha, beta, k)
    np.testing.assert_allclose(model.similarity_.toarray(), W, rtol=1e-12, atol=1e-15)
    B = (X.toarray() > 0).astype(float)
    np.testing.assert_allclose(model.score(np.arange(40)), B @ W, rtol=1e-12, atol=1e-15)


def test_beta_pushes_popular_items_down() -> None:
    X = random_matrix(60, 30, density=0.3, seed=5)
    pop = np.asarray((X > 0).sum(0)).ravel()
    plain = RP3beta(beta=0.0).fit(X).recommend(np.arange(60), k=3)[0]
    penalised = RP3beta(beta=1.0).fit(X).recommend(np.arange(60), k=3)[0]
    assert pop[penalised].mean() < pop[plain].mean()
