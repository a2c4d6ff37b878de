"""User EASE: EASE's closed-form regression on the people side ("people like you", learnt).

Where :mod:`~teamrec.algorithms.ease` regresses every *item* on the other items, this
regresses every *person's* row on the other people's rows (Steck's EASE on the transposed
matrix)::

    K = X X^T,     P = (K + lambda I)^-1,     b_u = argmin_b ||x_u - sum_{v != u} b_v x_v||^2 + lambda ||b||^2
                                              = -P[:, u] / P_uu   (b_uu = 0)

and a person's scores are ``sum_v b_uv x_v``: what the people who best reconstruct them
together have. Unlike user-knn's separate similarity and neighbour count, the weights are
fitted jointly (people who merely repeat each other share the credit), negative weights
included.

Why it earns its place (docs/benchmarks.md): its dense matrix is ``n_users`` squared, not
``n_items`` squared, so it is cheap exactly where item EASE is not -- Last.fm 2K has 1,892
listeners and 17,632 artists -- and on both Last.fm and ml-100k it is the best single model
on auto's validation split.

Scoring a fresh row ``x`` for person index ``u`` (fold-in: a new person, or a stored one
whose events changed) solves the same ridge regression on the stored people other than
``u``. With ``k = X x`` and the inverse of ``K + lambda I`` without row and column ``u`` being
``P - P[:, u] P[u, :] / P_uu`` (a rank-one downdate)::

    b = P k - P[:, u] (P[u, :] k) / P_uu,     b_u = 0

Stored people are scored through the same formula with their stored row (for ``x = x_u`` it
equals ``-P[:, u] / P_uu`` exactly, up to rounding), so fold-in and stored scores agree.
A person index past the stored ones excludes nobody.

Values as in EASE: ratings binarised by default, ``value_power`` damps values kept as given,
``lambda = regularization_scale x`` the mean diagonal of ``K`` (the mean squared row norm).
The inverse is EASE's crash-proof blocked one; more people than ``max_users`` or than memory
can hold are refused with :class:`~teamrec.errors.ModelTooLargeError`. :meth:`update` refits
(one ``n_users``-cubed solve; new people change the matrix's size anyway).
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from pydantic import Field

from teamrec.algorithms import _topk
from teamrec.algorithms.base import Algorithm, Contribution, Explanation
from teamrec.algorithms.ease import (
    GramPenaltyConfig,
    check_dense_size,
    gram_inverse,
    looks_like_ratings,
    scaled_lambda,
    transform_values,
)


class UserEASEConfig(GramPenaltyConfig):
    max_users: int = Field(20_000, ge=1, description="refuse more people than this")


class UserEASE(Algorithm):
    """EASE on people: each person's row regressed on the others'; see the module docstring."""

    name = "user-ease"
    Config = UserEASEConfig
    config: UserEASEConfig

    def _fit(self, X: sp.csr_matrix) -> None:
        check_dense_size(self.name, X.shape[0], self.config.max_users, "people", "max_users")
        c = self.config
        self.binarized_ = bool(c.binary) or (c.binary is None and looks_like_ratings(X))
        V = self._values(X)
        self.lambda_ = float(c.regularization or scaled_lambda(V.T, c.regularization_scale))
        self.gram_inverse_ = gram_inverse(sp.csr_matrix(V @ V.T), self.lambda_)
        self._after_load()

    def _values(self, rows: sp.spmatrix) -> sp.csr_matrix:
        return transform_values(rows, self.binarized_, self.config.value_power)

    def _after_load(self) -> None:
        self._V = self._values(self.X_)
        self._VT = sp.csr_matrix(self._V.T)

    def person_weights(self, users: np.ndarray, rows: sp.csr_matrix) -> np.ndarray:
        """``(n_stored, len(users))``: column ``q`` holds the stored people's weights ``b`` for
        the row ``rows[q]`` of person index ``users[q]`` (see the module docstring)."""
        P = self.gram_inverse_
        n = P.shape[0]
        k = np.asarray((self._V @ self._values(rows).T).todense())  # n_stored x q
        b = P @ k
        own = np.flatnonzero(users < n)
        if len(own):
            u = users[own]
            coef = np.einsum("ij,ji->i", P[u], k[:, own]) / P[u, u]
            b[:, own] -= P[:, u] * coef[None, :]
            b[u, own] = 0.0
        return b

    def score(self, users: np.ndarray, user_items: sp.spmatrix | None = None) -> np.ndarray:
        self._check_fitted()
        users = np.atleast_1d(np.asarray(users, dtype=np.int64))
        b = self.person_weights(users, self._rows(users, user_items))
        return np.asarray(self._VT @ b).T

    def similar_users(self, users: np.ndarray | list[int], k: int = 10) -> tuple[np.ndarray, np.ndarray]:
        """The people with the largest weights in each person's regression (``b_u``)."""
        self._check_fitted()
        users = np.atleast_1d(np.asarray(users, dtype=np.int64))
        P = self.gram_inverse_
        weights = -P[users] / np.diag(P)[users, None]
        weights[weights <= 0] = -np.inf  # only the people who add to the person's row
        weights[np.arange(len(users)), users] = -np.inf
        return _topk.topk(weights, k)

    def explain(self, user: int, item: int, n: int = 5) -> Explanation:
        """The people ``v`` with the largest terms ``b_uv x_v,item``."""
        self._check_fitted()
        users = np.array([user], dtype=np.int64)
        b = self.person_weights(users, self.X_[users])[:, 0]
        column = self._V[:, item].toarray().ravel()
        have = np.flatnonzero(column)
        terms = b[have] * column[have]
        order = np.lexsort((have, -np.abs(terms)))[:n]
        return Explanation(
            user=int(user),
            item=int(item),
            score=float(terms.sum()),
            contributions=[
                Contribution("user", int(have[o]), float(terms[o]), {"value": float(column[have[o]])}) for o in order
            ],
        )
