"""Co-occurrence: "people who joined this also joined" -- the counting baseline.

``similarity_[i, j]`` is the number of people who have both item *i* and item *j* (raw
co-counts, no normalisation, so popular items weigh more than with cosine). A person's score
for *i* sums the co-counts of *i* with each of the items they have (presence, not activity):
``score(u, i) = sum_{j in I(u)} C[i, j]``. Optionally only each item's ``neighbors`` largest
co-counts are kept. "People like you" are the people who share the most items with you.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from pydantic import Field

from teamrec.algorithms import _similarity as sim
from teamrec.algorithms import _topk
from teamrec.algorithms.base import AlgorithmConfig
from teamrec.algorithms.knn import ItemKNN


class CoOccurrenceConfig(AlgorithmConfig):
    neighbors: int | None = Field(None, ge=1, description="co-counts kept per item (None: all)")
    threads: int = Field(0, ge=0, description="threads for the co-count products (0: one per core)")


class CoOccurrence(ItemKNN):
    """Raw item-item co-counts; recommendations sum the co-counts of the person's items."""

    name = "cooccurrence"
    Config = CoOccurrenceConfig

    @property
    def _metric(self) -> str:
        return "count"

    def _person_rows(self, rows: sp.csr_matrix) -> sp.csr_matrix:
        return sim.binary(rows)

    def similar_users(self, users: np.ndarray | list[int], k: int = 10) -> tuple[np.ndarray, np.ndarray]:
        """The people who share the most items with each of ``users`` (never themself)."""
        self._check_fitted()
        users = np.atleast_1d(np.asarray(users, dtype=np.int64))
        B = sim.binary(self.X_)
        shared = (B[users] @ B.T).tocsr()
        shared.data[shared.indices == np.repeat(users, np.diff(shared.indptr))] = 0.0
        shared.eliminate_zeros()
        return _topk.topk_rows(shared, np.arange(len(users)), k, exclude_self=False)
