"""The one top-k + filtering helper every algorithm uses.

Scores come in as a dense ``(n_users, n_items)`` block; excluded cells (already seen, not a
candidate, private to others) are set to ``-inf`` and the best ``k`` per row are picked with
a partition (O(n_items) per row) and then sorted. Rows with fewer than ``k`` eligible
items are padded with index ``-1`` and score ``NaN``.

Ties are broken deterministically: by a secondary key when given (KNN-with-baselines ranks
equal estimates by the number of neighbours behind them), then by the lower item index.
The partition only supplies the k-th best *score* of each row (a value, the same whichever
partition algorithm numpy picks for the CPU); the kept items are every item above it plus
the lowest-indexed items tied with it. ``argpartition``'s own choice among tied items is left
unused: it differs between CPUs (numpy's AVX-512 sort) and numpy versions.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

#: Score blocks are computed for at most this many cells at once (about 128 MB of float64).
MAX_BLOCK_CELLS = 1 << 24


def user_batches(n_users: int, n_items: int) -> int:
    """How many users to score per block so a block stays under :data:`MAX_BLOCK_CELLS`."""
    return max(1, MAX_BLOCK_CELLS // max(n_items, 1))


def apply_mask(scores: np.ndarray, mask: sp.spmatrix | np.ndarray | None) -> None:
    """Set ``scores`` to ``-inf`` in place wherever ``mask`` (same shape, truthy) is set."""
    if mask is None:
        return
    if sp.issparse(mask):
        coo = sp.coo_matrix(mask)
        keep = coo.data.astype(bool)
        scores[coo.row[keep], coo.col[keep]] = -np.inf
    else:
        scores[np.asarray(mask, dtype=bool)] = -np.inf


def restrict_to(scores: np.ndarray, candidates: np.ndarray | sp.spmatrix | None) -> None:
    """Set ``scores`` to ``-inf`` in place outside ``candidates``.

    ``candidates`` is an array of item indices (the same for every row), a boolean item mask,
    or a sparse ``(n_rows, n_items)`` matrix of per-row candidates.
    """
    if candidates is None:
        return
    allowed = np.zeros(scores.shape, dtype=bool)
    if sp.issparse(candidates):
        coo = sp.coo_matrix(candidates)
        allowed[coo.row, coo.col] = coo.data.astype(bool)
    else:
        cand = np.asarray(candidates)
        if cand.dtype == bool:
            allowed[:, cand] = True
        else:
            allowed[:, cand.astype(np.int64)] = True
    scores[~allowed] = -np.inf


def _best_k_lowest_index(scores: np.ndarray, kk: int) -> np.ndarray:
    """Per row, the column indices (ascending) of the ``kk`` best scores, ties at the k-th
    score going to the lower index. ``scores`` holds no NaN."""
    n_rows, n_items = scores.shape
    if kk >= n_items:
        return np.tile(np.arange(n_items), (n_rows, 1))
    if n_rows == 1:  # one person (a request): the same rule with fewer passes over the row
        row = scores[0]
        cut = np.partition(row, n_items - kk)[n_items - kk]
        better = np.flatnonzero(row > cut)
        equal = np.flatnonzero(row == cut)[: kk - len(better)]
        return np.sort(np.concatenate([better, equal]))[None, :]
    # The k-th largest value of each row: a value, whatever order the partition left it in.
    kth = -np.partition(-scores, kk - 1, axis=1)[:, kk - 1 : kk]
    above = scores > kth
    keep = scores == kth
    need = kk - above.sum(axis=1)
    # Rows with more items tied at the k-th score than places left keep the lowest-indexed.
    crowded = np.flatnonzero(keep.sum(axis=1) > need)
    if len(crowded):
        tied = keep[crowded]
        tied &= np.cumsum(tied, axis=1, dtype=np.int32) <= need[crowded, None]
        keep[crowded] = tied
    keep |= above
    # Exactly kk per row, so the row-major nonzero columns reshape into (n_rows, kk).
    return np.nonzero(keep)[1].reshape(n_rows, kk)


def topk(
    scores: np.ndarray,
    k: int,
    *,
    exclude: sp.spmatrix | np.ndarray | None = None,
    candidates: np.ndarray | sp.spmatrix | None = None,
    secondary: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Best ``k`` items per row of ``scores`` (modified in place).

    Returns ``(indices, values)``, both ``(n_rows, k)``; padding is ``-1`` / ``NaN``.
    """
    if k <= 0:
        raise ValueError("k must be positive")
    scores = np.asarray(scores, dtype=np.float64)
    n_rows, n_items = scores.shape
    np.nan_to_num(scores, copy=False, nan=-np.inf, posinf=np.inf, neginf=-np.inf)
    apply_mask(scores, exclude)
    restrict_to(scores, candidates)
    kk = min(k, n_items)
    if secondary is not None:
        # Exact two-key ordering: full lexsort per row (used with small candidate sets).
        order = np.lexsort((np.arange(n_items)[None, :].repeat(n_rows, 0), -secondary, -scores), axis=-1)
        top = order[:, :kk]
    else:
        part = _best_k_lowest_index(scores, kk)
        part_scores = np.take_along_axis(scores, part, axis=1)
        order = np.lexsort((part, -part_scores), axis=-1)
        top = np.take_along_axis(part, order, axis=1)
    values = np.take_along_axis(scores, top, axis=1)
    valid = np.isfinite(values) | (values == np.inf)
    indices = np.where(valid, top, -1)
    values = np.where(valid, values, np.nan)
    if kk < k:
        pad = k - kk
        indices = np.pad(indices, ((0, 0), (0, pad)), constant_values=-1)
        values = np.pad(values, ((0, 0), (0, pad)), constant_values=np.nan)
    return indices.astype(np.int64), values


def topk_rows(
    matrix: np.ndarray | sp.spmatrix, rows: np.ndarray, k: int, *, exclude_self: bool = True
) -> tuple[np.ndarray, np.ndarray]:
    """Top-``k`` columns of selected rows of a square similarity matrix, optionally without
    the diagonal (an item is not "similar to itself")."""
    rows = np.asarray(rows, dtype=np.int64)
    block = matrix[rows]
    block = block.toarray() if sp.issparse(block) else np.array(block, dtype=np.float64)
    if sp.issparse(matrix):
        # Cells a sparse similarity matrix does not store are "no similarity", not 0.
        stored = matrix[rows] != 0
        block[~stored.toarray()] = -np.inf
    if exclude_self:
        block[np.arange(len(rows)), rows] = -np.inf
    return topk(block, k)
