import numpy as np
import scipy.sparse as sp

from teamrec.algorithms.popularity import Popularity
from teamrec.testing import AlgorithmContract


class TestPopularityContract(AlgorithmContract):
    learns_structure = False
    supports_similar_items = False

    def make(self):
        return Popularity()


def test_popularity_counts_users_or_sums_values():
    X = sp.csr_matrix(np.array([[1, 0, 3], [2, 0, 0], [5, 1, 0]], dtype=float))
    np.testing.assert_array_equal(Popularity().fit(X).item_scores_, [3, 1, 1])
    np.testing.assert_array_equal(Popularity(by="value").fit(X).item_scores_, [8, 1, 3])
    items, _ = Popularity().fit(X).recommend([1], k=2)
    assert items.tolist() == [[1, 2]]  # item 0 seen; 1 and 2 tie, lower index first
