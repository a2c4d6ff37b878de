"""Splitting a users x items matrix into what a model learns from and what it is tested on.

Every function here is pure and deterministic: it takes a NumPy :class:`~numpy.random.Generator`
(made by :func:`rng` from the ``--seed`` and a *stream* number, so the test split, the
validation split and the negative samples draw from independent streams), never touches global
random state, and works on the stored entries of a CSR matrix at once -- per-user shares come
from sorting entries by ``(user, random key)`` and ranking them inside each user, not from a
Python loop over users.

A split is a :class:`Split`: the training matrix (same shape as the full matrix, the held-out
entries removed) plus the held-out *cells* as three aligned arrays ``users, items, values``.
Cells, not a sparse matrix, because the one-class protocol tests on empty cells whose true value
is zero, and a sparse matrix cannot tell a stored zero from a missing one for long.

How many entries a user holds out with a share ``s`` of ``n`` entries: ``round(s * n)`` (half
up), but never all of them -- a user with ``n >= 2`` keeps at least one entry for training, and a
user with a single entry keeps it (there would be nothing to learn a profile from).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp

from teamrec.algorithms._topk import MAX_BLOCK_CELLS
from teamrec.errors import ConfigError, DataError

#: Random streams: one per purpose, so adding a validation split never changes the test split.
TEST_STREAM = 0
VALIDATION_STREAM = 1
NEGATIVE_STREAM = 2
VALIDATION_NEGATIVE_STREAM = 3
ALGORITHM_STREAM = 4


def rng(seed: int, stream: int, *extra: int) -> np.random.Generator:
    """The generator for one purpose (``stream``) under ``seed``: independent streams."""
    if seed < 0:
        raise ConfigError("the seed must be a non-negative integer")
    return np.random.default_rng([int(seed), int(stream), *map(int, extra)])


@dataclass
class Split:
    """A training matrix and the held-out cells to test on.

    ``users``, ``items`` and ``values`` are aligned: cell *j* is ``(users[j], items[j])`` with the
    true value ``values[j]`` (zero for the empty cells of the one-class protocol). ``negatives``
    (sampled protocol only) holds, for each held-out cell, the items it is ranked against, padded
    with ``-1``. ``train_times`` carries each training entry's latest timestamp when the protocol
    orders by time (so a validation split can be carved from the training data the same way).
    """

    train: sp.csr_matrix
    users: np.ndarray
    items: np.ndarray
    values: np.ndarray
    negatives: np.ndarray | None = None
    train_times: sp.csr_matrix | None = None
    name: str = "test"
    info: dict[str, int] = field(default_factory=dict)

    @property
    def shape(self) -> tuple[int, int]:
        return self.train.shape

    @property
    def n_test(self) -> int:
        return len(self.users)

    def cells(self) -> np.ndarray:
        """The held-out cells as flat ids ``user * n_items + item``."""
        return cell_ids(self.users, self.items, self.shape[1])

    def relevant(self, *, positive_only: bool = False) -> sp.csr_matrix:
        """users x items boolean matrix of the held-out cells (optionally only values > 0)."""
        keep = self.values > 0 if positive_only else np.ones(self.n_test, dtype=bool)
        out = sp.csr_matrix(
            (np.ones(int(keep.sum()), dtype=bool), (self.users[keep], self.items[keep])), shape=self.shape
        )
        out.sum_duplicates()
        out.sort_indices()
        return out


# -- small helpers over the stored entries of a CSR matrix ------------------------------------
def as_matrix(X: sp.spmatrix | np.ndarray) -> sp.csr_matrix:
    """A canonical CSR float64 copy (sorted indices, duplicates summed, stored zeros kept)."""
    out = sp.csr_matrix(getattr(X, "matrix", X), dtype=np.float64, copy=True)
    out.sum_duplicates()
    out.sort_indices()
    return out


def entry_rows(X: sp.csr_matrix) -> np.ndarray:
    """The row (user) of every stored entry, in storage order."""
    return np.repeat(np.arange(X.shape[0], dtype=np.int64), np.diff(X.indptr))


def cell_ids(users: np.ndarray, items: np.ndarray, n_items: int) -> np.ndarray:
    return np.asarray(users, dtype=np.int64) * int(n_items) + np.asarray(items, dtype=np.int64)


def in_sorted(values: np.ndarray, sorted_set: np.ndarray) -> np.ndarray:
    """Boolean mask: which ``values`` occur in the sorted array ``sorted_set``."""
    if len(sorted_set) == 0:
        return np.zeros(len(values), dtype=bool)
    pos = np.searchsorted(sorted_set, values)
    pos = np.minimum(pos, len(sorted_set) - 1)
    return sorted_set[pos] == values


def drop_entries(X: sp.csr_matrix, mask: np.ndarray) -> sp.csr_matrix:
    """``X`` without the stored entries flagged in ``mask`` (storage order); shape kept.

    Built from the index arrays, so a stored zero that is kept stays stored.
    """
    keep = ~mask
    rows = entry_rows(X)[keep]
    indptr = np.r_[0, np.cumsum(np.bincount(rows, minlength=X.shape[0]))].astype(X.indptr.dtype)
    return sp.csr_matrix((X.data[keep], X.indices[keep], indptr), shape=X.shape)


def _held_out(X: sp.csr_matrix, mask: np.ndarray, name: str, **info: int) -> Split:
    rows = entry_rows(X)
    return Split(
        train=drop_entries(X, mask),
        users=rows[mask],
        items=X.indices[mask].astype(np.int64),
        values=X.data[mask].copy(),
        name=name,
        info={"train_entries": int((~mask).sum()), "test_entries": int(mask.sum()), **info},
    )


def per_user_counts(counts: np.ndarray, share: float) -> np.ndarray:
    """How many of each user's ``counts`` entries a share ``share`` holds out (module docstring)."""
    n_test = np.floor(share * counts + 0.5).astype(np.int64)
    return np.minimum(n_test, np.maximum(counts - 1, 0))


def first_per_user(rows: np.ndarray, keys: tuple[np.ndarray, ...], n_take: np.ndarray) -> np.ndarray:
    """Mask of the first ``n_take[u]`` entries of each user when ordered by ``keys``.

    ``keys`` are sort keys in :func:`numpy.lexsort` order (last one most significant); the
    user is added as the most significant key, so the order is within users.
    """
    order = np.lexsort((*keys, rows))
    sorted_rows = rows[order]
    counts = np.bincount(rows, minlength=len(n_take))
    starts = np.r_[0, np.cumsum(counts)[:-1]]
    rank = np.arange(len(rows)) - starts[sorted_rows]
    mask = np.zeros(len(rows), dtype=bool)
    mask[order[rank < n_take[sorted_rows]]] = True
    return mask


def _check_share(share: float, what: str = "test share") -> None:
    if not 0.0 < share < 1.0:
        raise ConfigError(f"the {what} must be between 0 and 1 (exclusive), got {share}")


# -- the splits --------------------------------------------------------------------------------
def holdout_split(X: sp.spmatrix, share: float, generator: np.random.Generator, *, name: str = "test") -> Split:
    """Per user, a random share of the entries held out (see the module docstring for counts)."""
    _check_share(share)
    X = as_matrix(X)
    rows = entry_rows(X)
    counts = np.bincount(rows, minlength=X.shape[0])
    keys = generator.random(X.nnz)
    mask = first_per_user(rows, (keys,), per_user_counts(counts, share))
    return _held_out(X, mask, name)


def temporal_split(
    X: sp.spmatrix, times: sp.spmatrix, share: float, generator: np.random.Generator, *, name: str = "test"
) -> Split:
    """Per user, the latest share of the entries held out (by ``times``, same pattern as ``X``).

    Entries without a timestamp (NaN) count as the oldest; equal timestamps are ordered by a
    random key drawn from ``generator``. The split carries the training entries' timestamps.
    """
    _check_share(share)
    X = as_matrix(X)
    T = _aligned_times(X, times)
    rows = entry_rows(X)
    counts = np.bincount(rows, minlength=X.shape[0])
    newest_first = -np.nan_to_num(T.data, nan=-np.inf)
    keys = generator.random(X.nnz)
    mask = first_per_user(rows, (keys, newest_first), per_user_counts(counts, share))
    split = _held_out(X, mask, name)
    split.train_times = drop_entries(T, mask)
    return split


def _aligned_times(X: sp.csr_matrix, times: sp.spmatrix) -> sp.csr_matrix:
    T = sp.csr_matrix(times, dtype=np.float64, copy=True)
    T.sort_indices()
    if T.shape != X.shape or T.nnz != X.nnz or not (
        np.array_equal(T.indptr, X.indptr) and np.array_equal(T.indices, X.indices)
    ):
        raise DataError("the timestamps do not cover exactly the matrix entries")
    return T


def kfold_splits(X: sp.spmatrix, folds: int, generator: np.random.Generator) -> list[Split]:
    """The entries shuffled once and cut into ``folds`` parts of (almost) equal size.

    Fold *f* tests on part *f* and trains on the rest (as Surprise's ``KFold``: the first
    ``nnz % folds`` parts hold one entry more).
    """
    if folds < 2:
        raise ConfigError(f"k-fold needs at least 2 folds, got {folds}")
    X = as_matrix(X)
    if X.nnz < folds:
        raise DataError(f"{X.nnz} entries cannot be cut into {folds} folds")
    parts = np.array_split(generator.permutation(X.nnz), folds)
    out = []
    for f, part in enumerate(parts):
        mask = np.zeros(X.nnz, dtype=bool)
        mask[part] = True
        out.append(_held_out(X, mask, f"fold {f + 1}/{folds}"))
    return out


def random_entries_split(X: sp.spmatrix, share: float, generator: np.random.Generator, *, name: str = "test") -> Split:
    """A random share (``round(share * nnz)``) of all entries held out, regardless of user."""
    _check_share(share)
    X = as_matrix(X)
    n_test = int(np.floor(share * X.nnz + 0.5))
    mask = np.zeros(X.nnz, dtype=bool)
    mask[generator.permutation(X.nnz)[:n_test]] = True
    return _held_out(X, mask, name)


def occf_split(
    X: sp.spmatrix,
    share: float,
    zero_ratio: float,
    generator: np.random.Generator,
    *,
    forbidden: np.ndarray | None = None,
    name: str = "test",
) -> Split:
    """One-class test set: a random share of the filled entries plus empty cells set to zero.

    ``round(share * nnz)`` filled entries are held out (removed from training) and
    ``round(zero_ratio * that)`` cells that are empty in ``X`` -- and not in ``forbidden``
    (flat cell ids) -- are drawn uniformly without replacement and tested with true value 0.
    """
    if zero_ratio < 0:
        raise ConfigError(f"the zero ratio must be >= 0, got {zero_ratio}")
    X = as_matrix(X)
    split = random_entries_split(X, share, generator, name=name)
    n_zero = int(np.floor(zero_ratio * split.n_test + 0.5))
    blocked = cell_ids(entry_rows(X), X.indices, X.shape[1])
    if forbidden is not None and len(forbidden):
        blocked = np.union1d(blocked, np.asarray(forbidden, dtype=np.int64))
    cells = sample_cells(X.shape, blocked, n_zero, generator)
    n_items = X.shape[1]
    split.users = np.r_[split.users, cells // n_items]
    split.items = np.r_[split.items, cells % n_items]
    split.values = np.r_[split.values, np.zeros(len(cells))]
    split.info["zero_cells"] = len(cells)
    return split


def sample_cells(
    shape: tuple[int, int], blocked: np.ndarray, n: int, generator: np.random.Generator
) -> np.ndarray:
    """``n`` distinct flat cell ids drawn uniformly from the cells not in sorted ``blocked``.

    Rejection sampling in vectorised rounds (matrices are sparse, so few draws are rejected);
    when the free cells are scarce they are enumerated instead.
    """
    total = int(shape[0]) * int(shape[1])
    blocked = np.unique(np.asarray(blocked, dtype=np.int64))
    free = total - len(blocked)
    if n > free:
        raise DataError(f"asked for {n} empty cells but the matrix has only {free}")
    if n == 0:
        return np.empty(0, dtype=np.int64)
    if free <= 4 * n and total <= 50_000_000:
        pool = np.setdiff1d(np.arange(total, dtype=np.int64), blocked, assume_unique=True)
        return np.sort(generator.choice(pool, size=n, replace=False))
    chosen = np.empty(0, dtype=np.int64)
    density = len(blocked) / total
    while len(chosen) < n:
        need = n - len(chosen)
        draw = generator.integers(0, total, size=int(need / max(1e-3, 1 - density) * 1.1) + 16)
        draw = draw[~in_sorted(draw, blocked)]
        merged = np.r_[chosen, draw]
        _, first = np.unique(merged, return_index=True)
        chosen = merged[np.sort(first)]
    return np.sort(chosen[:n])


def sample_negatives(
    touched: sp.spmatrix,
    users: np.ndarray,
    n: int,
    generator: np.random.Generator,
    *,
    forbidden: np.ndarray | None = None,
) -> np.ndarray:
    """For each entry of ``users``, ``n`` distinct items that user never touched.

    ``touched`` is any users x items matrix whose stored entries are what each user has
    (training and held-out data together); ``forbidden`` (flat cell ids) adds cells that must
    never be drawn either. Returns ``(len(users), n)`` item indices, sorted per row and padded
    with ``-1`` when a user has fewer than ``n`` untouched items. Uniform without replacement:
    each row ranks random keys over the whole catalogue, touched items pushed to the end.
    """
    if n < 1:
        raise ConfigError(f"the number of sampled negatives must be >= 1, got {n}")
    touched = sp.csr_matrix(touched)
    touched = sp.csr_matrix(
        (np.ones(touched.nnz, dtype=bool), touched.indices, touched.indptr), shape=touched.shape
    )
    n_items = touched.shape[1]
    if forbidden is not None and len(forbidden):
        cells = np.unique(np.asarray(forbidden, dtype=np.int64))
        extra = sp.csr_matrix(
            (np.ones(len(cells), dtype=bool), (cells // n_items, cells % n_items)), shape=touched.shape
        )
        touched = (touched + extra).tocsr()
    touched.sort_indices()
    users = np.asarray(users, dtype=np.int64)
    n_take = min(n, n_items)
    out = np.full((len(users), n), -1, dtype=np.int64)
    step = max(1, MAX_BLOCK_CELLS // 4 // max(n_items, 1))
    for start in range(0, len(users), step):
        batch = users[start : start + step]
        keys = generator.random((len(batch), n_items))
        block = touched[batch]
        keys[entry_rows(block), block.indices] = np.inf
        if n_take < n_items:
            pick = np.argpartition(keys, n_take - 1, axis=1)[:, :n_take]
        else:
            pick = np.tile(np.arange(n_items), (len(batch), 1))
        valid = np.isfinite(np.take_along_axis(keys, pick, axis=1))
        pick = np.where(valid, pick, n_items)  # invalid last after sorting
        pick.sort(axis=1)
        out[start : start + len(batch), :n_take] = np.where(pick < n_items, pick, -1)
    return out
