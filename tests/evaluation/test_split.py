"""Splits: the counts they promise, determinism for a seed, and held-out cells kept apart."""

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from teamrec.errors import ConfigError, DataError
from teamrec.evaluation import split as S
from teamrec.testing import random_matrix


def cells_of(X):
    coo = sp.coo_matrix(X)
    return set((coo.row * X.shape[1] + coo.col).tolist())


def test_per_user_counts_round_half_up_and_keep_one_for_training():
    counts = np.array([1, 2, 5, 10, 3])
    # 0.2 * n = .2 .4 1 2 .6 -> 0 0 1 2 1; a single entry is never held out
    assert S.per_user_counts(counts, 0.2).tolist() == [0, 0, 1, 2, 1]
    # 0.5 * n = .5 1 2.5 5 1.5 -> 1 1 3 5 2, capped at n - 1 -> 0 1 3 5 2
    assert S.per_user_counts(counts, 0.5).tolist() == [0, 1, 3, 5, 2]


def test_holdout_holds_out_the_promised_share_per_user_and_nothing_else():
    X = random_matrix(40, 30, density=0.3, seed=1)
    split = S.holdout_split(X, 0.25, S.rng(0, S.TEST_STREAM))
    counts = np.diff(X.indptr)
    held = np.bincount(split.users, minlength=40)
    assert held.tolist() == S.per_user_counts(counts, 0.25).tolist()
    # train + test = the data, cell for cell and value for value
    rebuilt = split.train + sp.csr_matrix((split.values, (split.users, split.items)), shape=X.shape)
    assert abs(rebuilt - X).max() == 0
    assert not cells_of(split.train) & set(split.cells().tolist())


def test_splits_are_deterministic_for_a_seed_and_differ_across_seeds():
    X = random_matrix(40, 30, density=0.3, seed=2)
    for make in (
        lambda s: S.holdout_split(X, 0.2, S.rng(s, 0)),
        lambda s: S.random_entries_split(X, 0.2, S.rng(s, 0)),
        lambda s: S.occf_split(X, 0.2, 1.0, S.rng(s, 0)),
        lambda s: S.kfold_splits(X, 3, S.rng(s, 0))[1],
    ):
        a, b, c = make(7), make(7), make(8)
        assert np.array_equal(a.cells(), b.cells()) and np.array_equal(a.values, b.values)
        assert (a.train != b.train).nnz == 0
        assert not np.array_equal(a.cells(), c.cells())


def test_streams_are_independent():
    X = random_matrix(40, 30, density=0.3, seed=2)
    test = S.holdout_split(X, 0.2, S.rng(3, S.TEST_STREAM))
    val = S.holdout_split(X, 0.2, S.rng(3, S.VALIDATION_STREAM))
    assert not np.array_equal(test.cells(), val.cells())
    with pytest.raises(ConfigError):
        S.rng(-1, 0)


def test_temporal_holds_out_each_users_latest_entries():
    X = sp.csr_matrix(np.array([[1, 1, 1, 1, 0], [2, 0, 2, 0, 2], [3, 0, 0, 0, 0]], dtype=float))
    T = X.copy()
    T.data = np.array([10, 40, 20, 30, 5, 7, 6, 99], dtype=float)  # row 0: items 0..3; row 1: 0 2 4
    split = S.temporal_split(X, T, 0.5, S.rng(0, 0))
    # row 0 holds out 2 of 4: the latest are item 1 (40) and item 3 (30);
    # row 1 holds out round(1.5) = 2 of 3: item 2 (7) and item 4 (6); row 2 keeps its only entry
    got = sorted(zip(split.users.tolist(), split.items.tolist(), strict=True))
    assert got == [(0, 1), (0, 3), (1, 2), (1, 4)]
    assert split.train_times is not None and split.train_times.nnz == split.train.nnz
    assert sorted(split.train_times.data.tolist()) == [5, 10, 20, 99]


def test_temporal_without_timestamps_counts_them_oldest():
    X = sp.csr_matrix(np.array([[1, 1, 1, 1]], dtype=float))
    T = X.copy()
    T.data = np.array([np.nan, 3, np.nan, 1.0])
    split = S.temporal_split(X, T, 0.5, S.rng(0, 0))
    assert sorted(split.items.tolist()) == [1, 3]


def test_kfold_partitions_the_entries():
    X = random_matrix(30, 20, density=0.3, seed=3)
    folds = S.kfold_splits(X, 4, S.rng(0, 0))
    held = np.concatenate([f.cells() for f in folds])
    assert len(held) == X.nnz and len(np.unique(held)) == X.nnz
    sizes = sorted(f.n_test for f in folds)
    assert sizes[-1] - sizes[0] <= 1
    for f in folds:
        assert f.train.nnz + f.n_test == X.nnz
    with pytest.raises(ConfigError):
        S.kfold_splits(X, 1, S.rng(0, 0))


def test_occf_adds_empty_cells_with_value_zero():
    X = random_matrix(30, 20, density=0.2, seed=4)
    split = S.occf_split(X, 0.25, 2.0, S.rng(0, 0))
    filled = int(np.floor(0.25 * X.nnz + 0.5))
    assert split.n_test == filled + 2 * filled
    zero = split.values == 0
    assert zero.sum() == 2 * filled
    zero_cells = split.cells()[zero]
    assert len(np.unique(zero_cells)) == len(zero_cells)
    assert not set(zero_cells.tolist()) & cells_of(X)  # empty in the data
    assert split.train.nnz == X.nnz - filled


def test_occf_respects_forbidden_cells():
    X = sp.csr_matrix(np.array([[1, 0, 0], [0, 1, 0]], dtype=float))
    # 4 empty cells; forbid 3 of them: the only one left must be drawn
    forbidden = np.array([1, 2, 3])
    split = S.occf_split(X, 0.5, 1.0, S.rng(0, 0), forbidden=forbidden)
    assert split.cells()[split.values == 0].tolist() == [5]
    with pytest.raises(DataError):
        S.sample_cells((2, 3), np.array([0, 1, 2, 3, 4]), 2, S.rng(0, 0))


def test_sample_cells_draws_distinct_free_cells():
    blocked = np.array([0, 5, 17, 99])
    cells = S.sample_cells((10, 10), blocked, 50, S.rng(1, 0))
    assert len(np.unique(cells)) == 50 and not set(cells.tolist()) & set(blocked.tolist())
    big = S.sample_cells((1000, 1000), blocked, 500, S.rng(1, 0))  # the rejection path
    assert len(np.unique(big)) == 500 and not set(big.tolist()) & set(blocked.tolist())


def test_negatives_are_distinct_untouched_items_and_avoid_forbidden_cells():
    X = random_matrix(20, 150, density=0.2, seed=5)
    users = np.repeat(np.arange(20), 3)
    forbidden = np.array([0 * 150 + 7, 3 * 150 + 8])
    neg = S.sample_negatives(X, users, 100, S.rng(0, 0), forbidden=forbidden)
    assert neg.shape == (60, 100)
    for row, u in zip(neg, users, strict=True):
        valid = row[row >= 0]
        assert len(np.unique(valid)) == len(valid)
        assert not set(valid.tolist()) & set(X[u].indices.tolist())
        assert len(valid) == min(100, 150 - X[u].nnz - (u in (0, 3)))
    assert 7 not in neg[users == 0] and 8 not in neg[users == 3]
    again = S.sample_negatives(X, users, 100, S.rng(0, 0), forbidden=forbidden)
    assert np.array_equal(neg, again)


def test_negatives_pad_when_few_items_are_untouched():
    X = sp.csr_matrix(np.array([[1, 1, 0, 0], [1, 1, 1, 1]], dtype=float))
    neg = S.sample_negatives(X, np.array([0, 1]), 3, S.rng(0, 0))
    assert neg.tolist() == [[2, 3, -1], [-1, -1, -1]]


def test_drop_entries_keeps_stored_zeros():
    X = sp.csr_matrix((np.array([0.0, 2.0, 3.0]), np.array([0, 1, 0]), np.array([0, 2, 3])), shape=(2, 2))
    out = S.drop_entries(X, np.array([False, True, False]))
    assert out.nnz == 2 and out[0, 0] == 0 and out[1, 0] == 3


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 10_000), st.integers(1, 12), st.integers(1, 12), st.floats(0.05, 0.95))
def test_every_split_partitions_any_matrix(seed, n_users, n_items, share):
    X = random_matrix(n_users, n_items, density=0.5, seed=seed)
    if X.nnz < 2:
        return
    for split in (
        S.holdout_split(X, share, S.rng(seed, 0)),
        S.random_entries_split(X, share, S.rng(seed, 0)),
        S.kfold_splits(X, 2, S.rng(seed, 0))[0],
    ):
        rebuilt = split.train + sp.csr_matrix((split.values, (split.users, split.items)), shape=X.shape)
        assert abs(rebuilt - X).max() == 0
        assert split.train.nnz + split.n_test == X.nnz
    held = np.bincount(S.holdout_split(X, share, S.rng(seed, 0)).users, minlength=n_users)
    assert (held <= np.maximum(np.diff(X.indptr) - 1, 0)).all()
