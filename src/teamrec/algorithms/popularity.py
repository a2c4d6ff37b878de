"""Popularity: the baseline every other algorithm must beat, and the fallback for strangers.

The score of item *i* is the number of users who have it (``by="users"``) or the sum of its
values (``by="value"``): the same list for everyone, minus what each person already has.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import scipy.sparse as sp

from teamrec.algorithms.base import Algorithm, AlgorithmConfig, Contribution, Explanation


class PopularityConfig(AlgorithmConfig):
    by: Literal["users", "value"] = "users"


class Popularity(Algorithm):
    """Most popular items first."""

    name = "popularity"
    Config = PopularityConfig
    config: PopularityConfig

    def _fit(self, X: sp.csr_matrix) -> None:
        if self.config.by == "users":
            self.item_scores_ = np.bincount(X.indices, minlength=X.shape[1]).astype(np.float64)
        else:
            self.item_scores_ = np.asarray(X.sum(axis=0)).ravel()

    def update(self, X) -> Popularity:
        # Counting is additive, but the whole column sum is one sparse pass: cheaper than
        # bookkeeping deltas, and exact.
        return self.fit(X)

    def score(self, users: np.ndarray, user_items: sp.spmatrix | None = None) -> np.ndarray:
        self._check_fitted()
        return np.tile(self.item_scores_, (len(np.atleast_1d(users)), 1))

    def explain(self, user: int, item: int, n: int = 5) -> Explanation:
        self._check_fitted()
        score = float(self.item_scores_[item])
        return Explanation(
            user=user,
            item=item,
            score=score,
            contributions=[Contribution("popularity", item, score, {"by": self.config.by})],
        )
