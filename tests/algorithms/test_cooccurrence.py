"""Co-occurrence: the contract, a dense reference, explanations and updates."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from teamrec.algorithms.cooccurrence import CoOccurrence
from teamrec.testing import AlgorithmContract, random_matrix


class TestCoOccurrenceContract(AlgorithmContract):
    supports_similar_users = True

    def make(self):
        return CoOccurrence()


class TestPrunedCoOccurrenceContract(TestCoOccurrenceContract):
    def make(self):
        return CoOccurrence(neighbors=8)


def reference(X: sp.csr_matrix, k: int | None) -> np.ndarray:
    B = (X.toarray() != 0).astype(float)
    C = B.T @ B
    np.fill_diagonal(C, 0)
    out = np.zeros_like(C)
    for i in range(len(C)):
        cand = sorted((j for j in range(len(C)) if C[i, j] > 0), key=lambda j: (-C[i, j], j))
        cand = cand if k is None else cand[:k]
        out[i, cand] = C[i, cand]
    return out


@pytest.mark.parametrize("k", [None, 3])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_matches_dense_reference(k, seed):
    X = random_matrix(30, 20, density=0.3, seed=seed)
    model = CoOccurrence(neighbors=k).fit(X)
    C = reference(X, k)
    np.testing.assert_array_equal(model.similarity_.toarray(), C)
    B = (X.toarray() != 0).astype(float)
    # Presence, not activity: the person's items each add their raw co-count.
    np.testing.assert_allclose(model.score(np.arange(30)), B @ C.T, atol=1e-9)


def test_people_who_joined_this_also_joined():
    # #ml (0) shares 3 people with #data (1), 1 with #stats (2), none with #random (3).
    X = sp.csr_matrix(
        np.array([[1, 1, 0, 0], [1, 1, 0, 0], [1, 1, 1, 0], [0, 0, 1, 1], [0, 1, 1, 1]], dtype=float)
    )
    model = CoOccurrence().fit(X)
    items, scores = model.similar_items([0], k=3)
    assert items[0].tolist() == [1, 2, -1] and scores[0, :2].tolist() == [3.0, 1.0]
    # Person 3 (#stats, #random) is offered #data (2 + 1) before #ml (1 + 0).
    items, scores = model.recommend([3], k=2)
    assert items[0].tolist() == [1, 0] and scores[0].tolist() == [3.0, 1.0]
    exp = model.explain(3, 1)
    assert [(c.index, c.weight) for c in exp.contributions] == [(2, 2.0), (3, 1.0)]
    people, shared = model.similar_users([0], k=2)
    assert people[0].tolist() == [1, 2] and shared[0].tolist() == [2.0, 2.0]


def test_update_equals_refit():
    X = random_matrix(25, 15, density=0.3, seed=3)
    dense = np.vstack([X.toarray(), np.eye(15)[:2] * 3])
    dense[0] = 0
    dense[0, :2] = 1
    grown = sp.csr_matrix(dense)
    updated = CoOccurrence().fit(X).update(grown)
    np.testing.assert_array_equal(updated.similarity_.toarray(), CoOccurrence().fit(grown).similarity_.toarray())
