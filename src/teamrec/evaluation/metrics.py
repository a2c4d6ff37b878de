"""Accuracy metrics, vectorised over users.

Error metrics compare estimated values with true ones over held-out cells *j = 1..n*:

* ``rmse = sqrt( (1/n) * sum_j (estimate_j - truth_j)^2 )``
* ``mae  = (1/n) * sum_j |estimate_j - truth_j|``

Ranking metrics take the recommended items as an index array ``recs`` of shape
``(n_users, K)`` (best first, padded with ``-1``) and the held-out items as a sparse
``(n_users, n_items)`` matrix ``relevant`` whose row *u* holds the set *T_u* of user *u*'s
held-out items (row *r* of ``recs`` and of ``relevant`` are the same user). With
``rel_u(i) = 1`` when the item at rank *i* (1-based) is in *T_u*, else 0, and
``hits_u(k) = sum_{i<=k} rel_u(i)``:

* ``precision@k = hits_u(k) / k``  (a padded slot counts as a miss)
* ``recall@k    = hits_u(k) / |T_u|``  (the standard definition; a user with more than *k*
  held-out items cannot reach 1)
* ``ndcg@k      = DCG_u(k) / IDCG_u(k)`` with binary gain and log2 discount,
  ``DCG_u(k) = sum_{i<=k} rel_u(i) / log2(i + 1)`` and the ideal
  ``IDCG_u(k) = sum_{i <= min(|T_u|, k)} 1 / log2(i + 1)``
* ``map@k       = mean_u AP_u(k)``, ``AP_u(k) = (1 / min(k, |T_u|)) * sum_{i<=k} precision_u@i * rel_u(i)``
* ``hit_rate@k  = share of users with hits_u(k) >= 1``
* ``coverage@k  = |distinct items recommended in anybody's top k| / n_items`` (catalogue size)

Every per-user metric is averaged over the users with at least one held-out item; users with
no held-out items are left out (they neither help nor hurt). Coverage counts the top-*k* lists
of those same users.

Two protocol-specific metrics:

* :func:`sampled_recall` -- each held-out item ranked among sampled items the user never
  touched; ``recall@k = (number of held-out items ranked within the top k) / (number of
  held-out items)``, pooled over all held-out items (Moreira's Deskdrop protocol).
* :func:`top_n_accuracy` -- for +1/-1 data, the share of each user's ``n`` best-predicted
  held-out items that are truly positive, averaged over users.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import scipy.sparse as sp

from teamrec.errors import DataError

#: The ranking metrics :func:`ranking_metrics` computes, in display order.
RANKING_METRICS: tuple[str, ...] = ("precision", "recall", "ndcg", "map", "hit_rate", "coverage")


# -- error metrics ---------------------------------------------------------------------------
def _pair(estimate: np.ndarray, truth: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    est = np.asarray(estimate, dtype=np.float64)
    tru = np.asarray(truth, dtype=np.float64)
    if est.shape != tru.shape:
        raise ValueError(f"estimate and truth differ in shape: {est.shape} vs {tru.shape}")
    if est.size == 0:
        raise DataError("no held-out values to compare")
    return est, tru


def rmse(estimate: np.ndarray, truth: np.ndarray) -> float:
    """Root mean squared error: ``sqrt(mean((estimate - truth)^2))``."""
    est, tru = _pair(estimate, truth)
    return float(np.sqrt(np.mean((est - tru) ** 2)))


def mae(estimate: np.ndarray, truth: np.ndarray) -> float:
    """Mean absolute error: ``mean(|estimate - truth|)``."""
    est, tru = _pair(estimate, truth)
    return float(np.mean(np.abs(est - tru)))


# -- ranking metrics -------------------------------------------------------------------------
def hit_matrix(recs: np.ndarray, relevant: sp.spmatrix) -> np.ndarray:
    """Boolean ``(n_users, K)``: is ``recs[u, i]`` one of user *u*'s held-out items?"""
    recs = np.asarray(recs, dtype=np.int64)
    rel = sp.csr_matrix(relevant)
    if recs.ndim != 2 or recs.shape[0] != rel.shape[0]:
        raise ValueError(f"recs must be (n_users, k) with n_users = {rel.shape[0]}, got {recs.shape}")
    rel = sp.csr_matrix((np.ones(rel.nnz, dtype=bool), rel.indices, rel.indptr), shape=rel.shape)
    rel.sum_duplicates()
    rel.sort_indices()
    n_items = rel.shape[1]
    rows = np.repeat(np.arange(rel.shape[0], dtype=np.int64), np.diff(rel.indptr))
    cells = rows * n_items + rel.indices  # ascending: CSR rows in order, sorted columns
    query = np.arange(recs.shape[0], dtype=np.int64)[:, None] * n_items + recs
    if len(cells) == 0:
        return np.zeros(recs.shape, dtype=bool)
    pos = np.minimum(np.searchsorted(cells, query), len(cells) - 1)
    return (cells[pos] == query) & (recs >= 0)


def _prepare(recs: np.ndarray, relevant: sp.spmatrix, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Hits in the top ``k`` and ``|T_u|``, restricted to users with held-out items."""
    recs = np.asarray(recs, dtype=np.int64)
    if k < 1 or k > recs.shape[1]:
        raise ValueError(f"k must be between 1 and {recs.shape[1]}, got {k}")
    n_rel = np.diff(sp.csr_matrix(relevant).indptr)
    keep = n_rel > 0
    if not keep.any():
        raise DataError("no user has held-out items")
    hits = hit_matrix(recs[keep], sp.csr_matrix(relevant)[keep])[:, :k]
    return hits, n_rel[keep]


def precision_at_k(recs: np.ndarray, relevant: sp.spmatrix, k: int) -> float:
    """``mean_u hits_u(k) / k``."""
    hits, _ = _prepare(recs, relevant, k)
    return float(np.mean(hits.sum(axis=1) / k))


def recall_at_k(recs: np.ndarray, relevant: sp.spmatrix, k: int) -> float:
    """``mean_u hits_u(k) / |T_u|``."""
    hits, n_rel = _prepare(recs, relevant, k)
    return float(np.mean(hits.sum(axis=1) / n_rel))


def _discounts(k: int) -> np.ndarray:
    return 1.0 / np.log2(np.arange(2, k + 2))


def ndcg_at_k(recs: np.ndarray, relevant: sp.spmatrix, k: int) -> float:
    """``mean_u DCG_u(k) / IDCG_u(k)``, binary gain, log2 discount, ideal over min(|T_u|, k)."""
    hits, n_rel = _prepare(recs, relevant, k)
    return float(np.mean(_ndcg_rows(hits, n_rel, k)))


def _ndcg_rows(hits: np.ndarray, n_rel: np.ndarray, k: int) -> np.ndarray:
    disc = _discounts(k)
    dcg = hits @ disc
    ideal = np.r_[0.0, np.cumsum(disc)][np.minimum(n_rel, k)]
    return dcg / ideal


def map_at_k(recs: np.ndarray, relevant: sp.spmatrix, k: int) -> float:
    """``mean_u (1/min(k, |T_u|)) * sum_{i<=k} precision_u@i * rel_u(i)``."""
    hits, n_rel = _prepare(recs, relevant, k)
    return float(np.mean(_ap_rows(hits, n_rel, k)))


def _ap_rows(hits: np.ndarray, n_rel: np.ndarray, k: int) -> np.ndarray:
    prec_at_i = np.cumsum(hits, axis=1) / np.arange(1, k + 1)
    return (prec_at_i * hits).sum(axis=1) / np.minimum(n_rel, k)


def hit_rate_at_k(recs: np.ndarray, relevant: sp.spmatrix, k: int) -> float:
    """Share of users with at least one held-out item in their top ``k``."""
    hits, _ = _prepare(recs, relevant, k)
    return float(np.mean(hits.any(axis=1)))


def coverage_at_k(recs: np.ndarray, relevant: sp.spmatrix, k: int, n_items: int | None = None) -> float:
    """Distinct items in the top ``k`` of the evaluated users, over the catalogue size."""
    recs = np.asarray(recs, dtype=np.int64)
    n_items = sp.csr_matrix(relevant).shape[1] if n_items is None else n_items
    keep = np.diff(sp.csr_matrix(relevant).indptr) > 0
    top = recs[keep, :k]
    return float(len(np.unique(top[top >= 0])) / n_items)


def ranking_metrics(
    recs: np.ndarray, relevant: sp.spmatrix, ks: Iterable[int], n_items: int | None = None
) -> dict[str, float]:
    """Every ranking metric at every ``k`` in ``ks`` (keys like ``"ndcg@10"``), in one pass."""
    recs = np.asarray(recs, dtype=np.int64)
    rel = sp.csr_matrix(relevant)
    n_items = rel.shape[1] if n_items is None else n_items
    n_rel_all = np.diff(rel.indptr)
    keep = n_rel_all > 0
    if not keep.any():
        raise DataError("no user has held-out items")
    all_hits = hit_matrix(recs[keep], rel[keep])
    n_rel = n_rel_all[keep]
    out: dict[str, float] = {}
    for k in sorted(set(ks)):
        if k < 1 or k > recs.shape[1]:
            raise ValueError(f"k must be between 1 and {recs.shape[1]}, got {k}")
        hits = all_hits[:, :k]
        n_hits = hits.sum(axis=1)
        top = recs[keep, :k]
        out[f"precision@{k}"] = float(np.mean(n_hits / k))
        out[f"recall@{k}"] = float(np.mean(n_hits / n_rel))
        out[f"ndcg@{k}"] = float(np.mean(_ndcg_rows(hits, n_rel, k)))
        out[f"map@{k}"] = float(np.mean(_ap_rows(hits, n_rel, k)))
        out[f"hit_rate@{k}"] = float(np.mean(n_hits > 0))
        out[f"coverage@{k}"] = float(len(np.unique(top[top >= 0])) / n_items)
    return out


# -- protocol-specific -----------------------------------------------------------------------
def sampled_ranks(
    test_scores: np.ndarray, test_items: np.ndarray, neg_scores: np.ndarray, neg_items: np.ndarray
) -> np.ndarray:
    """0-based rank of each held-out item among its sampled negatives.

    ``rank = #{negatives scoring higher} + #{negatives scoring the same with a lower item index}``
    (ties go to the lower index, as everywhere in teamrec); padded negatives (``-1``) are
    ignored and NaN scores count as the lowest.
    """
    s = np.nan_to_num(np.asarray(test_scores, dtype=np.float64), nan=-np.inf)[:, None]
    ns = np.nan_to_num(np.asarray(neg_scores, dtype=np.float64), nan=-np.inf)
    neg_items = np.asarray(neg_items, dtype=np.int64)
    valid = neg_items >= 0
    above = (ns > s) | ((ns == s) & (neg_items < np.asarray(test_items)[:, None]))
    return (above & valid).sum(axis=1)


def sampled_recall(ranks: np.ndarray, ks: Iterable[int]) -> dict[str, float]:
    """``recall@k`` = share of held-out items whose sampled rank is below ``k`` (pooled)."""
    ranks = np.asarray(ranks)
    if ranks.size == 0:
        raise DataError("no held-out items to rank")
    return {f"recall@{k}": float(np.mean(ranks < k)) for k in sorted(set(ks))}


def top_n_accuracy(
    users: np.ndarray, items: np.ndarray, truth: np.ndarray, estimate: np.ndarray, n: int = 3
) -> float:
    """Mean over users of the share of their ``n`` best-predicted held-out items with truth > 0.

    Per user *u*, the held-out items are ordered by estimate (ties: lower item index first);
    ``accuracy_u = #{truth > 0 among the first min(n, |T_u|)} / min(n, |T_u|)``.
    """
    users = np.asarray(users, dtype=np.int64)
    items = np.asarray(items, dtype=np.int64)
    truth = np.asarray(truth, dtype=np.float64)
    est = np.nan_to_num(np.asarray(estimate, dtype=np.float64), nan=-np.inf)
    if users.size == 0:
        raise DataError("no held-out values to rank")
    order = np.lexsort((items, -est, users))
    u_sorted = users[order]
    uniq, starts, counts = np.unique(u_sorted, return_index=True, return_counts=True)
    rank = np.arange(len(order)) - np.repeat(starts, counts)
    top = rank < n
    positive = (truth[order] > 0) & top
    per_user = np.bincount(np.searchsorted(uniq, u_sorted), weights=positive, minlength=len(uniq))
    return float(np.mean(per_user / np.minimum(counts, n)))
