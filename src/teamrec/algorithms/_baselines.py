"""Baseline estimates for explicit ratings, shared by the rating models.

The baseline of a rating is ``b_ui = mu + b_u + b_i``: the global mean ``mu`` plus how much
person ``u`` and item ``i`` deviate from it (Koren 2010, section 2.1). The biases minimise

    sum over ratings (r_ui - mu - b_u - b_i)^2  +  reg_u * sum b_u^2  +  reg_i * sum b_i^2

by alternating least squares, exactly in Surprise's order (``baseline_als`` in its
``optimize_baselines.pyx``): each epoch first sets every item bias from the current user
biases, then every user bias from the new item biases::

    b_i = sum_{u rated i} (r_ui - mu - b_u) / (reg_i + |U_i|)
    b_u = sum_{i rated by u} (r_ui - mu - b_i) / (reg_u + |I_u|)

Within one half-step the updates are independent of each other, so each is one sparse
matrix-vector product: the same numbers as Surprise's loops (up to the order of a floating
sum).
Starting from given user biases continues the optimisation (a warm start for updates).

:data:`RatingScale` is the config field both rating models clip their estimates to.
"""

from __future__ import annotations

from typing import Annotated

import numpy as np
import scipy.sparse as sp
from pydantic import AfterValidator


def _ordered_scale(value: tuple[float, float] | None) -> tuple[float, float] | None:
    if value is not None and not value[0] < value[1]:
        raise ValueError("rating_scale must be (lowest, highest) with lowest < highest")
    return value


#: A rating model's ``rating_scale`` setting: the (lowest, highest) ratings its estimates are
#: clipped to, checked to be in order; None takes the training data's range.
RatingScale = Annotated[tuple[float, float] | None, AfterValidator(_ordered_scale)]


def global_mean(X: sp.csr_matrix) -> float:
    """The mean of the stored ratings."""
    return float(X.data.mean()) if X.nnz else 0.0


def als_baselines(
    X: sp.csr_matrix,
    mu: float,
    *,
    n_epochs: int = 10,
    reg_u: float = 15.0,
    reg_i: float = 10.0,
    user_bias: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """User and item biases ``(b_u, b_i)`` of the ratings stored in ``X`` (users x items).

    ``user_bias`` (as long as ``X`` has rows, or shorter: new people start at 0) warm-starts
    the alternation; the item biases need no start, each epoch computes them first.
    """
    n_users, n_items = X.shape
    pattern = sp.csr_matrix((np.ones(X.nnz), X.indices, X.indptr), shape=X.shape)
    pattern_t = pattern.T.tocsr()
    # sum_u (r_ui - mu - b_u) = sum_u (r_ui - mu) - sum_u b_u: two sparse products per epoch.
    dev_item = np.asarray(X.sum(axis=0)).ravel() - mu * np.diff(pattern_t.indptr)
    dev_user = np.asarray(X.sum(axis=1)).ravel() - mu * np.diff(X.indptr)
    n_per_item = np.diff(pattern_t.indptr)
    n_per_user = np.diff(X.indptr)
    bu = np.zeros(n_users)
    if user_bias is not None:
        m = min(len(user_bias), n_users)
        bu[:m] = user_bias[:m]
    bi = np.zeros(n_items)
    for _ in range(n_epochs):
        bi = (dev_item - pattern_t @ bu) / (reg_i + n_per_item)
        bu = (dev_user - pattern @ bi) / (reg_u + n_per_user)
    return bu, bi


def fold_in_user_bias(rows: sp.csr_matrix, mu: float, item_bias: np.ndarray, reg_u: float) -> np.ndarray:
    """The user biases of people given by their rating ``rows``, the item biases held fixed.

    This is the last half-step of :func:`als_baselines` for people the model did not see.
    """
    coo = rows.tocoo()
    n = np.bincount(coo.row, minlength=rows.shape[0])
    dev = np.bincount(coo.row, coo.data - mu - item_bias[coo.col], minlength=rows.shape[0])
    return dev / (reg_u + n)
