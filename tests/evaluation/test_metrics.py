"""Every metric on small hand-worked cases (the expected numbers are worked out in comments),
plus a property test against a plain per-user reference implementation."""

import math

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from teamrec.errors import DataError
from teamrec.evaluation import metrics as M

# Four users, a catalogue of 10 items, lists of length 3 (-1 = padding).
#   u0: recs 1 2 3   held out {1, 3, 9}  hits 1 0 1
#   u1: recs 4 5 -   held out {5}        hits 0 1 0
#   u2: recs 7 8 9   held out {}         left out of every average
#   u3: recs 6 7 8   held out {0}        hits 0 0 0
RECS = np.array([[1, 2, 3], [4, 5, -1], [7, 8, 9], [6, 7, 8]])
RELEVANT = sp.csr_matrix(
    (np.ones(5, dtype=bool), ([0, 0, 0, 1, 3], [1, 3, 9, 5, 0])), shape=(4, 10)
)
LOG2_3 = math.log2(3)


def test_precision():
    # u0 2/3, u1 1/3 (the padded slot is a miss), u3 0 -> mean 1/3
    assert M.precision_at_k(RECS, RELEVANT, 3) == pytest.approx(1 / 3)
    # @1: 1, 0, 0
    assert M.precision_at_k(RECS, RELEVANT, 1) == pytest.approx(1 / 3)
    # @2: 1/2, 1/2, 0
    assert M.precision_at_k(RECS, RELEVANT, 2) == pytest.approx(1 / 3)


def test_recall():
    # hits / |T_u|: u0 2/3, u1 1/1, u3 0 -> 5/9
    assert M.recall_at_k(RECS, RELEVANT, 3) == pytest.approx(0.5555555555555556)
    # @1: 1/3, 0, 0 -> 1/9
    assert M.recall_at_k(RECS, RELEVANT, 1) == pytest.approx(0.1111111111111111)


def test_ndcg():
    # u0: DCG = 1/log2(2) + 1/log2(4) = 1.5; IDCG (3 held out) = 1 + 1/log2(3) + 1/2 = 2.1309297536
    #     -> 0.7039180890
    # u1: DCG = 1/log2(3) = 0.6309297536; IDCG (1 held out) = 1 -> 0.6309297536
    # u3: 0                                       mean = 0.4449492809
    assert M.ndcg_at_k(RECS, RELEVANT, 3) == pytest.approx(0.4449492808685307)
    # @2: u0 DCG 1, IDCG 1 + 1/log2(3) = 1.6309297536 -> 0.6131471928; u1 0.6309297536; u3 0
    assert M.ndcg_at_k(RECS, RELEVANT, 2) == pytest.approx((0.6131471927654584 + 0.6309297535714575) / 3)
    assert 1 / LOG2_3 == pytest.approx(0.6309297535714575)


def test_map():
    # u0: (1/min(3,3)) * (P@1*1 + P@3*1) = (1 + 2/3) / 3 = 0.5555556
    # u1: (1/min(3,1)) * P@2 = 0.5
    # u3: 0                                    mean = 0.3518518519
    assert M.map_at_k(RECS, RELEVANT, 3) == pytest.approx(0.35185185185185186)
    # @1: u0 1, others 0
    assert M.map_at_k(RECS, RELEVANT, 1) == pytest.approx(1 / 3)


def test_hit_rate():
    # u0 and u1 have a hit in the top 3, u3 none -> 2/3; in the top 1 only u0 -> 1/3
    assert M.hit_rate_at_k(RECS, RELEVANT, 3) == pytest.approx(2 / 3)
    assert M.hit_rate_at_k(RECS, RELEVANT, 1) == pytest.approx(1 / 3)


def test_coverage():
    # top 3 of the evaluated users (u2 left out): {1,2,3,4,5,6,7,8} -> 8 of 10 items
    assert M.coverage_at_k(RECS, RELEVANT, 3) == pytest.approx(0.8)
    # top 1: {1, 4, 6} -> 0.3
    assert M.coverage_at_k(RECS, RELEVANT, 1) == pytest.approx(0.3)
    assert M.coverage_at_k(RECS, RELEVANT, 1, n_items=30) == pytest.approx(0.1)


def test_ranking_metrics_gives_every_metric_at_every_k():
    out = M.ranking_metrics(RECS, RELEVANT, [1, 3])
    assert set(out) == {f"{m}@{k}" for m in M.RANKING_METRICS for k in (1, 3)}
    assert out["ndcg@3"] == pytest.approx(0.4449492808685307)
    assert out["map@3"] == pytest.approx(0.35185185185185186)
    assert out["coverage@3"] == pytest.approx(0.8)
    with pytest.raises(ValueError):
        M.ranking_metrics(RECS, RELEVANT, [4])


def test_nobody_held_out_is_a_data_error():
    with pytest.raises(DataError):
        M.ranking_metrics(RECS, sp.csr_matrix((4, 10)), [1])


def test_rmse_and_mae():
    # errors 0, 1, -2, 4: squares 0 1 4 16 -> sqrt(21/4) = 2.2912878475; |.| mean 7/4
    est, truth = np.array([1.0, 2, 3, 4]), np.array([1.0, 1, 5, 0])
    assert M.rmse(est, truth) == pytest.approx(2.29128784747792)
    assert M.mae(est, truth) == pytest.approx(1.75)
    with pytest.raises(DataError):
        M.rmse(np.array([]), np.array([]))


def test_sampled_ranks_and_recall():
    # row 0: test item 3 scores .5; negatives 1 (.9 above), 2 (.5, tie, lower index: above),
    #        7 (.5, tie, higher index: below), 8 (.1)                         -> rank 2
    # row 1: test item 0 scores 1; negatives .2, .3, NaN (lowest), padding    -> rank 0
    # row 2: test score NaN (lowest); negatives .1, .2 above, padding ignored -> rank 2
    ranks = M.sampled_ranks(
        np.array([0.5, 1.0, np.nan]),
        np.array([3, 0, 6]),
        np.array([[0.9, 0.5, 0.5, 0.1], [0.2, 0.3, np.nan, 9.0], [0.1, 0.2, 9.0, 9.0]]),
        np.array([[1, 2, 7, 8], [4, 5, 6, -1], [4, 5, -1, -1]]),
    )
    assert ranks.tolist() == [2, 0, 2]
    assert M.sampled_recall(ranks, [1, 2, 3]) == pytest.approx(
        {"recall@1": 1 / 3, "recall@2": 1 / 3, "recall@3": 1.0}
    )


def test_top_n_accuracy():
    # user 0: estimates .9 (+1), .8 (-1), .7 (+1), .1 (+1): top 3 = +1 -1 +1 -> 2/3
    # user 1: two held out, equal estimates: item 5 (-1) then 6 (+1) -> 1/2 (min(3, 2) = 2)
    # mean over users = (2/3 + 1/2) / 2 = 0.5833333
    users = np.array([0, 0, 0, 0, 1, 1])
    items = np.array([0, 1, 2, 3, 6, 5])
    truth = np.array([1, -1, 1, 1, 1, -1.0])
    est = np.array([0.9, 0.8, 0.7, 0.1, 0.5, 0.5])
    assert M.top_n_accuracy(users, items, truth, est, n=3) == pytest.approx(0.5833333333333334)
    # top 1: user 0 +1, user 1 item 5 -1 -> 1/2
    assert M.top_n_accuracy(users, items, truth, est, n=1) == pytest.approx(0.5)


def _reference(recs, relevant, k, n_items):
    """Per-user loops straight from the formulas (the slow, obvious way)."""
    per = {m: [] for m in M.RANKING_METRICS if m != "coverage"}
    covered = set()
    for u in range(recs.shape[0]):
        truth = set(relevant[u].indices)
        if not truth:
            continue
        top = list(recs[u, :k])
        covered |= {i for i in top if i >= 0}
        rel = [1 if i in truth else 0 for i in top]
        hits = sum(rel)
        per["precision"].append(hits / k)
        per["recall"].append(hits / len(truth))
        dcg = sum(r / math.log2(i + 2) for i, r in enumerate(rel))
        idcg = sum(1 / math.log2(i + 2) for i in range(min(len(truth), k)))
        per["ndcg"].append(dcg / idcg)
        ap = sum(sum(rel[: i + 1]) / (i + 1) * r for i, r in enumerate(rel)) / min(k, len(truth))
        per["map"].append(ap)
        per["hit_rate"].append(1.0 if hits else 0.0)
    out = {f"{m}@{k}": float(np.mean(v)) for m, v in per.items()}
    out[f"coverage@{k}"] = len(covered) / n_items
    return out


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 10_000), st.integers(1, 6), st.integers(1, 5))
def test_vectorised_metrics_match_the_per_user_reference(seed, n_users, k):
    rng = np.random.default_rng(seed)
    n_items = 8
    recs = np.stack([rng.permutation(n_items)[:k] for _ in range(n_users)])
    recs[rng.random(recs.shape) < 0.15] = -1
    relevant = sp.csr_matrix(rng.random((n_users, n_items)) < 0.3)
    if relevant.nnz == 0:
        relevant = sp.csr_matrix(([True], ([0], [0])), shape=(n_users, n_items))
    got = M.ranking_metrics(recs, relevant, [k])
    want = _reference(recs, relevant, k, n_items)
    assert got == pytest.approx(want)
    for value in got.values():
        assert 0.0 <= value <= 1.0


# -- beyond accuracy: coverage, novelty, diversity --------------------------------------------------
# Four training users, four items: item 0 is had by users {0, 1, 2}, item 1 by {0}, item 2 by
# {1, 3}, item 3 by {3}. Self-information -log2(n_j / 4): 0.415, 2, 1, 2 bits.
TRAIN = sp.csr_matrix(np.array([[1, 1, 0, 0], [1, 0, 1, 0], [1, 0, 0, 0], [0, 0, 1, 1]], dtype=float))
LISTS = np.array([[0, 1, 2], [1, 3, -1], [2, -1, -1], [0, 1, 2]])


def test_novelty_is_the_mean_self_information_of_the_lists():
    info = M.self_information(TRAIN)
    np.testing.assert_allclose(info, [-math.log2(3 / 4), 2.0, 1.0, 2.0])
    curves = M.novelty_curves(LISTS, info)
    # @1: 0.415, 2, 1, 0.415 -> 0.9575; @3: (3.415/3, 4/2, 1/1, 3.415/3) -> 1.3192
    assert curves[0] == pytest.approx((2 * -math.log2(3 / 4) + 3) / 4)
    assert curves[2] == pytest.approx((2 * (3 - math.log2(3 / 4)) / 3 + 2 + 1) / 4)


def test_diversity_is_the_mean_pairwise_cosine_distance_within_lists():
    curves = M.diversity_curves(LISTS, M.item_vectors(TRAIN))
    # @2: lists 0 and 3 pair items 0 and 1: cos = 1 / sqrt(3 * 1) -> distance 1 - 0.577;
    # list 1 pairs 1 and 3 (nobody in common): distance 1; list 2 has one item: left out.
    assert math.isnan(curves[0])
    assert curves[1] == pytest.approx((2 * (1 - 1 / math.sqrt(3)) + 1) / 3)
    # @3: list 0 adds (0, 2): cos 1/sqrt(6), (1, 2): 0 -> mean pair cos (1/sqrt3 + 1/sqrt6) / 3
    d0 = 1 - (1 / math.sqrt(3) + 1 / math.sqrt(6)) / 3
    assert curves[2] == pytest.approx((2 * d0 + 1) / 3)


def test_ranking_metrics_with_training_data_add_novelty_and_diversity():
    relevant = sp.csr_matrix(np.ones((4, 4)))
    out = M.ranking_metrics(LISTS, relevant, [2, 3], train=TRAIN)
    assert out["coverage@3"] == 1.0
    assert out["novelty@3"] == pytest.approx(M.novelty_curves(LISTS, M.self_information(TRAIN))[2])
    assert out["diversity@2"] == pytest.approx(M.diversity_curves(LISTS, M.item_vectors(TRAIN))[1])


def test_diversity_blocks_do_not_change_the_result(monkeypatch):
    rng = np.random.default_rng(3)
    train = sp.csr_matrix((rng.random((50, 30)) < 0.2).astype(float))
    lists = np.argsort(rng.random((40, 30)), axis=1)[:, :6]
    whole = M.diversity_curves(lists, M.item_vectors(train))
    monkeypatch.setattr(M, "DIVERSITY_BLOCK_WORK", 5)
    np.testing.assert_allclose(M.diversity_curves(lists, M.item_vectors(train)), whole, rtol=0, atol=1e-12)


def _reference_beyond(lists: np.ndarray, train: np.ndarray) -> tuple[list[float], list[float]]:
    """Per list and k, loops over the items and their pairs."""
    B = (train != 0).astype(float)
    n_users = max(B.shape[0], 1)
    counts = B.sum(axis=0)
    info = -np.log2(np.maximum(counts, 1) / n_users)
    norms = np.linalg.norm(B, axis=0)
    novelty, diversity = [], []
    for k in range(1, lists.shape[1] + 1):
        nov, div = [], []
        for row in lists[:, :k]:
            items = [int(i) for i in row if i >= 0]
            if items:
                nov.append(np.mean(info[items]))
            if len(items) >= 2:
                cos = [B[:, a] @ B[:, b] / (norms[a] * norms[b]) if norms[a] * norms[b] > 0 else 0.0
                       for x, a in enumerate(items) for b in items[x + 1:]]
                div.append(1 - np.mean(cos))
        novelty.append(float(np.mean(nov)) if nov else float("nan"))
        diversity.append(float(np.mean(div)) if div else float("nan"))
    return novelty, diversity


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 10_000), st.integers(1, 8), st.integers(2, 9), st.integers(1, 5))
def test_beyond_accuracy_bounds_and_reference(seed, n_users, n_items, k):
    rng = np.random.default_rng(seed)
    train = (rng.random((n_users, n_items)) < 0.4).astype(float)
    k = min(k, n_items)
    lists = np.argsort(rng.random((5, n_items)), axis=1)[:, :k]
    lists[rng.random(lists.shape) < 0.2] = -1
    lists = -np.sort(-lists, axis=1)  # padding at the end, as the recommenders return it
    lists = np.where(lists >= 0, lists, -1)
    novelty = M.novelty_curves(lists, M.self_information(sp.csr_matrix(train)))
    diversity = M.diversity_curves(lists, M.item_vectors(sp.csr_matrix(train)))
    ref_novelty, ref_diversity = _reference_beyond(lists, train)
    np.testing.assert_allclose(novelty, ref_novelty, rtol=0, atol=1e-9)
    np.testing.assert_allclose(diversity, ref_diversity, rtol=0, atol=1e-9)
    for value in novelty:
        assert math.isnan(value) or 0.0 <= value <= math.log2(max(n_users, 1)) + 1e-12
    for value in diversity:
        assert math.isnan(value) or -1e-12 <= value <= 1.0 + 1e-12


@pytest.mark.parametrize("name", ["precision", "recall", "ndcg", "map", "hit_rate"])
def test_per_user_rows_average_to_the_metric(name):
    rng = np.random.default_rng(3)
    relevant = sp.random(30, 40, density=0.15, format="csr", random_state=4)
    recs = np.argsort(rng.random((30, 40)), axis=1)[:, :10]
    rows = M.ranking_metric_rows(recs, relevant, name, 10)
    assert len(rows) == int((np.diff(relevant.indptr) > 0).sum())
    assert rows.mean() == pytest.approx(M.ranking_metrics(recs, relevant, [10])[f"{name}@10"])
