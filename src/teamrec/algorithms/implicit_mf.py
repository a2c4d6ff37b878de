"""Matrix factorisation for implicit feedback through the ``implicit`` library, on the CPU:
ALS (the clickstream recommender) and BPR.

**ALS** (Hu, Koren & Volinsky 2008) learns user factors ``x_u`` and item factors ``y_i``
minimising::

    sum_{u,i} c_ui (p_ui - x_u . y_i)^2 + regularization (|x_u|^2 + |y_i|^2)

with preference ``p_ui = 1`` where there is an event and confidence ``c_ui = 1 + alpha r_ui``
(``r_ui`` the event value, e.g. a count or a decayed weight), ``c = 1`` elsewhere.
``implicit`` 0.7 takes a stored value ``v`` as the confidence ``alpha v`` itself (its solver
adds ``(v - 1) y y^T`` and ``v y``), so we hand it ``1 + alpha r`` with its own ``alpha`` at 1:
exactly the paper's confidence.
**BPR** (Rendle et al. 2009) learns the factors by stochastic gradient ascent on the
probability that a person ranks an item they have above one they do not (with an item bias,
which ``implicit`` keeps as the last factor column, the user's being fixed at 1).

Both wrap ``implicit.cpu`` models (never the GPU): ``fit`` runs inside
``threadpoolctl.threadpool_limits(1, "blas")`` as ``implicit`` recommends (its own threads
do the parallel work; ``num_threads = 0`` means one per core). What is saved is the factor
matrices ``user_factors_`` and ``item_factors_`` (NumPy float32); ``_after_load`` rebuilds
the ``implicit`` model around them.

Scores are ``x_u . y_i``; similar items (and people) are the largest cosines between the
normalised factors. A person the model did not see -- or whose events changed -- is scored
by *folding in* their events (``score(users, user_items=rows)``) without refitting:

* ALS recomputes their factors exactly as one ALS half-step would, with the item factors
  fixed (``implicit``'s ``recalculate_user``: the least-squares solution
  ``x_u = (Y^T C_u Y + regularization I)^-1 Y^T C_u p_u``);
* BPR has no closed form; a folded-in person gets the confidence-weighted mean of their
  items' factors (and the bias column's 1): their items and those like them score high.

``update(X)`` with the grown matrix: ALS folds new and changed people in
(``partial_fit_users``), computes new and changed items from the people
(``partial_fit_items``) and folds the people who touch those items in once more; BPR folds
people in the same way and refits when items were added (a BPR fit is cheap).
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import scipy.sparse as sp
import threadpoolctl
from implicit.cpu.als import AlternatingLeastSquares
from implicit.cpu.bpr import BayesianPersonalizedRanking
from pydantic import Field

from teamrec.algorithms import _topk
from teamrec.algorithms.base import Algorithm, AlgorithmConfig, Contribution, Explanation, as_csr
from teamrec.errors import DataError


class ALSConfig(AlgorithmConfig):
    factors: int = Field(64, ge=1)
    regularization: float = Field(0.01, ge=0)
    iterations: int = Field(15, ge=1)
    alpha: float = Field(1.0, gt=0, description="confidence 1 + alpha * value")
    random_state: int = 0
    num_threads: int = Field(0, ge=0, description="0: one per CPU core")
    use_cg: bool = Field(True, description="conjugate gradient (fast) instead of Cholesky solves")


class BPRConfig(AlgorithmConfig):
    factors: int = Field(64, ge=1)
    learning_rate: float = Field(0.01, gt=0)
    regularization: float = Field(0.01, ge=0)
    iterations: int = Field(100, ge=1)
    random_state: int = 0
    # Hogwild SGD: more threads are faster but no longer reproducible run to run.
    num_threads: int = Field(1, ge=0, description="0: one per CPU core")


class _ImplicitMF(Algorithm):
    """What ALS and BPR share: fitting inside the BLAS limit, factor scores, cosines."""

    def _make_model(self) -> Any:
        raise NotImplementedError

    def _build(self) -> Any:
        with threadpoolctl.threadpool_limits(1, "blas"):
            return self._make_model()

    def _fit(self, X: sp.csr_matrix) -> None:
        model = self._build()
        with threadpoolctl.threadpool_limits(1, "blas"):
            model.fit(X.astype(np.float32), show_progress=False)
        self.user_factors_ = np.ascontiguousarray(model.user_factors, dtype=np.float32)
        self.item_factors_ = np.ascontiguousarray(model.item_factors, dtype=np.float32)
        self._model = model

    def _after_load(self) -> None:
        self._model = self._build()
        self._model.user_factors = self.user_factors_
        self._model.item_factors = self.item_factors_

    # -- scoring ---------------------------------------------------------------------------
    def _fold_in(self, rows: sp.csr_matrix) -> np.ndarray:
        raise NotImplementedError

    def _user_vectors(self, users: np.ndarray, user_items: sp.spmatrix | None) -> np.ndarray:
        if user_items is None:
            return self.user_factors_[users]
        return self._fold_in(self._rows(users, user_items))

    def score(self, users: np.ndarray, user_items: sp.spmatrix | None = None) -> np.ndarray:
        """``x_u . y_i`` for every item; ``user_items`` folds the people in from those rows."""
        self._check_fitted()
        users = np.atleast_1d(np.asarray(users, dtype=np.int64))
        return (self._user_vectors(users, user_items) @ self.item_factors_.T).astype(np.float64)

    def _cosine_neighbours(self, factors: np.ndarray, rows: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        norms = np.linalg.norm(factors, axis=1)
        unit = factors / np.where(norms > 0, norms, 1.0)[:, None]
        rows = np.asarray(rows, dtype=np.int64)
        block = (unit[rows] @ unit.T).astype(np.float64)
        block[np.arange(len(rows)), rows] = -np.inf
        return _topk.topk(block, k)

    #: Factor columns that describe taste (BPR's last column is a bias, not a direction).
    _taste: ClassVar[slice] = slice(None)

    def similar_items(self, items: np.ndarray | list[int], k: int = 10) -> tuple[np.ndarray, np.ndarray]:
        """The largest cosines between normalised item factors."""
        self._check_fitted()
        return self._cosine_neighbours(self.item_factors_[:, self._taste], np.asarray(items), k)

    def similar_users(self, users: np.ndarray | list[int], k: int = 10) -> tuple[np.ndarray, np.ndarray]:
        """The largest cosines between normalised user factors."""
        self._check_fitted()
        return self._cosine_neighbours(self.user_factors_[:, self._taste], np.asarray(users), k)

    def explain(self, user: int, item: int, n: int = 5) -> Explanation:
        """The latent factors ``f`` with the largest terms ``x_uf y_if`` of the score."""
        self._check_fitted()
        terms = self.user_factors_[user].astype(np.float64) * self.item_factors_[item]
        order = np.argsort(-np.abs(terms), kind="stable")[:n]
        return Explanation(
            user=user,
            item=item,
            score=float(terms.sum()),
            contributions=[Contribution("factor", int(f), float(terms[f])) for f in order],
        )

    # -- updating --------------------------------------------------------------------------
    def _changes(self, new: sp.csr_matrix) -> tuple[np.ndarray, np.ndarray]:
        """People (rows) and items (columns) that are new or whose values changed."""
        old = self.X_
        if new.shape[0] < old.shape[0] or new.shape[1] < old.shape[1]:
            raise DataError(f"{self.name}: update() needs the whole grown matrix, got {new.shape} < {old.shape}")
        diff = (new[: old.shape[0], : old.shape[1]] != old).tocoo()
        users = np.union1d(diff.row, np.arange(old.shape[0], new.shape[0]))
        items = np.union1d(diff.col, np.arange(old.shape[1], new.shape[1]))
        return users.astype(np.int64), items.astype(np.int64)

    def _set_users(self, users: np.ndarray, vectors: np.ndarray, n_users: int) -> None:
        if n_users > len(self.user_factors_):
            extra = np.zeros((n_users - len(self.user_factors_), self.user_factors_.shape[1]), np.float32)
            self.user_factors_ = np.concatenate([self.user_factors_, extra])
        self.user_factors_[users] = vectors


class ALS(_ImplicitMF):
    """Implicit-feedback ALS over ``implicit``; see the module docstring."""

    name = "als"
    Config = ALSConfig
    config: ALSConfig

    def _make_model(self) -> AlternatingLeastSquares:
        cfg = self.config
        return AlternatingLeastSquares(
            factors=cfg.factors,
            regularization=cfg.regularization,
            alpha=1.0,  # the confidence 1 + alpha r is in the matrix (_confidence)
            iterations=cfg.iterations,
            use_cg=cfg.use_cg,
            num_threads=cfg.num_threads,
            random_state=cfg.random_state,
        )

    def _confidence(self, M: sp.spmatrix) -> sp.csr_matrix:
        """``1 + alpha r`` on the stored entries, float32 CSR: what ``implicit`` consumes."""
        out = sp.csr_matrix(M, dtype=np.float32, copy=True)
        out.data = (1.0 + self.config.alpha * out.data).astype(np.float32)
        return out

    def _fit(self, X: sp.csr_matrix) -> None:
        super()._fit(self._confidence(X))

    def _fold_in(self, rows: sp.csr_matrix) -> np.ndarray:
        """Exact ALS user factors for ``rows`` (item factors fixed): ``implicit``'s
        ``recalculate_user``, a Cholesky solve per person."""
        rows = self._confidence(rows)
        with threadpoolctl.threadpool_limits(1, "blas"):
            return np.asarray(self._model.recalculate_user(np.arange(rows.shape[0]), rows), dtype=np.float32)

    def explain(self, user: int, item: int, n: int = 5) -> Explanation:
        """The person's items that contribute most to the score (``implicit``'s ALS explain,
        section 5 of Hu, Koren & Volinsky: the score decomposes over the items they have)."""
        self._check_fitted()
        with threadpoolctl.threadpool_limits(1, "blas"):
            _, top, _ = self._model.explain(user, self._confidence(self.X_), item, N=n)
        return Explanation(
            user=user,
            item=item,
            score=float(self.score(np.array([user]))[0, item]),
            contributions=[Contribution("item", int(j), float(w)) for j, w in top],
        )

    def update(self, X: Any) -> ALS:
        """Fold new and changed people in, recompute new and changed items, fold the people
        of those items in again; nothing else moves (see the module docstring)."""
        if not self.is_fitted:
            return self.fit(X)
        new = as_csr(X)
        if new.nnz == 0:
            raise DataError(f"{self.name}: cannot fit on an empty matrix")
        users, items = self._changes(new)
        n_items_old = self.item_factors_.shape[0]
        model = self._model
        with threadpoolctl.threadpool_limits(1, "blas"):
            if len(users):
                self._set_users(users, self._fold_in(new[users][:, :n_items_old]), new.shape[0])
                model.user_factors = self.user_factors_
                model._XtX = model._user_norms = None
            if len(items):
                model.partial_fit_items(items, self._confidence(new.T.tocsr()[items]))
                self.item_factors_ = np.ascontiguousarray(model.item_factors, dtype=np.float32)
                touched = np.unique(new[:, items].tocoo().row)
                if len(touched):
                    self._set_users(touched, self._fold_in(new[touched]), new.shape[0])
        self.X_ = new
        self._after_load()
        return self


class BPR(_ImplicitMF):
    """Bayesian personalised ranking over ``implicit``; see the module docstring."""

    name = "bpr"
    Config = BPRConfig
    config: BPRConfig
    _taste = slice(None, -1)

    def _make_model(self) -> BayesianPersonalizedRanking:
        cfg = self.config
        return BayesianPersonalizedRanking(
            factors=cfg.factors,
            learning_rate=cfg.learning_rate,
            regularization=cfg.regularization,
            iterations=cfg.iterations,
            num_threads=cfg.num_threads,
            random_state=cfg.random_state,
        )

    def _fold_in(self, rows: sp.csr_matrix) -> np.ndarray:
        """The value-weighted mean of the person's item factors, bias column set to 1."""
        rows = sp.csr_matrix(rows, dtype=np.float64)
        totals = np.asarray(rows.sum(axis=1)).ravel()
        means = (rows @ self.item_factors_.astype(np.float64)) / np.where(totals > 0, totals, 1.0)[:, None]
        means[:, -1] = 1.0
        return means.astype(np.float32)

    def update(self, X: Any) -> BPR:
        """Fold new and changed people in; refit when items were added."""
        if not self.is_fitted:
            return self.fit(X)
        new = as_csr(X)
        if new.shape[1] > self.X_.shape[1] or new.nnz == 0:
            return self.fit(new)
        users, _ = self._changes(new)
        if len(users):
            self._set_users(users, self._fold_in(new[users]), new.shape[0])
        self.X_ = new
        self._after_load()
        return self
