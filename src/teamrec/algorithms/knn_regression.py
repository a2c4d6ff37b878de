"""KNN regression with activity transforms: Slack's channel recommender.

The predicted activity of person *u* in channel *c* is the similarity-weighted average of
*u*'s activity in the ``neighbors`` channels most similar to *c* (``N(c)``, the row
``similarity_[c]``)::

    pred(u, c) = sum_{j in N(c), x_uj > 0} s_cj * f_cj(x_uj)  /  D(u, c)

    D(u, c) = sum_{j in N(c)} s_cj                 mode="all":    u's absent activity counts 0
    D(u, c) = sum_{j in N(c), x_uj > 0} s_cj       mode="active": only the neighbours u is in

and ``pred`` is clipped to ``[0, x_max]``, ``x_max`` the largest activity in the training
data: a steep transform fitted on a few common people can extrapolate below zero or far
beyond any activity ever seen.

Defaults (measured, ``benchmarks/bench_activity_people.py`` and docs/benchmarks.md): give the
model *log* activity (``--log1p``: play or message counts are heavy-tailed, and on raw counts a
few heavy users make the squared error) and average over the neighbours the person is active
in (``mode="active"``) among *every* positively similar channel (``neighbors=None``), and
shrink each transform towards the identity with ``transform_shrinkage=5``. Under these
defaults the transforms lower the one-class RMSE on both Last.fm 2K and the Slack export
(messages and replies); with ``mode="all"``, on raw counts, or unshrunk on the small Slack
export, they raise it.

With ``transforms=True`` (the default) each observed activity first goes through
``f_cj(x) = a_cj x + b_cj``, the line mapping channel *j*'s activity to channel *c*'s scale,
fitted by least squares on the members *c* and *j* share plus one ``(0, 0)`` point, then
shrunk towards the identity, ``a' = (n a + lam) / (n + lam)`` and ``b' = n b / (n + lam)``
with ``n`` the common members and ``lam`` = ``transform_shrinkage`` (formula and degenerate
cases in :mod:`teamrec.algorithms._similarity`): a line through two or three people's points
is mostly noise. The transforms of every pair
come from five sparse products, blockwise; only those of neighbour pairs are kept
(``slope_``, ``intercept_``, same pattern as ``similarity_``). With ``transforms=False``,
``f`` is the identity.

Everything is a sparse product over many people at once: with ``W_a = (S * A).T``,
``W_b = (S * B).T`` and ``P`` the neighbour pattern, the numerators of a block of people are
``X_u @ W_a + binary(X_u) @ W_b``. A prediction is *impossible* when *u* is active in none of
*c*'s neighbours; its estimate is then 0 and it is never recommended.
:meth:`predict` returns ``details``: ``n_neighbors`` (neighbours the average runs over: all of
``N(c)`` in mode "all", the active ones in mode "active"), ``n_active`` and ``impossible``.

**Top-N lists** (:meth:`score`, :meth:`recommend`) rank by the estimate weighed by the
similarity mass behind it, not by the estimate alone::

    rank(u, c) = pred(u, c) * D(u, c)      mode="active"
    rank(u, c) = pred(u, c)                mode="all"

In mode "active" ``pred`` is an average over the neighbours the person is active in, however
few: a channel whose one weakly similar neighbour holds the person's favourite channel gets
as high an estimate as one backed by twenty close neighbours, and ranking by ``pred`` fills
every list with such channels (holdout nDCG@10 0.066 on ml-100k, 0.002 on Last.fm). Weighing
by ``D`` (the similarities of those active neighbours, the mass the average rests on) is the
limit of shrinking the estimate towards 0, absent activity, ``pred * D / (D + lam)`` as
``lam`` grows; on ml-100k, Deskdrop and Last.fm the measured nDCG@10 / recall@10 rises with
``lam`` and levels off from ``lam`` about 100 at the limit's figures (docs/benchmarks.md), so
the limit is used and has no parameter. A tie-break by the number of neighbours alone leaves
ml-100k at 0.066: estimates rarely tie. Mode "all" already counts absent neighbours as 0 in
its average (``D`` is the whole neighbourhood), so its estimate ranks as it is. The estimate
itself (:meth:`predict`, the one-class RMSE protocols) is the same in both modes.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import scipy.sparse as sp
from pydantic import Field

from teamrec.algorithms import _similarity as sim
from teamrec.algorithms import _topk
from teamrec.algorithms.base import AlgorithmConfig, Contribution, Explanation, Predictions
from teamrec.algorithms.knn import _Neighbourhood
from teamrec.errors import DataError


class KNNRegressionConfig(AlgorithmConfig):
    neighbors: int | None = Field(None, ge=1, description="channels in each neighbourhood (None: all)")
    similarity: Literal["cosine", "jaccard", "pearson"] = Field("cosine", description="channel similarity")
    shrinkage: float = Field(0.0, ge=0.0, description="multiply by n_common / (n_common + shrinkage)")
    mode: Literal["all", "active"] = Field("active", description="average over all k neighbours or the active ones")
    transforms: bool = Field(True, description="map each neighbour's activity to the channel's scale")
    transform_shrinkage: float = Field(
        5.0, ge=0.0, description="pull a pair's transform towards the identity: weight of y = x against n_common"
    )
    threads: int = Field(0, ge=0, description="threads for the products (0: one per core)")


class KNNRegression(_Neighbourhood):
    """Predicted activity of a person in a channel from their activity in similar channels."""

    name = "knn-regression"
    Config = KNNRegressionConfig
    config: KNNRegressionConfig
    slope_: sp.csr_matrix
    intercept_: sp.csr_matrix
    axis = "item"
    predicts_values = True

    def _fit(self, X: sp.csr_matrix) -> None:
        if X.data.min() < 0:
            raise DataError(f"{self.name}: activity must be non-negative (found {X.data.min():g})")
        super()._fit(X)

    def _rows_state(self, X: sp.csr_matrix, targets: np.ndarray | None) -> dict[str, sp.csr_matrix]:
        state = super()._rows_state(X, targets)
        S = state["similarity_"]
        if self.config.transforms:
            slope, intercept = sim.transforms_at(self._entities(X), S, targets, threads=self._threads,
                                                 shrinkage=self.config.transform_shrinkage)
        else:
            slope = sp.csr_matrix((np.ones(S.nnz), S.indices, S.indptr), shape=S.shape)
            intercept = sp.csr_matrix((np.zeros(S.nnz), S.indices, S.indptr), shape=S.shape)
        state["slope_"], state["intercept_"] = slope, intercept
        return state

    def _rows_state_names(self) -> tuple[str, ...]:
        return ("similarity_", "slope_", "intercept_")

    def update(self, X):  # noqa: D102 - documented on the base class
        X = sp.csr_matrix(getattr(X, "matrix", X))
        if X.nnz and X.data.min() < 0:
            raise DataError(f"{self.name}: activity must be non-negative (found {X.data.min():g})")
        return super().update(X)

    def _after_load(self) -> None:
        S = self.similarity_
        # Row c: neighbour j's weight s_cj a_cj (slope part) and s_cj b_cj (intercept part).
        self._sa = sp.csr_matrix(S.multiply(self.slope_))
        self._sb = sp.csr_matrix(S.multiply(self.intercept_))
        self._pattern = sim.binary(S)
        self._w_slope = self._sa.T.tocsr()
        self._w_intercept = self._sb.T.tocsr()
        self._w_sim = S.T.tocsr()
        self._w_pattern = self._pattern.T.tocsr()
        self._sim_sum = np.asarray(S.sum(axis=1)).ravel()
        self._n_neighbours = np.diff(S.indptr).astype(np.float64)
        self._ceiling = float(self.X_.data.max()) if self.X_.nnz else 0.0

    # -- top-N scores -----------------------------------------------------------------------
    def _ranking(self, rows: sp.csr_matrix) -> tuple[np.ndarray, np.ndarray]:
        """Dense top-N scores (module docstring: the estimate times the similarity mass
        behind it in mode "active", the estimate in mode "all") and where an estimate is
        possible, for a block of people."""
        present = sim.binary(rows)
        num = (rows @ self._w_slope).toarray() + (present @ self._w_intercept).toarray()
        n_active = (present @ self._w_pattern).toarray()
        if self.config.mode == "all":
            den = np.broadcast_to(self._sim_sum, num.shape)
        else:
            den = (present @ self._w_sim).toarray()
        possible = (n_active > 0) & (den > 0)
        est = np.divide(num, den, out=np.zeros_like(num), where=possible)
        np.clip(est, 0.0, self._ceiling, out=est)
        if self.config.mode == "active":
            est *= den
        return est, possible

    def score(self, users: np.ndarray, user_items: sp.spmatrix | None = None) -> np.ndarray:
        """Top-N scores of each person for every channel, 0 where no estimate is possible:
        the predicted activity weighed by the similarity mass behind it in mode "active"
        (see the module docstring); the predicted activity itself is :meth:`predict`."""
        self._check_fitted()
        users = np.atleast_1d(np.asarray(users, dtype=np.int64))
        return self._ranking(self._rows(users, user_items))[0]

    def _rank_keys(
        self, users: np.ndarray, user_items: sp.spmatrix | None
    ) -> tuple[np.ndarray, np.ndarray | None]:
        users = np.atleast_1d(np.asarray(users, dtype=np.int64))
        scores, possible = self._ranking(self._rows(users, user_items))
        scores[~possible] = -np.inf
        return scores, None

    def predict(self, users: np.ndarray, items: np.ndarray) -> Predictions:
        """Estimates for (user, item) pairs, computed pair by pair as row products (no dense
        blocks), with ``n_neighbors``, ``n_active`` and ``impossible`` in ``details``."""
        self._check_fitted()
        users = np.asarray(users, dtype=np.int64)
        items = np.asarray(items, dtype=np.int64)
        rows = self.X_[users]
        present = sim.binary(rows)
        S = self.similarity_

        def rowsum(a: sp.csr_matrix, b: sp.csr_matrix) -> np.ndarray:
            return np.asarray(a.multiply(b).sum(axis=1)).ravel()

        num = rowsum(rows, self._sa[items]) + rowsum(present, self._sb[items])
        n_active = rowsum(present, self._pattern[items])
        den = self._sim_sum[items] if self.config.mode == "all" else rowsum(present, S[items])
        possible = (n_active > 0) & (den > 0)
        estimate = np.clip(np.divide(num, den, out=np.zeros_like(num), where=possible), 0.0, self._ceiling)
        n_neighbors = self._n_neighbours[items] if self.config.mode == "all" else n_active
        return Predictions(
            estimate=estimate,
            details={
                "n_neighbors": n_neighbors.astype(np.int64),
                "n_active": n_active.astype(np.int64),
                "impossible": ~possible,
            },
        )

    def similar_items(self, items: np.ndarray | list[int], k: int = 10) -> tuple[np.ndarray, np.ndarray]:
        """Each channel's most similar channels (its neighbourhood), best first."""
        self._check_fitted()
        return _topk.topk_rows(self.similarity_, np.atleast_1d(np.asarray(items, dtype=np.int64)), k)

    def explain(self, user: int, item: int, n: int = 5) -> Explanation:
        """The person's channels that weigh most in the estimate: for each active neighbour
        *j*, ``s_cj (a_cj x_uj + b_cj) / D(u, c)``; ``score`` is the (clipped) estimate."""
        self._check_fitted()
        row = self.X_[user]
        S, A, B = self.similarity_[item], self.slope_[item], self.intercept_[item]
        present = sim.binary(row)
        mask = present.multiply(sim.binary(S)).tocsr()
        active = mask.indices
        x = row.toarray().ravel()[active]
        s = S.toarray().ravel()[active]
        a = A.toarray().ravel()[active]
        b = B.toarray().ravel()[active]
        den = float(S.sum()) if self.config.mode == "all" else float(s.sum())
        terms = s * (a * x + b) / den if den > 0 else np.zeros(len(active))
        order = np.lexsort((active, -terms))[:n]
        return Explanation(
            user=int(user),
            item=int(item),
            score=min(max(float(terms.sum()), 0.0), self._ceiling),
            contributions=[
                Contribution(
                    "item",
                    int(active[o]),
                    float(terms[o]),
                    {
                        "activity": float(x[o]),
                        "similarity": float(s[o]),
                        "slope": float(a[o]),
                        "intercept": float(b[o]),
                    },
                )
                for o in order
            ],
        )
