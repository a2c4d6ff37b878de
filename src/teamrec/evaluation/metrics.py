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

Beyond accuracy (what people complain about when everybody gets the same popular channels),
computed from the *training* matrix when :func:`ranking_metrics` is given it:

* ``coverage@k`` (above) -- catalogue coverage: the share of the items anybody is shown;
* ``novelty@k   = mean_u (1/m_u) sum_{i<=k} I(rec_u(i))``, the mean self-information of the
  recommended items, ``I(j) = -log2(max(n_j, 1) / n_users)`` with ``n_j`` the training users
  who have item *j* (an item everybody has is worth 0 bits; one person's item ``log2 n_users``);
  ``m_u`` counts the real (non-padded) items in the top k;
* ``diversity@k = mean_u 1 - (2 / (m_u (m_u - 1))) sum_{i<j<=k} cos(v_i, v_j)``, the
  intra-list diversity: the mean pairwise cosine *distance* between the recommended items'
  user vectors ``v`` (who has them in training, 0/1). 1 when no two items share anybody, 0
  when all are had by the same people. An item nobody has is at distance 1 from every other.
  Lists with fewer than two items are left out (``nan`` when no list has two).

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
#: The beyond-accuracy metrics it adds when given the training matrix.
BEYOND_ACCURACY: tuple[str, ...] = ("novelty", "diversity")
#: Multiply-adds per block of users in :func:`diversity_curves` (bounds the memory it takes).
DIVERSITY_BLOCK_WORK = 1 << 22


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


def ranking_metric_rows(recs: np.ndarray, relevant: sp.spmatrix, name: str, k: int) -> np.ndarray:
    """One ranking metric's value per user with held-out items (``name``: precision, recall,
    ndcg, map or hit_rate); their mean is the metric. Per-user values give its standard
    error, which is how far apart two models must be to be told apart."""
    hits, n_rel = _prepare(recs, relevant, k)
    if name == "precision":
        return np.asarray(hits.sum(axis=1) / k, dtype=np.float64)
    if name == "recall":
        return np.asarray(hits.sum(axis=1) / n_rel, dtype=np.float64)
    if name == "ndcg":
        return _ndcg_rows(hits, n_rel, k)
    if name == "map":
        return _ap_rows(hits, n_rel, k)
    if name == "hit_rate":
        return np.asarray(hits.any(axis=1), dtype=np.float64)
    raise ValueError(f"unknown ranking metric {name!r}")


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
    recs: np.ndarray,
    relevant: sp.spmatrix,
    ks: Iterable[int],
    n_items: int | None = None,
    train: sp.spmatrix | None = None,
) -> dict[str, float]:
    """Every ranking metric at every ``k`` in ``ks`` (keys like ``"ndcg@10"``), in one pass;
    with ``train`` (users x items, what the model learnt from) also novelty and diversity."""
    recs = np.asarray(recs, dtype=np.int64)
    ks = sorted(set(ks))
    rel = sp.csr_matrix(relevant)
    n_items = rel.shape[1] if n_items is None else n_items
    n_rel_all = np.diff(rel.indptr)
    keep = n_rel_all > 0
    if not keep.any():
        raise DataError("no user has held-out items")
    all_hits = hit_matrix(recs[keep], rel[keep])
    n_rel = n_rel_all[keep]
    out: dict[str, float] = {}
    for k in ks:
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
    if train is not None:
        lists = recs[keep, : max(ks)]
        novelty = novelty_curves(lists, self_information(train))
        diversity = diversity_curves(lists, item_vectors(train))
        for k in ks:
            out[f"novelty@{k}"] = novelty[k - 1]
            out[f"diversity@{k}"] = diversity[k - 1]
    return out


# -- beyond accuracy -------------------------------------------------------------------------
def self_information(train: sp.spmatrix) -> np.ndarray:
    """Per item, ``-log2(max(n_j, 1) / n_users)``: ``n_j`` the users with a (non-zero) entry."""
    csr = sp.csr_matrix(train)
    n_users = max(csr.shape[0], 1)
    counts = np.bincount(csr.indices[csr.data != 0], minlength=csr.shape[1])
    return -np.log2(np.maximum(counts, 1) / n_users)


def item_vectors(train: sp.spmatrix) -> sp.csr_matrix:
    """Items x users: each item's 0/1 vector of who has it, scaled to unit length (rows of
    items nobody has stay empty)."""
    pattern = sp.csr_matrix(train, dtype=np.float64, copy=True)
    pattern.eliminate_zeros()
    pattern.data[:] = 1.0
    V = pattern.T.tocsr()
    lengths = np.sqrt(np.diff(V.indptr).astype(np.float64))
    V.data /= np.repeat(np.where(lengths > 0, lengths, 1.0), np.diff(V.indptr))
    return V


def _valid_counts(recs: np.ndarray) -> np.ndarray:
    """Per user and position k, the number of real (non-padded) items in the top k."""
    return np.cumsum(recs >= 0, axis=1)


def novelty_curves(recs: np.ndarray, information: np.ndarray) -> list[float]:
    """``novelty@k`` for k = 1..K (see the module docstring): the mean self-information of
    each list's real items, averaged over the lists holding at least one."""
    recs = np.asarray(recs, dtype=np.int64)
    bits = np.where(recs >= 0, np.asarray(information, dtype=np.float64)[np.maximum(recs, 0)], 0.0)
    total = np.cumsum(bits, axis=1)
    count = _valid_counts(recs)
    per_user = np.divide(total, count, out=np.full(total.shape, np.nan), where=count > 0)
    return [_nanmean(per_user[:, j]) for j in range(recs.shape[1])]


def diversity_curves(recs: np.ndarray, vectors: sp.csr_matrix) -> list[float]:
    """``diversity@k`` for k = 1..K (see the module docstring), from unit item vectors.

    The pairwise cosines are summed position by position: with ``s_j`` the sum of the vectors
    of a list's first ``j`` items, item ``j + 1`` adds ``v_{j+1} . s_j`` -- K sparse row-wise
    products over all lists at once (in blocks of lists bounding the work), never a loop over
    lists or pairs.
    """
    recs = np.asarray(recs, dtype=np.int64)
    n_lists, K = recs.shape
    if n_lists == 0 or K == 0:
        return [float("nan")] * K
    V = sp.csr_matrix(vectors)
    V = sp.vstack([V, sp.csr_matrix((1, V.shape[1]))]).tocsr()  # row -1: a padded slot, no vector
    slots = np.where(recs >= 0, recs, V.shape[0] - 1)
    degree = np.diff(V.indptr).astype(np.float64)
    work = degree[slots].sum(axis=1) * K + 1.0
    pair_sums = np.zeros((n_lists, K))
    cuts = np.searchsorted(np.cumsum(work), np.arange(DIVERSITY_BLOCK_WORK, work.sum(), DIVERSITY_BLOCK_WORK))
    for block in np.split(np.arange(n_lists), np.unique(cuts)):
        if len(block) == 0:
            continue
        running = V[slots[block, 0]]
        for j in range(1, K):
            item = V[slots[block, j]]
            pair_sums[block, j] = np.asarray(item.multiply(running).sum(axis=1)).ravel()
            running = running + item
    pairs_total = np.cumsum(pair_sums, axis=1)
    m = _valid_counts(recs).astype(np.float64)
    n_pairs = m * (m - 1.0) / 2.0
    per_user = np.divide(pairs_total, n_pairs, out=np.full(pairs_total.shape, np.nan), where=n_pairs > 0)
    return [_nanmean(1.0 - per_user[:, j]) for j in range(K)]


def _nanmean(values: np.ndarray) -> float:
    finite = values[~np.isnan(values)]
    return float(finite.mean()) if len(finite) else float("nan")


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
