"""KNN with baseline estimates: the ratings recommender (+1/-1 votes or any explicit scale).

The estimate of person ``u``'s rating of item ``i`` is (Koren 2010, formula 3; Surprise's
``KNNBaseline``, whose defaults are ours)::

    r_ui = b_ui + sum_{v in N_k(u; i)} sim(u, v) * (r_vi - b_vi) / sum_{v in N_k(u; i)} sim(u, v)

with ``b_ui = mu + b_u + b_i`` the baseline (:mod:`teamrec.algorithms._baselines`: ALS, 10
epochs, ``reg_i = 10``, ``reg_u = 15``) and ``N_k(u; i)`` the ``k`` people most similar to
``u`` among those who rated ``i``, of whom only the positively similar ones count. That is
the user-based form; ``user_based=False`` swaps the roles (the ``k`` items most similar to
``i`` among those ``u`` rated). Details that decide exact equality with Surprise:

* **neighbours**: the ``k`` largest similarities among everyone who rated the item
  (Surprise's ``heapq.nlargest`` keyed on the similarity alone, which keeps the earlier of
  equal elements: ties go to the lower neighbour index here, the earlier rating in
  Surprise's trainset -- the same when the indices follow the data's order). Neighbours with
  ``sim <= 0`` take a place among the ``k`` but add nothing; ``n_neighbors`` counts the
  others;
* fewer than ``min_k`` (or no) usable neighbours: the estimate is the baseline;
* an unknown person or item (an index outside the trained matrix): the baseline parts that
  are known (``mu + b_i`` for a stranger), ``impossible`` set;
* estimates are clipped to the rating scale (the training data's minimum and maximum unless
  ``rating_scale`` is given), as Surprise's ``predict`` does.

Similarities between the rows ``x`` of the rating matrix oriented by ``user_based`` (people,
or items), over the ``y`` both rated (Surprise's ``similarities.pyx``):

* ``msd`` (default): ``1 / (mean_y (r_xy - r_x'y)^2 + 1)``;
* ``cosine``: ``sum r_xy r_x'y / sqrt(sum r_xy^2 * sum r_x'y^2)``;
* ``pearson``: ``(n sum r r' - sum r sum r') / sqrt((n sum r^2 - (sum r)^2)(n sum r'^2 - (sum r')^2))``;
* ``pearson_baseline``: the cosine of the residuals ``r - b`` times ``(n - 1) / (n - 1 +
  shrinkage)``, with ``n`` the number of common ``y`` (at least 2);

each 0 below ``min_support`` common ``y``, and 1 on the diagonal. Every pair statistic is a
matrix product of the ``x`` by ``y`` ratings, their squares or their 0/1 mask with another
of them (sparse times dense up to 8% density, else dense BLAS; float32 when the ratings are
small integers: every sum is then an exact integer, so ties compare exactly as in Surprise).
The similarity matrix is dense, ``n_x`` squared: the model refuses data whose estimated
working memory exceeds ``max_memory_mb`` with :class:`~teamrec.errors.ModelTooLargeError`
(``item-knn``, ``als`` or ``biased-mf`` scale further).

Estimates for many ``(x, y)`` pairs are computed together: pairs are grouped by how many
candidates they have (the raters of the item), each group's candidate similarities gathered
into one padded block, the ``k``-th largest found with ``np.partition`` and ties at the
boundary resolved in candidate order. Python loops run over those blocks only, never over
people, items or pairs; large jobs spread the blocks over a thread pool (NumPy releases the
GIL in its gathers, partitions and ufuncs).

Ranking puts higher estimates first and, among equal estimates (clipping makes many), the
one resting on more neighbours (:meth:`KNNBaseline._rank_keys`). A trained person's whole row
of estimates is kept once computed (up to ``cache_max_cells`` estimates in all; dropped by
``fit``/``update``/``load``), so ranking their candidates again is a lookup and a top-k;
``recommend`` with a candidate index list estimates only those items when the row is not
kept. People who were not in the training data are folded in from their ratings
(``score(users, user_items=rows)``): their biases by one ALS half-step with the item biases
fixed and, user-based, their similarities to everyone. ``update`` is incremental (see
:meth:`KNNBaseline.update`).
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Literal

import numpy as np
import scipy.sparse as sp
from pydantic import Field
from scipy.linalg import blas

from teamrec.algorithms import _topk
from teamrec.algorithms._baselines import RatingScale, als_baselines, fold_in_user_bias, global_mean
from teamrec.algorithms.base import (
    Algorithm,
    AlgorithmConfig,
    Contribution,
    Explanation,
    Predictions,
    as_csr,
)
from teamrec.errors import DataError, ModelTooLargeError, UnknownIdError

SimilarityName = Literal["msd", "cosine", "pearson", "pearson_baseline"]

#: Candidate cells (pairs x padded neighbour slots) handled per block by the estimator.
_BLOCK_CELLS = 1 << 20
#: Pairs whose candidate counts differ by less than this factor share a padded block; big
#: jobs use finer bins (less padding), small ones coarser (fewer NumPy calls).
_BIN_RATIO = 2.0
_BIN_RATIO_BIG = 1.2
#: The smallest positive similarity.
_TINY = np.nextafter(0.0, 1.0)
#: Rating matrices at most this dense use sparse-times-dense products, denser ones BLAS.
_SPARSE_DENSITY = 0.08
#: Rows with a larger total of squared rating magnitudes use float64 products.
_FLOAT32_EXACT = 1 << 24


class KNNBaselineConfig(AlgorithmConfig):
    k: int = Field(40, ge=1, description="most neighbours per estimate")
    min_k: int = Field(1, ge=0, description="fewer usable neighbours: the baseline alone")
    user_based: bool = True
    similarity: SimilarityName = "msd"
    shrinkage: float = Field(100.0, ge=0, description="pearson_baseline only")
    min_support: int = Field(1, ge=0, description="fewer common ratings: similarity 0")
    baseline_epochs: int = Field(10, ge=0)
    reg_u: float = Field(15.0, ge=0)
    reg_i: float = Field(10.0, ge=0)
    rating_scale: RatingScale = None
    clip: bool = True
    update_epochs: int = Field(3, ge=0, description="warm-started baseline epochs in update()")
    refit_fraction: float = Field(
        0.3, gt=0, le=1, description="update() refits when more of the rows changed than this"
    )
    max_memory_mb: int = Field(4096, ge=1)
    cache_max_cells: int = Field(
        1 << 24, ge=0, description="keep computed rows of estimates up to this many (0: never)"
    )


class KNNBaseline(Algorithm):
    """KNN with baselines (Surprise-compatible); see the module docstring."""

    name = "knn-baseline"
    Config = KNNBaselineConfig
    predicts_values = True
    config: KNNBaselineConfig

    # -- fitting ---------------------------------------------------------------------------
    def _fit(self, X: sp.csr_matrix) -> None:
        cfg = self.config
        n_x = X.shape[0] if cfg.user_based else X.shape[1]
        n_y = X.shape[1] if cfg.user_based else X.shape[0]
        _check_memory(n_x, n_y, cfg.max_memory_mb, self.name)
        self.global_mean_ = global_mean(X)
        self.user_bias_, self.item_bias_ = als_baselines(
            X, self.global_mean_, n_epochs=cfg.baseline_epochs, reg_u=cfg.reg_u, reg_i=cfg.reg_i
        )
        lo, hi = cfg.rating_scale if cfg.rating_scale is not None else (X.data.min(), X.data.max())
        self.rating_scale_ = [float(lo), float(hi)]
        dense = _Rows(self._x_major(X), *self._x_y_bias(), self.global_mean_, cfg.similarity, pairs_only=True)
        self.sim_ = _similarity(dense, None, cfg, symmetric=True)
        self._after_load()

    def _after_load(self) -> None:
        self._by_y = self._residuals_by_y(self.X_)
        self._other_sim: np.ndarray | None = None
        self._cache: tuple[np.ndarray, np.ndarray] | None = None
        self._cached = np.zeros(0, dtype=bool)
        self._layout_cache: list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]] | None = None

    def _x_major(self, X: sp.csr_matrix) -> sp.csr_matrix:
        return X if self.config.user_based else X.T.tocsr()

    def _x_y_bias(self) -> tuple[np.ndarray, np.ndarray]:
        if self.config.user_based:
            return self.user_bias_, self.item_bias_
        return self.item_bias_, self.user_bias_

    def _residuals_by_y(self, X: sp.csr_matrix) -> sp.csr_matrix:
        """``y`` x ``x`` CSR of ``r - b`` (the neighbours' deviations from their baselines),
        rows sorted by neighbour index: the candidates of every estimate."""
        by_y = X.T.tocsr() if self.config.user_based else X.copy()
        by_y.sort_indices()
        bx, by = self._x_y_bias()
        ys = np.repeat(np.arange(by_y.shape[0]), np.diff(by_y.indptr))
        # Surprise's order of operations: r - ((mu + b_x) + b_y).
        by_y.data = by_y.data - ((self.global_mean_ + bx[by_y.indices]) + by[ys])
        return by_y

    # -- estimating ------------------------------------------------------------------------
    def _pairs(
        self, users: np.ndarray, items: np.ndarray, user_items: sp.spmatrix | None = None
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Clipped estimates, neighbour counts and "impossible" flags of known (user, item)
        pairs; ``user_items`` (one row per distinct entry of ``users``, which then index it)
        folds people in from their ratings."""
        cfg = self.config
        mu = self.global_mean_
        if user_items is None:
            bu = self.user_bias_
            sim, by_y = self.sim_, self._by_y
        else:
            rows = sp.csr_matrix(user_items, dtype=np.float64)
            rows.sort_indices()
            bu = fold_in_user_bias(rows, mu, self.item_bias_, cfg.reg_u)
            if cfg.user_based:
                dense = _Rows(rows, bu, self.item_bias_, mu, cfg.similarity)
                train = _Rows(self.X_, self.user_bias_, self.item_bias_, mu, cfg.similarity)
                sim, by_y = _similarity(dense, train, cfg, symmetric=False), self._by_y
            else:
                sim, by_y = self.sim_, _fold_in_residuals(rows, mu, bu, self.item_bias_)
        x, y = (users, items) if cfg.user_based else (items, users)
        num, den, cnt = _neighbour_sums(sim, x, by_y, y, cfg.k)
        return self._finish((mu + bu[users]) + self.item_bias_[items], num, den, cnt)

    def _finish(
        self, est: np.ndarray, num: np.ndarray, den: np.ndarray, cnt: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Baselines plus the neighbourhood term where it may be used, clipped."""
        usable = (cnt >= max(self.config.min_k, 1)) & (den != 0)
        est[usable] += num[usable] / den[usable]
        return self._clip(est), cnt, ~usable

    def _full_rows(self, users: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Estimates and neighbour counts of every item for trained people.

        The same numbers as :meth:`_pairs`, organised for whole rows: user-based, every
        item's candidates (its raters) are laid out once in padded blocks and each block is
        gathered from the people's similarity rows at once; item-based, a person's
        candidates (the items they rated) are the same for every item, so one gather from the
        similarity matrix's columns serves the whole row.
        """
        cfg = self.config
        shape = (len(users), self.n_items)
        num, den, cnt = np.zeros(shape), np.zeros(shape), np.zeros(shape, dtype=np.int64)
        blocks: list[tuple[Any, ...]] = []
        if cfg.user_based:
            for ys, idx, res, valid in self._layout():
                step = max(1, _BLOCK_CELLS // idx.size)
                blocks.extend((slice(s, s + step), ys, idx, res, valid) for s in range(0, len(users), step))

            def run(block: tuple[Any, ...]) -> None:
                rows, ys, idx, res, valid = block
                S = np.take(self.sim_[users[rows]], idx, axis=1)
                S *= valid
                S, cnt[rows, ys] = _keep_k_positive(S, cfg.k)
                num[rows, ys] = np.einsum("unw,nw->un", S, res)
                den[rows, ys] = S.sum(axis=-1)

        else:
            for members, width in _bins(np.diff(self._by_y.indptr)[users]):
                idx, res, valid = _padded(self._by_y, users[members], width)
                step = max(1, _BLOCK_CELLS // (self.n_items * width))
                blocks.extend(
                    (members[s : s + step], idx[s : s + step], res[s : s + step], valid[s : s + step])
                    for s in range(0, len(members), step)
                )

            def run(block: tuple[Any, ...]) -> None:
                m, idx, res, valid = block
                S = np.take(self.sim_, idx, axis=1)
                S *= valid
                S, c = _keep_k_positive(S, cfg.k)
                cnt[m] = c.T
                num[m] = np.einsum("inw,nw->ni", S, res)
                den[m] = S.sum(axis=-1).T

        _run_blocks(run, blocks, len(users) * self._by_y.nnz)
        est = (self.global_mean_ + self.user_bias_[users])[:, None] + self.item_bias_[None, :]
        est, cnt, _ = self._finish(est, num, den, cnt)
        return est, cnt.astype(np.float64)

    def _layout(self) -> list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]]:
        """User-based: every item's raters as padded blocks ``(items, indices, residuals,
        validity)``, binned by rater count; built on first use."""
        if self._layout_cache is None:
            self._layout_cache = [
                (ys, *_padded(self._by_y, ys, width)) for ys, width in _bins(np.diff(self._by_y.indptr))
            ]
        return self._layout_cache

    def _clip(self, est: np.ndarray) -> np.ndarray:
        if self.config.clip:
            lo, hi = self.rating_scale_
            np.clip(est, lo, hi, out=est)
        return est

    def predict(self, users: np.ndarray, items: np.ndarray) -> Predictions:
        """Estimated ratings; ``details``: ``n_neighbors`` (how many neighbours the estimate
        rests on), ``impossible`` (only the baseline could be given: unknown person or item,
        or fewer than ``min_k`` neighbours). Indices outside the trained matrix are unknown."""
        self._check_fitted()
        users = np.asarray(users, dtype=np.int64)
        items = np.asarray(items, dtype=np.int64)
        known_u = (users >= 0) & (users < self.n_users)
        known_i = (items >= 0) & (items < self.n_items)
        known = known_u & known_i
        est = np.full(len(users), self.global_mean_)
        est[known_u] += self.user_bias_[users[known_u]]
        est[known_i] += self.item_bias_[items[known_i]]
        est = self._clip(est)
        n_neighbors = np.zeros(len(users), dtype=np.int64)
        impossible = np.ones(len(users), dtype=bool)
        if known.any():
            e, c, imp = self._pairs(users[known], items[known])
            est[known], n_neighbors[known], impossible[known] = e, c, imp
        return Predictions(estimate=est, details={"n_neighbors": n_neighbors, "impossible": impossible})

    def _estimates(
        self, users: np.ndarray, user_items: sp.spmatrix | None, items: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Estimates and neighbour counts, ``(len(users), len(items))`` (all items by default).

        Trained people's whole rows are kept once computed (up to ``cache_max_cells``
        estimates): ranking a person's candidates again is then a lookup. A candidate list
        shorter than a quarter of the catalogue is estimated on its own for people whose row
        is not kept (a whole row would cost more than four such lists).
        """
        self._check_fitted()
        users = np.atleast_1d(np.asarray(users, dtype=np.int64))
        if user_items is None and len(users) and (users.min() < 0 or users.max() >= self.n_users):
            bad = users[(users < 0) | (users >= self.n_users)][0]
            raise UnknownIdError("user index", int(bad), "pass user_items to fold a new person in")
        cacheable = user_items is None and self.n_users * self.n_items <= self.config.cache_max_cells
        if cacheable and items is not None and 4 * len(items) < self.n_items:
            # A short candidate list: from kept rows, or estimated on its own.
            cacheable = self._cache is not None and bool(self._cached[users].all())
        if cacheable:
            self._keep_rows(users)
            assert self._cache is not None
            if items is None:
                return self._cache[0][users], self._cache[1][users]
            return self._cache[0][np.ix_(users, items)], self._cache[1][np.ix_(users, items)]
        if user_items is None and items is None:
            return self._full_rows(users)
        items = np.arange(self.n_items) if items is None else np.asarray(items, dtype=np.int64)
        if user_items is not None:
            user_items = self._rows(users, user_items)
            users = np.arange(len(users))
        return self._compute(users, user_items, items)

    def _keep_rows(self, users: np.ndarray) -> None:
        """Compute the rows of ``users`` not kept yet into the cache (allocated on first use)."""
        if self._cache is None:
            self._cache = (
                np.empty((self.n_users, self.n_items)),
                np.empty((self.n_users, self.n_items), dtype=np.float32),  # small counts: exact
            )
            self._cached = np.zeros(self.n_users, dtype=bool)
        if not self._cached[users].all():
            missing = np.unique(users[~self._cached[users]])
            est, cnt = self._full_rows(missing)
            self._cache[0][missing], self._cache[1][missing] = est, cnt
            self._cached[missing] = True

    def warm(self) -> KNNBaseline:
        """Compute and keep every trained person's row of estimates when they fit in
        ``cache_max_cells``: each later ranking (a person's 1,000 candidates, say) is then a
        lookup and a top-k, never a first request (ml-100k: about 0.9 s, once)."""
        self._check_fitted()
        if self.n_users * self.n_items <= self.config.cache_max_cells:
            self._keep_rows(np.arange(self.n_users))
        return self

    def _compute(
        self, users: np.ndarray, user_items: sp.csr_matrix | None, items: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        pair_u = np.repeat(users, len(items))
        pair_i = np.tile(items, len(users))
        est, cnt, _ = self._pairs(pair_u, pair_i, user_items)
        shape = (len(users), len(items))
        return est.reshape(shape), cnt.reshape(shape).astype(np.float64)

    def score(self, users: np.ndarray, user_items: sp.spmatrix | None = None) -> np.ndarray:
        """Estimated ratings of every item (``user_items`` folds people in: their biases
        from their ratings, and in user-based mode their similarities to everyone)."""
        return self._estimates(users, user_items)[0]

    def _rank_keys(
        self, users: np.ndarray, user_items: sp.spmatrix | None
    ) -> tuple[np.ndarray, np.ndarray | None]:
        return self._estimates(users, user_items)

    def recommend(
        self,
        users: np.ndarray | list[int],
        k: int = 10,
        *,
        exclude_seen: bool = True,
        candidates: np.ndarray | sp.spmatrix | None = None,
        exclude: sp.spmatrix | np.ndarray | None = None,
        user_items: sp.spmatrix | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """As :meth:`Algorithm.recommend`; a candidate list (an index array, the same for
        everyone) is ranked on those items alone: a person's 1,000 candidates cost 1,000
        estimates (or lookups), not a whole catalogue."""
        cand = None if candidates is None or sp.issparse(candidates) else np.asarray(candidates)
        if cand is None or cand.dtype == bool or cand.ndim != 1:
            return super().recommend(
                users, k, exclude_seen=exclude_seen, candidates=candidates, exclude=exclude,
                user_items=user_items,
            )
        self._check_fitted()
        cand = np.sort(cand.astype(np.int64))
        cand = cand[np.r_[True, cand[1:] != cand[:-1]]]
        users = np.atleast_1d(np.asarray(users, dtype=np.int64))
        rows = None if user_items is None else self._rows(users, user_items)
        primary, secondary = self._estimates(users, rows, cand)
        column = np.full(self.n_items, -1)
        column[cand] = np.arange(len(cand))
        masks: list[Any] = []
        if exclude_seen:
            masks.append(rows if rows is not None else _csr_cells(self.X_, users))
        if exclude is not None:
            masks.append(exclude)
        for mask in masks:
            if isinstance(mask, tuple) or sp.issparse(mask):
                if sp.issparse(mask):
                    coo = sp.coo_matrix(mask)
                    r, c = coo.row[coo.data.astype(bool)], coo.col[coo.data.astype(bool)]
                else:
                    r, c = mask
                at = column[c] >= 0
                primary[r[at], column[c[at]]] = -np.inf
            else:
                _topk.apply_mask(primary, np.asarray(mask)[:, cand])
        idx, val = _topk_two_keys(primary, secondary, k)
        return np.where(idx >= 0, cand[np.maximum(idx, 0)], -1), val

    # -- neighbours and explanations -------------------------------------------------------
    def _similarity_of(self, kind: Literal["user", "item"]) -> np.ndarray:
        """The user-user or item-item similarity matrix: the model's own, or the other side's
        with the same measure, computed on first use and kept until the next fit/update."""
        cfg = self.config
        if (kind == "user") == cfg.user_based:
            return self.sim_
        if self._other_sim is None:
            X = self.X_.T.tocsr() if kind == "item" else self.X_
            bx, by = (self.item_bias_, self.user_bias_) if kind == "item" else (self.user_bias_, self.item_bias_)
            _check_memory(X.shape[0], X.shape[1], cfg.max_memory_mb, self.name)
            dense = _Rows(X, bx, by, self.global_mean_, cfg.similarity, pairs_only=True)
            self._other_sim = _similarity(dense, None, cfg, symmetric=True)
        return self._other_sim

    def similar_items(self, items: np.ndarray | list[int], k: int = 10) -> tuple[np.ndarray, np.ndarray]:
        self._check_fitted()
        return _topk.topk_rows(self._similarity_of("item"), np.asarray(items), k)

    def similar_users(self, users: np.ndarray | list[int], k: int = 10) -> tuple[np.ndarray, np.ndarray]:
        self._check_fitted()
        return _topk.topk_rows(self._similarity_of("user"), np.asarray(users), k)

    def explain(self, user: int, item: int, n: int = 5) -> Explanation:
        """The baseline, then the ``n`` neighbours whose terms ``sim * (r - b) / sum sim``
        move the estimate most (by absolute value)."""
        self._check_fitted()
        if not 0 <= user < self.n_users:
            raise UnknownIdError("user index", user)
        if not 0 <= item < self.n_items:
            raise UnknownIdError("item index", item)
        cfg = self.config
        x, y = (user, item) if cfg.user_based else (item, user)
        lo, hi = self._by_y.indptr[y], self._by_y.indptr[y + 1]
        nbrs, resid = self._by_y.indices[lo:hi], self._by_y.data[lo:hi]
        sims = self.sim_[x, nbrs]
        top = np.argsort(-sims, kind="stable")[: cfg.k]
        top = top[sims[top] > 0]
        if len(top) < max(cfg.min_k, 1):
            top = top[:0]
        den = sims[top].sum()
        weights = sims[top] * resid[top] / den if len(top) else np.zeros(0)
        baseline = float(self.global_mean_ + self.user_bias_[user] + self.item_bias_[item])
        contributions = [
            Contribution(
                "baseline",
                item,
                baseline,
                {
                    "global_mean": self.global_mean_,
                    "user_bias": float(self.user_bias_[user]),
                    "item_bias": float(self.item_bias_[item]),
                },
            )
        ]
        kind: Literal["user", "item"] = "user" if cfg.user_based else "item"
        for j in np.argsort(-np.abs(weights), kind="stable")[:n]:
            contributions.append(
                Contribution(
                    kind,
                    int(nbrs[top[j]]),
                    float(weights[j]),
                    {"similarity": float(sims[top[j]]), "deviation": float(resid[top[j]])},
                )
            )
        est = self.predict(np.array([user]), np.array([item])).estimate[0]
        return Explanation(user=user, item=item, score=float(est), contributions=contributions)

    # -- updating --------------------------------------------------------------------------
    def update(self, X: Any) -> KNNBaseline:
        """Incremental update with the whole grown matrix ``X``.

        The global mean is recomputed; the biases continue from the current ones for
        ``update_epochs`` ALS epochs (new people and items start at 0); the similarity rows
        (and columns) of the people -- or items, when item-based -- whose ratings changed or
        who are new are recomputed against everyone. For ``msd``, ``cosine`` and ``pearson``
        that is exactly what a refit computes (up to the warm-started biases); for
        ``pearson_baseline`` the unchanged pairs keep similarities from the previous biases.
        When more than ``refit_fraction`` of the rows changed, a full refit is cheaper.
        """
        if not self.is_fitted:
            return self.fit(X)
        cfg = self.config
        new = as_csr(X)
        old = self.X_
        if new.shape[0] < old.shape[0] or new.shape[1] < old.shape[1]:
            raise DataError(f"{self.name}: update() needs the whole grown matrix, got {new.shape} < {old.shape}")
        if new.nnz == 0:
            raise DataError(f"{self.name}: cannot fit on an empty matrix")
        diff = (new[: old.shape[0], : old.shape[1]] != old).tocoo()
        if cfg.user_based:
            changed = np.union1d(diff.row, np.arange(old.shape[0], new.shape[0]))
            n_x_old, n_x = old.shape[0], new.shape[0]
        else:
            changed = np.union1d(diff.col, np.arange(old.shape[1], new.shape[1]))
            n_x_old, n_x = old.shape[1], new.shape[1]
        if len(changed) > cfg.refit_fraction * n_x:
            return self.fit(new)
        n_y = new.shape[1] if cfg.user_based else new.shape[0]
        _check_memory(n_x, n_y, cfg.max_memory_mb, self.name)
        self.X_ = new
        self.global_mean_ = global_mean(new)
        self.user_bias_, self.item_bias_ = als_baselines(
            new, self.global_mean_, n_epochs=cfg.update_epochs, reg_u=cfg.reg_u, reg_i=cfg.reg_i,
            user_bias=self.user_bias_,
        )
        if cfg.rating_scale is None:
            self.rating_scale_ = [float(new.data.min()), float(new.data.max())]
        sim = np.zeros((n_x, n_x))
        sim[:n_x_old, :n_x_old] = self.sim_
        if len(changed):
            bx, by = self._x_y_bias()
            x_major = self._x_major(new)
            everyone = _Rows(x_major, bx, by, self.global_mean_, cfg.similarity)
            some = _Rows(x_major[changed], bx[changed], by, self.global_mean_, cfg.similarity)
            rows = _similarity(some, everyone, cfg, symmetric=False)
            sim[changed, :] = rows
            sim[:, changed] = rows.T
            block = np.triu(rows[:, changed])
            sim[np.ix_(changed, changed)] = block + np.triu(block, 1).T
            sim[changed, changed] = 1.0
        self.sim_ = sim
        self._after_load()
        return self


# -- similarities ---------------------------------------------------------------------------


class _Rows:
    """Some rows ``x`` of the rating matrix (people, or items when item-based) with the values
    the chosen similarity works on -- the ratings, or their residuals ``r - b`` for
    pearson_baseline -- in float32 when that is exact (``exact32``: small integers, so every
    sum of products is an exact integer), else float64.

    Pair statistics are products ``A @ B.T`` of these rows' values, squares or 0/1 mask with
    another set's: :meth:`product` computes one as a sparse-times-dense product (the work is
    the number of ratings times the other set's size, against the full ``rows x columns x
    rows`` of dense BLAS, which only wins above :data:`_SPARSE_DENSITY`). Its sums run over
    each row's ratings in column order, as Surprise's loops do, and give the same number for
    ``(x, x')`` and ``(x', x)``.
    """

    def __init__(
        self,
        X: sp.csr_matrix,
        bx: np.ndarray,
        by: np.ndarray,
        mu: float,
        similarity: SimilarityName,
        *,
        pairs_only: bool = False,
    ) -> None:
        X = sp.csr_matrix(X)
        if pairs_only:
            # Similarities among these rows only: a column rated by fewer than two of them adds
            # to no pair (the diagonal is set apart), so the products can skip it.
            keep = np.bincount(X.indices, minlength=X.shape[1]) >= 2
            X = X[:, keep]
            by = by[keep]
        X.sort_indices()
        data = X.data
        if similarity == "pearson_baseline":
            xs = np.repeat(np.arange(X.shape[0]), np.diff(X.indptr))
            # Surprise: r - ((mu + b_y) + b_x).
            data = X.data - ((mu + by[X.indices]) + bx[xs])
        self.exact32 = bool(
            np.all(data == np.round(data))
            and (len(data) == 0 or float(np.abs(data).max()) ** 2 * X.shape[1] < _FLOAT32_EXACT)
        )
        self.dtype = np.float32 if self.exact32 else np.float64
        self.shape = X.shape
        self._parts = {
            "values": data.astype(self.dtype),
            "squares": (data * data).astype(self.dtype),
            "mask": np.ones(len(data), self.dtype),
        }
        self._indices, self._indptr = X.indices, X.indptr
        self._dense_t: dict[tuple[str, Any], np.ndarray] = {}

    @property
    def density(self) -> float:
        return len(self._indices) / max(1, self.shape[0] * self.shape[1])

    def sparse(self, part: str, dtype: Any) -> sp.csr_matrix:
        return sp.csr_matrix(
            (self._parts[part].astype(dtype, copy=False), self._indices, self._indptr), shape=self.shape
        )

    def dense_t(self, part: str, dtype: Any) -> np.ndarray:
        """``part`` as a dense, C-ordered ``columns x rows`` array (kept for reuse)."""
        key = (part, np.dtype(dtype))
        if key not in self._dense_t:
            self._dense_t[key] = np.ascontiguousarray(self.sparse(part, dtype).T.toarray())
        return self._dense_t[key]

    def product(self, part: str, other: _Rows, other_part: str, dtype: Any) -> np.ndarray:
        """``self.part @ other.other_part.T``, dense ``(len(self), len(other))``."""
        if self.density <= _SPARSE_DENSITY:
            return np.asarray(self.sparse(part, dtype) @ other.dense_t(other_part, dtype))
        # Dense data: BLAS through SciPy (NumPy ships a second OpenBLAS, and alternating
        # between the two thread pools costs more than the products themselves).
        gemm = blas.sgemm if np.dtype(dtype) == np.float32 else blas.dgemm
        return gemm(1.0, other.dense_t(other_part, dtype), self.dense_t(part, dtype), trans_a=1).T


def _check_memory(n_x: int, n_y: int, max_mb: int, name: str) -> None:
    """Refuse data whose dense working set would not fit the configured memory budget."""
    need = 8 * (4 * n_x * n_y + 6 * n_x * n_x)
    if need > max_mb * 2**20:
        raise ModelTooLargeError(
            f"{name}: {n_x:,} x {n_x:,} dense similarities over {n_y:,} columns need about "
            f"{need / 2**20:,.0f} MB, over max_memory_mb={max_mb:,}; raise max_memory_mb, switch "
            f"user_based, or use item-knn, als or biased-mf, which scale further"
        )


def _similarity(
    a: _Rows, b: _Rows | None, cfg: KNNBaselineConfig, *, symmetric: bool
) -> np.ndarray:
    """Similarities between the rows of ``a`` and those of ``b`` (``a`` itself when
    ``symmetric``, with 1 on the diagonal), with Surprise's formulas and order of
    floating-point operations. The pair statistics are computed at once on the thread pool.
    """
    name = cfg.similarity
    b = a if b is None else b
    exact = a.exact32 and b.exact32
    f32, f64 = np.float32, np.float64
    values_t = f32 if exact else f64
    counts_t = f32 if a.shape[1] < _FLOAT32_EXACT else f64
    wanted = {
        "freq": ("mask", "mask", counts_t),
        "prods": ("values", "values", values_t),
        "sqi": ("squares", "mask", values_t),
    }
    if not symmetric:
        wanted["sqj"] = ("mask", "squares", values_t)
    if name == "pearson":
        wanted["si"] = ("values", "mask", values_t)
        if not symmetric:
            wanted["sj"] = ("mask", "values", values_t)
    for left, right, dtype in wanted.values():  # the dense operands, built once
        b.dense_t(right, dtype)
        if a.density > _SPARSE_DENSITY:
            a.dense_t(left, dtype)
    stats: dict[str, np.ndarray] = {}

    def run(key: str) -> None:
        left, right, dtype = wanted[key]
        stats[key] = a.product(left, b, right, dtype)

    # Sparse products run side by side (SciPy releases the GIL); BLAS threads by itself.
    _run_blocks(run, list(wanted), _PARALLEL_CELLS if a.density <= _SPARSE_DENSITY else 0)
    freq, prods, sqi = stats["freq"], stats["prods"], stats["sqi"]
    sqj = sqi.T if symmetric else stats["sqj"]
    min_support = max(2, cfg.min_support) if name == "pearson_baseline" else cfg.min_support
    with np.errstate(divide="ignore", invalid="ignore"):
        if name == "msd":
            sim = np.add(sqi, sqj, dtype=f64)
            sim -= prods
            sim -= prods
            if not exact:  # rounding can leave a tiny negative sum of squares
                np.maximum(sim, 0.0, out=sim)
            sim /= freq
            sim += 1.0
            np.reciprocal(sim, out=sim)
        elif name in ("cosine", "pearson_baseline"):
            sim = np.multiply(sqi, sqj, dtype=f64)
            np.sqrt(sim, out=sim)
            np.divide(prods, sim, out=sim, dtype=f64)
            if name == "pearson_baseline":
                # The products are spent: their buffer holds the shrinkage factor.
                shrink = prods if prods.dtype == f64 else np.empty_like(sim)
                np.subtract(freq, 1.0, out=shrink)
                shrink /= shrink + cfg.shrinkage
                sim *= shrink
        else:  # pearson
            freq64 = freq.astype(f64)
            si = stats["si"].astype(f64)
            sj = si.T if symmetric else stats["sj"].astype(f64)
            var_i = freq64 * sqi - si**2
            var_j = freq64 * sqj - sj**2
            # Exact for integer ratings; otherwise a variance lost in cancellation is none.
            var_i[var_i <= 1e-12 * freq64 * sqi] = 0.0
            var_j[var_j <= 1e-12 * freq64 * sqj] = 0.0
            sim = (freq64 * prods - si * sj) / np.sqrt(var_i * var_j)
        # Pairs without enough common ratings (0/0 for msd without any), and 0/0 from
        # ratings or residuals of exactly 0 for the others.
        unusable = freq < max(min_support, 1)
        if name != "msd":
            unusable |= ~np.isfinite(sim)
        np.copyto(sim, 0.0, where=unusable)
    if symmetric:
        if a.density > _SPARSE_DENSITY:
            # BLAS sums in its own order: make (x, x') and (x', x) one number, as Surprise's.
            lower = np.tril(sim, -1)
            sim = lower + lower.T
        np.fill_diagonal(sim, 1.0)
    return sim


def _fold_in_residuals(
    rows: sp.csr_matrix, mu: float, bu: np.ndarray, bi: np.ndarray
) -> sp.csr_matrix:
    """Item-based candidates of folded-in people: their own ratings minus baselines."""
    out = rows.copy()
    us = np.repeat(np.arange(rows.shape[0]), np.diff(rows.indptr))
    out.data = rows.data - ((mu + bi[rows.indices]) + bu[us])
    return out


# -- ranking helpers ------------------------------------------------------------------------


def _csr_cells(X: sp.csr_matrix, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(position in rows, column)`` of every stored entry of ``X[rows]``, without SciPy's
    per-call overhead (this is on the path of ranking one person's candidates)."""
    starts, ends = X.indptr[rows], X.indptr[rows + 1]
    lens = ends - starts
    which = np.repeat(np.arange(len(rows)), lens)
    offsets = np.arange(lens.sum()) - np.repeat(np.cumsum(lens) - lens, lens)
    return which, X.indices[starts[which] + offsets]


def _topk_two_keys(primary: np.ndarray, secondary: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """:func:`_topk.topk` with a tie-break key, sorting only what can make the top ``k``.

    Per row, the items at or above the ``k``-th largest primary score (ties included) are
    ordered by primary, then secondary (both descending), then index; the rest cannot
    enter. Same result as ``_topk.topk(primary, k, secondary=secondary)``.
    """
    primary = np.nan_to_num(np.asarray(primary, dtype=np.float64), nan=-np.inf, posinf=np.inf, neginf=-np.inf)
    n_rows, n_items = primary.shape
    kk = min(k, n_items)
    out_idx = np.full((n_rows, k), -1, dtype=np.int64)
    out_val = np.full((n_rows, k), np.nan)
    if kk == 0 or n_rows == 0:
        return out_idx, out_val
    kth = np.partition(primary, n_items - kk, axis=1)[:, n_items - kk, None]
    r, c = np.nonzero((primary >= kth) & (primary > -np.inf))
    p = primary[r, c]
    order = np.lexsort((c, -secondary[r, c], -p, r))
    r, c, p = r[order], c[order], p[order]
    first = np.searchsorted(r, np.arange(n_rows))
    rank = np.arange(len(r)) - first[r]
    keep = rank < kk
    out_idx[r[keep], rank[keep]] = c[keep]
    out_val[r[keep], rank[keep]] = p[keep]
    return out_idx, out_val


# -- the estimator ---------------------------------------------------------------------------


def _bins(lens: np.ndarray, ratio: float = _BIN_RATIO) -> list[tuple[np.ndarray, int]]:
    """Groups of positions whose lengths differ by less than ``ratio``, each with its
    largest length (the padded width); zero lengths are left out."""
    has = np.flatnonzero(lens > 0)
    if len(has) == 0:
        return []
    bins = np.floor(np.log(lens[has]) / math.log(ratio)).astype(np.int64)
    order = np.argsort(bins, kind="stable")
    cuts = np.flatnonzero(np.diff(bins[order])) + 1
    groups = []
    for members in np.split(has[order], cuts):
        groups.append((members, int(lens[members].max())))
    return groups


def _windows(a: np.ndarray, width: int) -> np.ndarray:
    """The read-only view whose row ``j`` is ``a[j : j + width]`` (NumPy's
    ``sliding_window_view`` without its per-call checking, which costs more than the view on
    the path of one person's ranking); ``a`` is contiguous and longer than ``width``."""
    view = np.ndarray((len(a) - width + 1, width), a.dtype, a, 0, (a.itemsize, a.itemsize))
    view.flags.writeable = False
    return view


def _padded(
    by_y: sp.csr_matrix, ys: np.ndarray, width: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rows ``ys`` of ``by_y`` as ``(len(ys), width)`` blocks of neighbour indices, residuals
    and a 0/1 validity mask (padding: index 0, residual 0)."""
    starts = by_y.indptr[ys]
    valid = np.arange(width) < (by_y.indptr[ys + 1] - starts)[:, None]
    # Whole slices through sliding windows (rows past the end read the appended zeros).
    indices = np.concatenate([by_y.indices, np.zeros(width, by_y.indices.dtype)])
    data = np.concatenate([by_y.data, np.zeros(width)])
    idx = _windows(indices, width)[starts] * valid
    res = _windows(data, width)[starts] * valid
    return idx, res, valid.astype(np.float64)


def _keep_k_positive(S: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """``S`` (``(..., width)`` candidate similarities in candidate order, padding 0) with all
    but the usable neighbours zeroed (in place when ``S`` is C-ordered), and how many remain
    per row.

    Usable: among the ``k`` largest (equal values at the ``k``-th place taken in candidate
    order) and positive. Padding can stand in for a non-positive candidate without changing
    anything, as neither ever counts.
    """
    S = np.ascontiguousarray(S)
    width = S.shape[-1]
    if width <= k:
        np.maximum(S, 0.0, out=S)
        return S, np.count_nonzero(S, axis=-1)
    kth = np.partition(S, width - k, axis=-1)[..., width - k : width - k + 1]
    # S >= kth and S > 0 in one comparison: padding and non-positive values never pass.
    sel = S >= np.maximum(kth, _TINY)
    count = np.count_nonzero(sel, axis=-1)
    tie = np.flatnonzero(count > k)
    if len(tie):
        # Equal similarities at the k-th place: the earlier candidates win.
        rows, rows_sel, rows_kth = S.reshape(-1, width)[tie], sel.reshape(-1, width), kth.reshape(-1, 1)[tie]
        eq = rows == rows_kth
        need = k - (rows > rows_kth).sum(axis=1)
        rows_sel[tie] &= ~eq | (np.cumsum(eq, axis=1) <= need[:, None])
        count.reshape(-1)[tie] = k
    S *= sel
    return S, count


def _neighbour_sums(
    sim: np.ndarray, x: np.ndarray, by_y: sp.csr_matrix, y: np.ndarray, k: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``sum sim * (r - b)``, ``sum sim`` and the count over the usable neighbours of each pair.

    Pair ``p``'s candidates are row ``y[p]`` of ``by_y`` (neighbour indices, residuals), its
    similarities row ``x[p]`` of ``sim``. Pairs are binned by candidate count so padding
    wastes little; each block gathers its similarities into a ``(pairs, width)`` array and
    :func:`_keep_k_positive` picks the neighbours. Large jobs run their blocks on a thread
    pool (NumPy releases the GIL in all of them); every block writes its own pairs.
    """
    n_pairs = len(x)
    num = np.zeros(n_pairs)
    den = np.zeros(n_pairs)
    cnt = np.zeros(n_pairs, dtype=np.int64)
    if n_pairs == 0 or by_y.nnz == 0:
        return num, den, cnt
    index_type = np.int32 if sim.size < 2**31 and by_y.nnz < 2**31 else np.int64
    sim_flat = sim.ravel()
    row_offset = (x * sim.shape[1]).astype(index_type)
    starts = by_y.indptr[y].astype(index_type)
    lens = (by_y.indptr[y + 1] - by_y.indptr[y]).astype(index_type)
    # Padded copies: a block's slots past a row's end read the next rows (or this padding);
    # their similarities are zeroed, so what they read never counts.
    pad = int(lens.max())
    indices = np.concatenate([by_y.indices, np.zeros(pad, by_y.indices.dtype)])
    data = np.concatenate([by_y.data, np.zeros(pad)])
    blocks: list[tuple[np.ndarray, int]] = []
    for members, width in _bins(lens, _BIN_RATIO_BIG if n_pairs >= 4096 else _BIN_RATIO):
        step = max(1, _BLOCK_CELLS // (width * _THREADS))
        blocks.extend((members[s : s + step], width) for s in range(0, len(members), step))

    def run(block: tuple[np.ndarray, int]) -> None:
        p, width = block
        # Row j of a sliding window is the slice [j, j + width): copying whole rows is several
        # times faster than gathering the same cells one by one.
        S = sim_flat[row_offset[p, None] + _windows(indices, width)[starts[p]]]
        S *= np.arange(width, dtype=index_type) < lens[p, None]
        S, cnt[p] = _keep_k_positive(S, k)
        num[p] = np.einsum("ij,ij->i", S, _windows(data, width)[starts[p]])
        den[p] = S.sum(axis=1)

    _run_blocks(run, blocks, int(lens.sum()))
    return num, den, cnt


#: Threads for large estimate jobs (NumPy's gathers, partitions and ufuncs release the GIL).
_THREADS = max(1, min(8, os.cpu_count() or 1))
#: Jobs with fewer candidate cells than this run in the calling thread.
_PARALLEL_CELLS = 1 << 18
_pool: ThreadPoolExecutor | None = None


def _run_blocks(fn: Callable[[Any], None], blocks: list[Any], cells: int) -> None:
    """``fn(block)`` for every block: on a shared thread pool when the job is large."""
    global _pool
    if _THREADS == 1 or cells < _PARALLEL_CELLS or len(blocks) < 2:
        for block in blocks:
            fn(block)
        return
    if _pool is None:
        _pool = ThreadPoolExecutor(max_workers=_THREADS, thread_name_prefix="teamrec-knn")
    for future in [_pool.submit(fn, block) for block in blocks]:
        future.result()
