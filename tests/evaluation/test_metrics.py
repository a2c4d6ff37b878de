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
