"""Similarity, neighbourhood and activity-transform math shared by the neighbourhood models.

Everything here works on *entities* given as the rows of a CSR matrix ``E`` (entities x
features): items for item-item models (``E = X.T``, features are people), people for
user-user models (``E = X``, features are items). All pair statistics come from sparse
matrix products ``left @ right`` with ``right = prepared(E).T``, computed in blocks of target
rows (bounded memory, run on a small thread pool: SciPy's sparse product releases the GIL)
and pruned to the top-k neighbours of each row *vectorised*, never with a Python loop over
entities or pairs: each row's k-th largest value comes from ``np.partition`` on padded
blocks of rows of similar length, one comparison keeps what reaches it, and the few ties at
the k-th place are ranked by column with group offsets (:func:`top_positions`).

Similarities (``c``, ``j`` two entities, ``x`` their feature vectors, ``b`` the binary ones):

* ``cosine``:  ``x_c . x_j / (|x_c| |x_j|)`` -- on the values (activity-weighted).
* ``jaccard``: ``|b_c & b_j| / |b_c | b_j|`` -- on presence only.
* ``pearson``: the correlation of ``x_c`` and ``x_j`` over *all* features, an absent entry
  counting as 0 (the phi coefficient on binary data)::

      (x_c . x_j - n mu_c mu_j) / (n sigma_c sigma_j)

  Only pairs that share a feature can correlate positively, and only positive similarities
  make neighbours, so the sparse product's pattern holds every pair that matters. An entity
  with zero variance correlates with nothing.
* ``count``:   ``b_c . b_j`` -- raw co-occurrence counts ("people who joined this also
  joined").

Optional shrinkage multiplies a similarity by ``n_cj / (n_cj + shrinkage)`` where ``n_cj`` is
the number of shared features, damping similarities that rest on few people.

A neighbour must be *positively* similar: zero and negative similarities are dropped (a
negative one would turn "people in #a tend not to be in #b" into a penalty in a sum of
similarities, and keeping every non-positive pair would make the matrix dense). An entity is
never its own neighbour. Ties at the k-th place are broken towards the lower index.

Activity transforms (Slack's KNN regression) map neighbour ``j``'s activity to ``c``'s scale
with ``y ~ a x + b``, fitted by least squares on the points ``(x_uj, x_uc)`` of the features
(people) ``u`` the two share, plus one point ``(0, 0)``::

    a = (n Sxy - Sx Sy) / (n Sxx - Sx^2),   b = (Sy - a Sx) / n,   n = n_common + 1

The sums come from sparse products over common features: with ``B = binary(E)``,
``Sx = (B @ E.T)[c, j]``, ``Sy = (E @ B.T)[c, j]``, ``Sxx = (B @ (E*E).T)[c, j]``,
``Sxy = (E @ E.T)[c, j]`` and ``n_common = (B @ B.T)[c, j]``. The added ``(0, 0)`` point adds
nothing to the sums and one to ``n``; it anchors the line so that a pair with one common
person is determined (the line through the origin and that person's point: ``a = y/x``,
``b = 0``). The denominator is ``n^2`` times the variance of the x's, so it is positive as soon
as one common person has non-zero activity in ``j`` -- always, for activity matrices, whose
stored entries are positive. Should it still be zero (every x equal to 0), the fit is the
constant least-squares line: ``a = 0``, ``b = Sy / n``.

Optional transform shrinkage ``lam`` pulls the line of a pair that few people share towards
the identity: ``a' = (n_common a + lam) / (n_common + lam)``, ``b' = n_common b /
(n_common + lam)`` -- a weighted average of the fitted line and ``y = x`` with weights
``n_common`` and ``lam``. A slope fitted on two or three people is mostly noise.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import scipy.sparse as sp
from numpy.lib.stride_tricks import sliding_window_view

try:  # SciPy's sparse-product kernel, called directly (see _product); optional
    from scipy.sparse import _sparsetools
except ImportError:  # pragma: no cover - every SciPy we support has it
    _sparsetools = None

Metric = Literal["cosine", "jaccard", "pearson", "count"]
METRICS: tuple[str, ...] = ("cosine", "jaccard", "pearson", "count")

#: Multiply-adds per block of target rows: bounds a block's product (about 12 bytes per entry).
BLOCK_WORK = 1 << 22
#: Below this much total work, one block on the calling thread is cheapest.
MIN_PARALLEL_WORK = 1 << 18

_TINY = np.finfo(np.float64).tiny


# -- small sparse helpers --------------------------------------------------------------------
def binary(M: sp.spmatrix) -> sp.csr_matrix:
    """The CSR presence pattern of ``M`` (stored non-zeros become 1.0)."""
    out = sp.csr_matrix(M, dtype=np.float64, copy=True)
    out.eliminate_zeros()
    out.data[:] = 1.0
    return out


def row_ids(M: sp.csr_matrix) -> np.ndarray:
    """The row of every stored entry of a CSR matrix."""
    return np.repeat(np.arange(M.shape[0], dtype=np.int32), np.diff(M.indptr))


def pad(M: sp.csr_matrix, shape: tuple[int, int]) -> sp.csr_matrix:
    """``M`` grown to ``shape`` with empty rows and columns appended (no copy of the data)."""
    M = sp.csr_matrix(M)
    if M.shape == shape:
        return M
    if shape[0] < M.shape[0] or shape[1] < M.shape[1]:
        raise ValueError(f"cannot shrink {M.shape} to {shape}")
    indptr = np.concatenate([M.indptr, np.full(shape[0] - M.shape[0], M.indptr[-1], dtype=M.indptr.dtype)])
    return sp.csr_matrix((M.data, M.indices, indptr), shape=shape)


def replace_rows(M: sp.csr_matrix, rows: np.ndarray, new: sp.csr_matrix) -> sp.csr_matrix:
    """``M`` with ``M[rows[i]]`` replaced by ``new[i]`` (vectorised, via COO)."""
    rows = np.asarray(rows, dtype=np.int64)
    old = M.tocoo()
    keep = ~np.isin(old.row, rows)
    add = new.tocoo()
    out = sp.csr_matrix(
        (
            np.concatenate([old.data[keep], add.data]),
            (np.concatenate([old.row[keep], rows[add.row]]), np.concatenate([old.col[keep], add.col])),
        ),
        shape=M.shape,
    )
    out.sort_indices()
    return out


def _stack(parts: list[sp.csr_matrix], n_cols: int) -> sp.csr_matrix:
    """Stack CSR row blocks (cheaper than ``sp.vstack``: concatenation only)."""
    if not parts:
        return sp.csr_matrix((0, n_cols))
    offsets = np.cumsum([0] + [p.nnz for p in parts[:-1]])
    indptr = np.concatenate([[0]] + [p.indptr[1:].astype(np.int64) + o for p, o in zip(parts, offsets, strict=True)])
    return sp.csr_matrix(
        (np.concatenate([p.data for p in parts]), np.concatenate([p.indices for p in parts]), indptr),
        shape=(sum(p.shape[0] for p in parts), n_cols),
    )


# -- statistics and operands per metric ---------------------------------------------------------
def row_stats(M: sp.csr_matrix, n_features: int, metric: str | None = None) -> dict[str, np.ndarray]:
    """Per-row statistics over all features: ``norm`` (cosine), ``count`` (jaccard), ``mean``
    and ``std`` (pearson); only those ``metric`` needs, or all of them."""
    M = sp.csr_matrix(M)
    rows = row_ids(M)
    out: dict[str, np.ndarray] = {}
    if metric in (None, "cosine", "pearson"):
        squares = np.bincount(rows, weights=M.data * M.data, minlength=M.shape[0])
        out["norm"] = np.sqrt(squares)
    if metric in (None, "jaccard"):
        out["count"] = np.bincount(rows[M.data != 0], minlength=M.shape[0]).astype(np.float64)
    if metric in (None, "pearson"):
        mean = np.bincount(rows, weights=M.data, minlength=M.shape[0]) / max(n_features, 1)
        out["mean"] = mean
        out["std"] = np.sqrt(np.maximum(squares / max(n_features, 1) - mean * mean, 0.0))
    return out


def prepare_rows(M: sp.csr_matrix, metric: str, stats: dict[str, np.ndarray]) -> sp.csr_matrix:
    """The rows as they enter the product: unit-normalised (cosine), binary (jaccard, count),
    raw (pearson)."""
    if metric in ("jaccard", "count"):
        return binary(M)
    out = sp.csr_matrix(M, dtype=np.float64, copy=True)
    if metric == "cosine":
        norm = stats["norm"]
        inv = np.divide(1.0, norm, out=np.zeros_like(norm), where=norm > 0)
        out.data *= np.repeat(inv, np.diff(out.indptr))
    return out


@dataclass
class Space:
    """Entities prepared once for one metric: the right operand of every product and the
    per-entity statistics. Query rows (targets or new people) are prepared against it."""

    metric: str
    shrinkage: float
    n_features: int
    right: sp.csr_matrix  # features x entities
    right_binary: sp.csr_matrix | None  # for shrinkage when ``right`` is not binary
    stats: dict[str, np.ndarray] = field(default_factory=dict)
    rows: sp.csr_matrix | None = None  # prepared entities, entities x features

    @property
    def n_entities(self) -> int:
        return self.right.shape[1]


def space(E: sp.csr_matrix, metric: str, shrinkage: float = 0.0, *, ET: sp.csr_matrix | None = None) -> Space:
    """Prepare the entities ``E`` (entities x features, CSR) for ``metric``. ``ET``, when the
    caller has it (the interaction matrix itself, for item-item), saves a transposition."""
    if metric not in METRICS:
        raise ValueError(f"unknown similarity {metric!r}; known: {', '.join(METRICS)}")
    E = sp.csr_matrix(E, dtype=np.float64)
    stats = row_stats(E, E.shape[1], metric)
    rows = prepare_rows(E, metric, stats)
    if ET is None:
        right = rows.T.tocsr()
    elif metric in ("jaccard", "count"):
        right = binary(ET)
    else:
        right = sp.csr_matrix(ET, dtype=np.float64, copy=True)
        right.eliminate_zeros()
        if metric == "cosine":
            norm = stats["norm"]
            right.data *= np.divide(1.0, norm, out=np.zeros_like(norm), where=norm > 0)[right.indices]
    right_binary = None
    if shrinkage > 0 and metric in ("cosine", "pearson"):
        right_binary = binary(right)
    return Space(metric, shrinkage, E.shape[1], right, right_binary, stats, rows)


def _finish(
    raw: sp.csr_matrix,
    sp_: Space,
    qstats: dict[str, np.ndarray],
    qbinary: sp.csr_matrix | None,
    first_col: int = 0,
) -> None:
    """Turn the block product ``raw`` (queries x the entities from ``first_col`` on) into
    similarities, in place."""
    metric = sp_.metric
    common = None
    if sp_.shrinkage > 0:
        if metric in ("jaccard", "count"):
            common = raw.data.copy()
        else:
            assert sp_.right_binary is not None and qbinary is not None  # prepared for shrinkage
            right_binary = sp_.right_binary if first_col == 0 else sp_.right_binary[:, first_col:]
            counts = qbinary @ right_binary
            if not (np.array_equal(counts.indptr, raw.indptr) and np.array_equal(counts.indices, raw.indices)):
                # A dot product cancelled to an exact zero (negative data): align by position.
                counts.sort_indices()
                raw.sort_indices()
                counts = _align(counts, raw)
            common = counts.data
    if metric in ("jaccard", "pearson"):
        rows = row_ids(raw)
        cols = raw.indices + first_col if first_col else raw.indices
    if metric == "jaccard":
        union = qstats["count"][rows] + sp_.stats["count"][cols] - raw.data
        raw.data = np.divide(raw.data, union, out=np.zeros_like(raw.data), where=union > 0)
    elif metric == "pearson":
        n = sp_.n_features
        num = raw.data - n * qstats["mean"][rows] * sp_.stats["mean"][cols]
        den = n * qstats["std"][rows] * sp_.stats["std"][cols]
        raw.data = np.divide(num, den, out=np.zeros_like(num), where=den > 0)
    if common is not None:
        raw.data *= common / (common + sp_.shrinkage)


def _align(values: sp.csr_matrix, pattern: sp.csr_matrix) -> sp.csr_matrix:
    """``values`` at the stored positions of ``pattern`` (0 where absent); both sorted CSR."""
    n_cols = pattern.shape[1]
    keys = row_ids(values).astype(np.int64) * n_cols + values.indices
    want = row_ids(pattern).astype(np.int64) * n_cols + pattern.indices
    out = sp.csr_matrix(pattern, dtype=np.float64, copy=True)
    out.data = np.zeros(len(want))
    if len(keys):
        pos = np.minimum(np.searchsorted(keys, want), len(keys) - 1)
        found = keys[pos] == want
        out.data[found] = values.data[pos[found]]
    return out


# -- top-k per row, vectorised -----------------------------------------------------------------
def _thresholds(S: sp.csr_matrix, k: int | None) -> np.ndarray:
    """Per row, the k-th largest stored value, at least the smallest positive float (which is
    also the threshold of rows with at most k entries, and of every row when k is None).

    Rows longer than k are grouped by length (a factor sqrt(2) per group, so padding stays
    under 41%), gathered into a dense ``-inf``-padded block through a sliding-window view of
    the data and partitioned in place along the rows: a few NumPy calls per length group,
    O(nnz), no loop over rows.
    """
    indptr, data = S.indptr, S.data
    lengths = np.diff(indptr)
    thresholds = np.full(S.shape[0], _TINY)
    over = np.flatnonzero(lengths > k) if k is not None else np.zeros(0, dtype=np.int64)
    if len(over) == 0:
        return thresholds
    assert k is not None  # rows are only over the limit when there is one
    group = np.ceil(2.0 * np.log2(lengths[over])).astype(np.int64)
    order = np.argsort(group, kind="stable")
    cuts = np.flatnonzero(np.diff(group[order])) + 1
    widest = int(lengths[over].max())
    nnz = len(data)
    windows = sliding_window_view(data, widest)
    for rows in np.split(over[order], cuts):
        width = int(lengths[rows].max())
        starts = indptr[rows]
        if int(starts.max()) + widest <= nnz:
            block = windows[starts, :width]
        else:  # rows near the end of the data: clipped positions, masked below
            block = data[np.minimum(starts[:, None] + np.arange(width), nnz - 1)]
        shortest = int(lengths[rows].min())
        if shortest < width:  # mask the padding: only the last columns can hold any
            np.copyto(block[:, shortest:], -np.inf, where=np.arange(shortest, width) >= lengths[rows][:, None])
        block.partition(width - k, axis=1)
        thresholds[rows] = np.maximum(block[:, width - k], _TINY)
    return thresholds


def _at_least(S: sp.csr_matrix, thresholds: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Positions (ascending) and rows of the entries at least their row's threshold."""
    idx = np.flatnonzero(S.data >= np.repeat(thresholds, np.diff(S.indptr)))
    rows = np.repeat(np.arange(S.shape[0]), np.diff(np.searchsorted(idx, S.indptr)))
    return idx, rows


def _candidates(S: sp.csr_matrix, k: int | None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Positions (ascending) and rows of each row's entries that are positive and at least its
    k-th largest value (every positive entry for rows with at most k; ties are all kept), and
    the per-row thresholds used (:func:`_thresholds`)."""
    thresholds = _thresholds(S, k)
    idx, rows = _at_least(S, thresholds)
    return idx, rows, thresholds


def top_positions(
    S: sp.csr_matrix, k: int | None, self_cols: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Positions (into ``S.data``) of each row's ``k`` largest positive entries, excluding
    column ``self_cols[row]`` (an entity is not its own neighbour), and their rows (grouped
    in ascending row order); ``k=None`` keeps every positive entry. Ties at the k-th place go
    to the lower column.

    Vectorised in stages: a threshold at the (k+1)-th largest value keeps every candidate (the
    row's own entry and ties included), over the whole block (:func:`_candidates`); then the
    self entry is dropped, and in the few rows still over k the entries *at* the threshold are
    ranked by column (ranks from group offsets) to fill the places left -- on the small
    candidate set only.
    """
    kk = None if k is None else k + (1 if self_cols is not None else 0)
    idx, rows, thr = _candidates(S, kk)
    n_rows = S.shape[0]
    counts = np.diff(np.searchsorted(rows, np.arange(n_rows + 1)))
    if self_cols is not None:
        mine = S.indices[idx] == np.asarray(self_cols)[rows]
        counts[rows[mine]] -= 1  # at most one own entry per row
        idx, rows = idx[~mine], rows[~mine]
    if k is None or not (counts > k).any():
        return idx, rows
    # Only the rows still over k need more work: gather their entries.
    over_rows = counts > k
    sub = np.flatnonzero(over_rows[rows])
    sidx, srows = idx[sub], rows[sub]
    values = S.data[sidx]
    tie = values == thr[srows]
    # Entries above the threshold are fewer than k+1 and always stay, except in a row of
    # exactly k+1 positive entries without its own (no threshold was needed there).
    n_above = np.bincount(srows[~tie], minlength=n_rows)
    short = n_above > k
    if short.any():
        tie |= short[srows]
        n_above[short] = 0
    pos = np.flatnonzero(tie)
    prow = srows[pos]
    # Rank the tied entries by (row, -value, column): values only differ in the short rows.
    if short.any():
        order = np.lexsort((S.indices[sidx[pos]], -values[pos], prow))
    else:
        order = np.argsort(prow.astype(np.int64) * S.shape[1] + S.indices[sidx[pos]])
    prow = prow[order]
    starts = np.r_[0, np.flatnonzero(np.diff(prow)) + 1]
    rank = np.arange(len(pos)) - np.repeat(starts, np.diff(np.r_[starts, len(pos)]))
    keep = np.ones(len(idx), dtype=bool)
    keep[sub[pos[order[rank >= (k - n_above)[prow]]]]] = False
    return idx[keep], rows[keep]


def take_positions(S: sp.csr_matrix, positions: tuple[np.ndarray, np.ndarray]) -> sp.csr_matrix:
    """The CSR matrix (sorted indices) of ``S``'s entries at ``positions``: indices into
    ``S.data`` and their rows, grouped by ascending row (from :func:`top_positions`)."""
    idx, rows = positions
    indptr = np.searchsorted(rows, np.arange(S.shape[0] + 1))
    out = sp.csr_matrix((S.data[idx], S.indices[idx], indptr), shape=S.shape)
    out.sort_indices()  # C++, on the kept entries only: a canonical matrix is easier to use
    return out


def prune_rows(S: sp.csr_matrix, k: int | None, self_cols: np.ndarray | None = None) -> sp.csr_matrix:
    """Each row's top-``k`` positive entries (see :func:`top_positions`)."""
    S = sp.csr_matrix(S)
    return take_positions(S, top_positions(S, k, self_cols))


# -- blocks ------------------------------------------------------------------------------------
def _blocks(work: np.ndarray, threads: int) -> list[slice]:
    """Cut rows into contiguous blocks of about equal work (and at most :data:`BLOCK_WORK`)."""
    n = len(work)
    total = float(work.sum())
    if n == 0:
        return []
    n_blocks = max(1, math.ceil(total / BLOCK_WORK))
    if threads > 1 and total >= MIN_PARALLEL_WORK:
        n_blocks = max(n_blocks, 4 * threads)
    n_blocks = min(n_blocks, n)
    if n_blocks == 1:
        return [slice(0, n)]
    cum = np.cumsum(work)
    cuts = np.searchsorted(cum, total * np.arange(1, n_blocks) / n_blocks)
    bounds = np.unique(np.r_[0, np.clip(cuts, 1, n - 1), n])
    return [slice(int(a), int(b)) for a, b in zip(bounds[:-1], bounds[1:], strict=True)]


def n_threads(threads: int) -> int:
    """``threads``, or one per CPU core when 0."""
    return threads if threads > 0 else (os.cpu_count() or 1)


def _work(left: sp.csr_matrix, right: sp.csr_matrix) -> np.ndarray:
    """Multiply-adds per row of ``left @ right`` (plus one, so empty rows still count)."""
    feature_nnz = np.diff(right.indptr).astype(np.float64)
    per_entry = feature_nnz[left.indices]
    return np.bincount(row_ids(left), weights=per_entry, minlength=left.shape[0]) + 1.0


def _product(left: sp.csr_matrix, right: sp.csr_matrix, work: float) -> sp.csr_matrix:
    """``left @ right`` as CSR (column indices not sorted).

    ``work`` (the multiply-add count, :func:`_work`) bounds the number of entries, so SciPy's
    product kernel is called directly into arrays of that size: this skips the separate
    counting pass ``@`` makes first (a quarter of the product's time). Falls back to ``@``
    when the kernel is missing or refuses the arguments.
    """
    cap = int(work)
    index = np.int32
    if _sparsetools is not None and 0 < cap < np.iinfo(index).max and right.nnz < np.iinfo(index).max:
        try:
            operands = [np.asarray(a, dtype=index) for a in (left.indptr, left.indices, right.indptr, right.indices)]
            indptr = np.empty(left.shape[0] + 1, dtype=index)
            indices = np.empty(cap, dtype=index)
            data = np.empty(cap, dtype=np.float64)
            _sparsetools.csr_matmat(
                left.shape[0], right.shape[1],
                operands[0], operands[1], np.asarray(left.data, dtype=np.float64),
                operands[2], operands[3], np.asarray(right.data, dtype=np.float64),
                indptr, indices, data,
            )
            nnz = int(indptr[-1])
            return sp.csr_matrix((data[:nnz], indices[:nnz], indptr), shape=(left.shape[0], right.shape[1]))
        except (TypeError, ValueError, AttributeError):  # pragma: no cover - a SciPy API change
            pass
    return sp.csr_matrix(left @ right)


def _run_blocks(fn: Callable[[slice], sp.csr_matrix], blocks: list[slice], threads: int) -> list:
    if threads > 1 and len(blocks) > 1:
        with ThreadPoolExecutor(min(threads, len(blocks))) as pool:
            return list(pool.map(fn, blocks))
    return [fn(b) for b in blocks]


def neighbours(
    sp_: Space,
    k: int | None,
    targets: np.ndarray | None = None,
    *,
    queries: sp.csr_matrix | None = None,
    self_cols: np.ndarray | None = None,
    threads: int = 0,
) -> sp.csr_matrix:
    """The top-``k`` neighbours (columns: entities) of each target entity or query row.

    ``targets`` are entity indices (default: every entity; each excludes itself); or
    ``queries`` are outside rows over the same features (``self_cols`` then names an entity
    each query must not be matched with, or -1).
    """
    threads = n_threads(threads)
    if queries is not None:
        q = sp.csr_matrix(queries, dtype=np.float64)
        qstats = row_stats(q, sp_.n_features, sp_.metric)
        left = prepare_rows(q, sp_.metric, qstats)
        selfs = None if self_cols is None else np.asarray(self_cols, dtype=np.int64)
    else:
        targets = np.arange(sp_.n_entities) if targets is None else np.asarray(targets, dtype=np.int64)
        assert sp_.rows is not None  # a space built from entities keeps them
        left = (
            sp_.rows
            if len(targets) == sp_.n_entities and np.array_equal(targets, np.arange(sp_.n_entities))
            else sp_.rows[targets]
        )
        qstats = {key: value[targets] for key, value in sp_.stats.items()}
        selfs = targets
    left_binary = binary(left) if sp_.right_binary is not None else None
    work = _work(left, sp_.right)

    def block(sl: slice) -> sp.csr_matrix:
        raw = _product(left[sl], sp_.right, work[sl].sum())
        _finish(raw, sp_, {key: value[sl] for key, value in qstats.items()},
                None if left_binary is None else left_binary[sl])
        return take_positions(raw, top_positions(raw, k, None if selfs is None else selfs[sl]))

    parts = _run_blocks(block, _blocks(work, threads), threads)
    return _stack(parts, sp_.n_entities)


# -- activity transforms -------------------------------------------------------------------------
@dataclass
class PairSums:
    """Sums over the features (people) two entities share, one CSR matrix each, same pattern:
    rows are targets ``c``, columns neighbours ``j``; ``x`` is ``j``'s value, ``y`` is ``c``'s."""

    n: sp.csr_matrix
    sx: sp.csr_matrix
    sy: sp.csr_matrix
    sxx: sp.csr_matrix
    sxy: sp.csr_matrix


@dataclass
class _PairOperands:
    E: sp.csr_matrix
    B: sp.csr_matrix
    ET: sp.csr_matrix
    BT: sp.csr_matrix
    E2T: sp.csr_matrix


def _pair_operands(E: sp.csr_matrix) -> _PairOperands:
    E = sp.csr_matrix(E, dtype=np.float64)
    if E.nnz and E.data.min() < 0:
        raise ValueError("activity transforms need non-negative activity")
    B = binary(E)
    return _PairOperands(E, B, E.T.tocsr(), B.T.tocsr(), E.multiply(E).T.tocsr())


def _pair_sums(ops: _PairOperands, rows: slice | np.ndarray) -> PairSums:
    Ec, Bc = ops.E[rows], ops.B[rows]
    products = {
        "n": Bc @ ops.BT,
        "sx": Bc @ ops.ET,
        "sy": Ec @ ops.BT,
        "sxx": Bc @ ops.E2T,
        "sxy": Ec @ ops.ET,
    }
    for m in products.values():
        m.sort_indices()
    ref = products["n"]
    for name, m in products.items():
        if not (np.array_equal(m.indptr, ref.indptr) and np.array_equal(m.indices, ref.indices)):
            raise ValueError(f"pair sums: the pattern of {name} differs from the co-occurrence")
    return PairSums(**products)


def pair_sums(E: sp.csr_matrix, targets: np.ndarray | None = None) -> PairSums:
    """The common-feature sums of every (target, entity) pair that shares a feature, from
    five sparse products (see the module docstring). ``E`` (entities x features) must be
    non-negative: then nothing cancels and the five products share one sparsity pattern."""
    rows = slice(None) if targets is None else np.asarray(targets, dtype=np.int64)
    return _pair_sums(_pair_operands(E), rows)


def linear_transforms(sums: PairSums, shrinkage: float = 0.0) -> tuple[sp.csr_matrix, sp.csr_matrix]:
    """Slope ``a`` and intercept ``b`` of ``y ~ a x + b`` for every pair in ``sums``, fitted on
    the common points plus ``(0, 0)``, then shrunk towards the identity by ``shrinkage`` (see
    the module docstring for the formulas and the degenerate case)."""
    n = sums.n.data + 1.0
    sx, sy, sxx, sxy = sums.sx.data, sums.sy.data, sums.sxx.data, sums.sxy.data
    den = n * sxx - sx * sx
    num = n * sxy - sx * sy
    slope = np.divide(num, den, out=np.zeros_like(num), where=den > 0)
    intercept = (sy - slope * sx) / n
    if shrinkage > 0:
        common = sums.n.data
        slope = (common * slope + shrinkage) / (common + shrinkage)
        intercept = common * intercept / (common + shrinkage)
    a = sp.csr_matrix((slope, sums.n.indices, sums.n.indptr), shape=sums.n.shape)
    b = sp.csr_matrix((intercept, sums.n.indices, sums.n.indptr), shape=sums.n.shape)
    return a, b


def transforms_at(
    E: sp.csr_matrix,
    rows: sp.csr_matrix,
    targets: np.ndarray | None = None,
    *,
    threads: int = 0,
    shrinkage: float = 0.0,
) -> tuple[sp.csr_matrix, sp.csr_matrix]:
    """Slopes and intercepts at the stored positions of ``rows`` (one row per target, e.g.
    each target's neighbours), computed blockwise from the pair sums of all its pairs."""
    threads = n_threads(threads)
    ops = _pair_operands(E)
    targets = np.arange(E.shape[0]) if targets is None else np.asarray(targets, dtype=np.int64)
    rows = sp.csr_matrix(rows)
    rows.sort_indices()

    def block(sl: slice) -> tuple[np.ndarray, np.ndarray]:
        a, b = linear_transforms(_pair_sums(ops, targets[sl]), shrinkage)
        want = rows[sl]
        return _align(a, want).data, _align(b, want).data

    parts = _run_blocks(block, _blocks(_work(ops.B[targets], ops.BT), threads), threads)
    slope = sp.csr_matrix(
        (np.concatenate([p[0] for p in parts] or [np.zeros(0)]), rows.indices, rows.indptr), shape=rows.shape
    )
    intercept = sp.csr_matrix(
        (np.concatenate([p[1] for p in parts] or [np.zeros(0)]), rows.indices, rows.indptr), shape=rows.shape
    )
    return slope, intercept


# -- hubness -------------------------------------------------------------------------------------
def hubness(S: sp.csr_matrix, k: int) -> np.ndarray:
    """Per row, the mean of its ``k`` largest positive values (missing ones count 0): how close
    an entity sits to its own nearest neighbours. A "hub" -- a person with a large, mainstream
    profile -- is near everybody and has a high value."""
    top = prune_rows(S, k)
    return np.bincount(row_ids(top), weights=top.data, minlength=S.shape[0]) / float(k)


def hub_corrected(S: sp.csr_matrix, hub: np.ndarray, beta: float, k: int | None) -> sp.csr_matrix:
    """Each stored ``S[u, v]`` minus ``beta * hub[v]``; the positive ones, top ``k`` per row.

    The local scaling of CSLS (Conneau et al. 2018, "Word translation without parallel data"),
    one-sided: ranking *u*'s neighbours by ``s(u, v) - beta r(v)`` keeps people who are close
    to everybody from crowding every list, so each list holds more of the person's own kind.
    """
    out = sp.csr_matrix(S, dtype=np.float64, copy=True)
    out.data -= beta * np.asarray(hub, dtype=np.float64)[out.indices]
    return prune_rows(out, k)
