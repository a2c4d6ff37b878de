"""The shared top-k helper: best first, ties to the lower item index on every CPU."""

from __future__ import annotations

import numpy as np
import pytest

from teamrec.algorithms._topk import topk


def _reference(scores: np.ndarray, k: int) -> np.ndarray:
    """Stable full sort per row: by score descending, then item index ascending."""
    return np.array([np.lexsort((np.arange(len(row)), -row))[:k] for row in scores])


def test_ties_at_the_kth_score_go_to_the_lower_item_index():
    # Many items share the k-th score; argpartition (numpy's AVX-512 sort in particular) keeps
    # an arbitrary subset of them, which made popularity's precision depend on the CPU.
    rng = np.random.default_rng(0)
    scores = rng.integers(0, 4, size=(200, 3000)).astype(np.float64)
    for k in (1, 10, 257, 1000):
        indices, values = topk(scores.copy(), k)
        expected = _reference(scores, k)
        np.testing.assert_array_equal(indices, expected)
        np.testing.assert_array_equal(values, np.take_along_axis(scores, expected, axis=1))


def test_ties_with_excluded_cells_and_padding():
    scores = np.array([[1.0, 1.0, 1.0, 1.0, 2.0, 1.0], [0.0, 0.0, 0.0, 0.0, 0.0, 0.0]])
    exclude = np.array([[0, 1, 0, 0, 0, 0], [1, 1, 1, 1, 1, 0]], dtype=bool)
    indices, values = topk(scores, 3, exclude=exclude)
    np.testing.assert_array_equal(indices, [[4, 0, 2], [5, -1, -1]])
    np.testing.assert_array_equal(values[0], [2.0, 1.0, 1.0])
    assert np.isnan(values[1, 1:]).all()


@pytest.mark.parametrize("k", [1, 3, 7, 20])
def test_nan_and_infinite_scores(k):
    scores = np.array([[np.nan, np.inf, 1.0, np.inf, -np.inf, 1.0, 0.5]])
    indices, values = topk(scores, k)
    expected = [1, 3, 2, 5, 6, -1, -1][:k] + [-1] * max(0, k - 7)
    np.testing.assert_array_equal(indices[0], expected)


def test_one_row_at_a_time_gives_what_the_block_gives():
    """A request ranks one person (a fast path); a batch ranks many: the same items, in the
    same order, ties and infinities included."""
    rng = np.random.default_rng(7)
    block = rng.integers(0, 4, size=(40, 300)).astype(np.float64)  # many ties
    block[rng.random(block.shape) < 0.2] = -np.inf
    block[rng.random(block.shape) < 0.01] = np.inf
    block[5] = -np.inf  # a row with nothing eligible
    for k in (1, 7, 50, 299, 300, 310):
        many = topk(block.copy(), k)
        for r in range(len(block)):
            one = topk(block[r : r + 1].copy(), k)
            np.testing.assert_array_equal(one[0][0], many[0][r])
            np.testing.assert_array_equal(one[1][0], many[1][r])
