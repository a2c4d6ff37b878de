"""Value transforms as pure functions over events or sparse matrices.

Models only consume the weighted matrix; how raw activity becomes a matrix value is decided
here, once (the habit of implicit's ``bm25_weight`` / ``tfidf_weight``):

* :func:`time_decay` -- each event's value times ``0.5 ** (age / half_life)``: an event one
  half-life old counts half. Events without a timestamp are not decayed.
* :func:`decay_reference` -- the time ages are counted from: the latest event, but never later
  than the clock, so one event dated in the future cannot make every real event look old.
* :func:`binarize` -- every stored entry becomes 1.
* :func:`log1p` -- ``log(1 + x)``, taming heavy-tailed counts (play counts, message counts).
* :func:`drop_below` -- entries below a minimum value are removed.
* :func:`min_interactions` -- users and items with too few entries are removed.
* :func:`iuf_weights` / :func:`iuf` -- inverse user frequency: column *c* weighs
  ``log(n_rows / n_c)``, ``n_c`` the rows with an entry in *c*. Sharing a niche artist or a
  small channel says more about two people than sharing the one everybody is in (which weighs
  0). User-user similarity uses it by default; a reason naming the channels two people share
  can rank them by the same weights (see :func:`shared_weights`).
"""

from __future__ import annotations

import logging
import time

import numpy as np
import scipy.sparse as sp

SECONDS_PER_DAY = 86_400.0

logger = logging.getLogger(__name__)


def decay_reference(timestamps: np.ndarray, now: float | None = None, *, clock: float | None = None) -> float:
    """The time from which :func:`time_decay` counts ages.

    ``now`` when given (an explicit reference, e.g. to replay a past day). Otherwise the latest
    event, capped at ``clock`` (the wall clock, ``time.time()``, by default): a historical data
    set decays from its own last day, while a single event dated years ahead (a typo, a wrong
    unit) can no longer push the reference out and decay every real event to nothing. Events
    after the reference count as new (age 0); how many there are is logged as a warning.
    Without any timestamp the reference is 0 (nothing is decayed then anyway).
    """
    stamps = np.asarray(timestamps, dtype=np.float64)
    known = stamps[np.isfinite(stamps)]
    if now is not None:
        reference = float(now)
    elif not len(known):
        return 0.0
    else:
        reference = min(float(known.max()), time.time() if clock is None else float(clock))
    n_future = int((known > reference).sum())
    if n_future:
        logger.warning(
            "%d event(s) are later than the decay reference time %s; they count as new (age 0)",
            n_future, time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(reference)),
        )
    return reference


def time_decay(values: np.ndarray, timestamps: np.ndarray, half_life_days: float, now: float) -> np.ndarray:
    """``values * 0.5 ** ((now - t) / half_life)``; NaN timestamps are left undecayed.

    Events later than ``now`` are not amplified (their age is clipped at 0).
    """
    if half_life_days <= 0:
        raise ValueError("half_life_days must be positive")
    age_days = np.clip((now - timestamps) / SECONDS_PER_DAY, 0.0, None)
    factor = np.where(np.isnan(age_days), 1.0, np.exp2(-age_days / half_life_days))
    return values * factor


def binarize(matrix: sp.csr_matrix) -> sp.csr_matrix:
    """Every stored non-zero entry becomes 1.0."""
    out = matrix.copy()
    out.data = np.ones_like(out.data)
    return out


def log1p(matrix: sp.csr_matrix) -> sp.csr_matrix:
    """``log(1 + x)`` on stored entries (zero stays zero)."""
    out = matrix.copy()
    out.data = np.log1p(out.data)
    return out


def drop_below(matrix: sp.csr_matrix, minimum: float) -> sp.csr_matrix:
    """Remove stored entries whose value is below ``minimum``."""
    out = matrix.copy()
    out.data[out.data < minimum] = 0.0
    out.eliminate_zeros()
    return out


def min_interactions(
    matrix: sp.csr_matrix, min_per_user: int = 0, min_per_item: int = 0
) -> tuple[sp.csr_matrix, np.ndarray, np.ndarray]:
    """Keep users with at least ``min_per_user`` entries and items with ``min_per_item``.

    Filters are applied repeatedly until both hold (removing items can push a user under
    the limit). Returns the filtered matrix and the kept user and item indices.
    """
    users = np.arange(matrix.shape[0])
    items = np.arange(matrix.shape[1])
    current = matrix.tocsr()
    while True:
        user_counts = np.diff(current.indptr)
        item_counts = np.bincount(current.indices, minlength=current.shape[1])
        keep_u = user_counts >= min_per_user
        keep_i = item_counts >= min_per_item
        if keep_u.all() and keep_i.all():
            return current, users, items
        current = current[keep_u][:, keep_i].tocsr()
        users = users[keep_u]
        items = items[keep_i]


def iuf_weights(matrix: sp.spmatrix) -> np.ndarray:
    """Per column, ``log(n_rows / n_c)`` with ``n_c`` the rows holding a non-zero entry in that
    column; 0 for a column nobody has (it weighs nothing) and for one everybody has."""
    csr = sp.csr_matrix(matrix)
    n_rows = csr.shape[0]
    counts = np.bincount(csr.indices[csr.data != 0], minlength=csr.shape[1]).astype(np.float64)
    out = np.zeros(csr.shape[1])
    np.divide(n_rows, counts, out=out, where=counts > 0)
    return np.log(out, out=out, where=counts > 0)


def iuf(matrix: sp.spmatrix, weights: np.ndarray | None = None) -> sp.csr_matrix:
    """``matrix`` with column *c* multiplied by its IUF weight (``weights``, or
    :func:`iuf_weights` of ``matrix`` itself); stored entries that become 0 are dropped."""
    csr = sp.csr_matrix(matrix, dtype=np.float64, copy=True)
    w = iuf_weights(csr) if weights is None else np.asarray(weights, dtype=np.float64)
    if len(w) < csr.shape[1]:  # columns added since the weights were learnt weigh nothing
        w = np.r_[w, np.zeros(csr.shape[1] - len(w))]
    csr.data *= w[csr.indices]
    csr.eliminate_zeros()
    return csr


def shared_weights(a: sp.spmatrix, b: sp.spmatrix, weights: np.ndarray) -> sp.csr_matrix:
    """What each shared column adds to the IUF-weighted dot product of rows ``a`` and ``b``
    (same shape): ``a_c * b_c * weights[c]^2``, non-zero only where both have an entry. Sort
    it to name the channels or artists that make two people alike."""
    w = np.asarray(weights, dtype=np.float64)
    both = sp.csr_matrix(sp.csr_matrix(a, dtype=np.float64).multiply(sp.csr_matrix(b, dtype=np.float64)))
    both.data *= w[both.indices] ** 2
    both.eliminate_zeros()
    return both
