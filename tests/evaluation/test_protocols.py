"""Protocols and the runner with popularity and the small algorithms of conftest.py."""

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from teamrec.algorithms.registry import get_algorithm
from teamrec.data.events import make_events
from teamrec.data.matrix import build_matrix
from teamrec.errors import ConfigError, DataError, UnknownIdError, UnsupportedError
from teamrec.evaluation import (
    PROTOCOLS,
    AlgorithmSpec,
    EvalData,
    create_protocol,
    eval_data,
    evaluate,
)
from teamrec.evaluation import metrics as M
from teamrec.evaluation.protocols import friendship_matrix
from teamrec.testing import checkerboard, random_matrix


def timed(X, seed=0):
    """EvalData with a timestamp per entry (for the temporal protocol)."""
    T = sp.csr_matrix(X, copy=True)
    T.data = np.random.default_rng(seed).random(T.nnz) * 1e6
    return EvalData(X, T)


def signed_matrix(seed=0):
    rng = np.random.default_rng(seed)
    mask = rng.random((40, 30)) < 0.4
    # items with an even index are mostly liked, odd ones mostly disliked
    like = (np.arange(30) % 2 == 0)[None, :] ^ (rng.random((40, 30)) < 0.15)
    return sp.csr_matrix(np.where(mask, np.where(like, 1.0, -1.0), 0.0))


DATA = {
    "occf-rmse": lambda: EvalData(random_matrix(40, 30, density=0.3, seed=1)),
    "kfold": lambda: EvalData(random_matrix(40, 30, density=0.3, seed=1)),
    "holdout": lambda: EvalData(checkerboard()),
    "temporal": lambda: timed(checkerboard()),
    "sampled": lambda: EvalData(checkerboard(60, 200, density=0.3)),
    "top3-accuracy": lambda: EvalData(signed_matrix()),
}
RATING = {"occf-rmse", "kfold"}
#: Protocols that split the matrix at random (people-like-you measures on the whole of it).
SPLITTING = [name for name in PROTOCOLS if name != "people-like-you"]


def algorithms_for(protocol):
    return ["test-item-mean"] if protocol in RATING else ["popularity", "test-item-mean"]


@pytest.mark.parametrize("name", SPLITTING)
def test_each_protocol_is_deterministic_for_a_seed(name, toy_algorithms):
    protocol = create_protocol(name)
    specs = [AlgorithmSpec(a) for a in algorithms_for(name)]
    a = evaluate(DATA[name](), protocol, specs, k=5, seed=3)
    b = evaluate(DATA[name](), protocol, specs, k=5, seed=3)
    assert [r.metrics for r in a.results] == [r.metrics for r in b.results]
    assert [r.curves for r in a.results] == [r.curves for r in b.results]
    assert set(a.results[0].metrics) == set(protocol.metric_names(5))
    first = [s.cells() for s in protocol.splits(DATA[name](), 3)]
    again = [s.cells() for s in protocol.splits(DATA[name](), 3)]
    other = [s.cells() for s in protocol.splits(DATA[name](), 4)]
    assert all(np.array_equal(x, y) for x, y in zip(first, again, strict=True))
    if name != "temporal":  # distinct timestamps leave the seed nothing to decide
        assert not all(np.array_equal(x, y) for x, y in zip(first, other, strict=True))


@pytest.mark.parametrize("name", SPLITTING)
def test_validation_is_carved_from_training_data_and_never_touches_test(name):
    protocol = create_protocol(name)
    for index, split in enumerate(protocol.splits(DATA[name](), 0)):
        test_cells = set(split.cells().tolist())
        val = protocol.validation(split, 0, index)
        n_items = split.shape[1]
        val_cells = set(val.cells().tolist())
        assert not val_cells & test_cells
        train_cells = set((sp.coo_matrix(split.train).row * n_items + sp.coo_matrix(split.train).col).tolist())
        val_train = sp.coo_matrix(val.train)
        assert set((val_train.row * n_items + val_train.col).tolist()) <= train_cells
        if val.negatives is not None:
            neg = val.negatives
            rows = np.repeat(val.users, neg.shape[1])[neg.ravel() >= 0]
            neg_cells = set((rows * n_items + neg.ravel()[neg.ravel() >= 0]).tolist())
            assert not neg_cells & test_cells
            assert not neg_cells & train_cells
        # filled validation cells are training entries
        filled = val.values != 0
        assert set(val.cells()[filled].tolist()) <= train_cells


def test_grid_search_sees_only_validation_data_then_refits_on_train(toy_algorithms):
    log = toy_algorithms["log"]
    data = EvalData(random_matrix(40, 30, density=0.3, seed=1))
    protocol = create_protocol("occf-rmse")
    spec = AlgorithmSpec("test-spy", params={}, grid={"shift": [0.0, 1.0, -1.0]})
    result = evaluate(data, protocol, [spec], seed=0)
    split = protocol.splits(data, 0)[0]
    test_cells = set(split.cells().tolist())
    # three validation fits, then the final one on the whole training split
    assert len(log["fit"]) == 4
    for fitted in log["fit"][:3]:
        assert not set(fitted.tolist()) & test_cells
    assert set(log["fit"][3].tolist()) == set(
        (sp.coo_matrix(split.train).row * 30 + sp.coo_matrix(split.train).col).tolist()
    )
    for asked in log["asked"][:3]:
        assert not set(asked.tolist()) & test_cells
    assert set(log["asked"][3].tolist()) == test_cells
    r = result.results[0]
    assert len(r.trials[0]) == 3 and r.selected[0]["shift"] in (0.0, 1.0, -1.0)
    best_trial = min(r.trials[0], key=lambda t: t["rmse"])
    assert r.selected[0] == best_trial["params"]
    assert r.params["shift"] == r.selected[0]["shift"]


def test_grid_search_picks_the_best_value_on_validation(toy_algorithms):
    # every rating is 3: the constant 3 is perfect, 1 and 5 are 2 off
    X = sp.csr_matrix(np.where(np.random.default_rng(0).random((30, 20)) < 0.4, 3.0, 0.0))
    spec = AlgorithmSpec("test-constant", grid={"value": [1.0, 3.0, 5.0]})
    result = evaluate(EvalData(X), create_protocol("kfold", {"folds": 3}), [spec], select_by="mae")
    r = result.results[0]
    assert r.selected == [{"value": 3.0}] * 3
    assert r.metrics["rmse"] == pytest.approx(0.0) and r.metrics["mae"] == pytest.approx(0.0)
    assert [t["mae"] for t in r.trials[0]] == pytest.approx([2.0, 0.0, 2.0])


def test_occf_rmse_of_a_constant_is_worked_out_from_the_split(toy_algorithms):
    X = random_matrix(40, 30, density=0.3, seed=1)
    protocol = create_protocol("occf-rmse", {"test_share": 0.3, "zero_ratio": 2.0})
    result = evaluate(EvalData(X), protocol, [AlgorithmSpec("test-constant", params={"value": 1.5})])
    split = protocol.splits(EvalData(X), 0)[0]
    assert (split.values == 0).sum() == 2 * (split.values != 0).sum()
    assert result.results[0].metrics["rmse"] == pytest.approx(np.sqrt(np.mean((1.5 - split.values) ** 2)))
    assert result.results[0].metrics["mae"] == pytest.approx(np.mean(np.abs(1.5 - split.values)))


def test_kfold_averages_over_folds(toy_algorithms):
    X = random_matrix(40, 30, density=0.3, seed=1)
    protocol = create_protocol("kfold", {"folds": 4})
    r = evaluate(EvalData(X), protocol, [AlgorithmSpec("test-constant", params={"value": 3.0})]).results[0]
    folds = protocol.splits(EvalData(X), 0)
    per_fold = [M.rmse(np.full(f.n_test, 3.0), f.values) for f in folds]
    assert [p["rmse"] for p in r.per_split] == pytest.approx(per_fold)
    assert r.metrics["rmse"] == pytest.approx(np.mean(per_fold))


def test_rating_protocols_refuse_algorithms_that_do_not_predict_values():
    with pytest.raises(UnsupportedError, match="popularity"):
        evaluate(DATA["kfold"](), create_protocol("kfold"), [AlgorithmSpec("popularity")])


def test_holdout_matches_metrics_on_the_recommendations():
    data = EvalData(checkerboard())
    protocol = create_protocol("holdout", {"test_share": 0.3})
    from teamrec.algorithms.registry import create

    result = evaluate(data, protocol, [AlgorithmSpec("popularity")], k=4)
    split = protocol.splits(data, 0)[0]
    users = np.unique(split.users)
    recs, _ = create("popularity").fit(split.train).recommend(users, k=4)
    expected = M.ranking_metrics(recs, split.relevant()[users], [1, 2, 3, 4], train=split.train)
    r = result.results[0]
    assert r.metrics == pytest.approx({key: expected[key] for key in protocol.metric_names(4)})
    assert r.curves["ndcg"] == pytest.approx({k: expected[f"ndcg@{k}"] for k in (1, 2, 3, 4)})


def test_sampled_reports_recall_at_5_and_10_and_a_curve():
    result = evaluate(DATA["sampled"](), create_protocol("sampled", {"negatives": 50}),
                      [AlgorithmSpec("popularity")], k=10)
    assert 0 <= result.results[0].metrics["recall@10"] <= 1
    assert set(result.results[0].metrics) == {"recall@5", "recall@10"}
    assert sorted(result.results[0].curves["recall"]) == list(range(1, 11))


def test_top3_accuracy_rewards_the_right_sign(toy_algorithms):
    # about six held-out items per user: the top 3 of them is a real choice
    result = evaluate(DATA["top3-accuracy"](), create_protocol("top3-accuracy", {"test_share": 0.5}),
                      [AlgorithmSpec("test-item-mean"), AlgorithmSpec("test-constant")])
    mean, constant = (r.metrics["top3_accuracy"] for r in result.results)
    assert mean > 0.65 and mean > constant + 0.1, (mean, constant)


def test_eval_data_keeps_each_entrys_latest_timestamp():
    events = make_events(
        user=["a", "a", "a", "b", "b"], item=["x", "x", "y", "x", "z"],
        value=[1, 1, 1, 1, 1], kind=["view", "view", "like", "view", "like"],
        timestamp=[5.0, 9.0, 3.0, np.nan, 4.0],
    )
    from teamrec.data.dataset import Dataset

    dataset = Dataset(events=events)
    matrix = build_matrix(dataset)
    data = eval_data(dataset, matrix)
    T = data.times.toarray()
    ui, ii = matrix.users.index_of, matrix.items.index_of
    assert T[ui("a"), ii("x")] == 9.0 and T[ui("a"), ii("y")] == 3.0 and T[ui("b"), ii("z")] == 4.0
    assert np.isnan(T[ui("b"), ii("x")])


def test_temporal_needs_timestamps():
    with pytest.raises(DataError, match="timestamps"):
        create_protocol("temporal").splits(EvalData(checkerboard()), 0)


def test_bad_settings_are_config_errors(toy_algorithms):
    with pytest.raises(UnknownIdError):
        create_protocol("nope")
    with pytest.raises(ConfigError, match="folds"):
        create_protocol("holdout", {"folds": 3})
    with pytest.raises(ConfigError, match="test_share"):
        create_protocol("holdout", {"test_share": 1.5})
    data = DATA["holdout"]()
    with pytest.raises(ConfigError, match="select-by"):
        evaluate(data, create_protocol("holdout"), [AlgorithmSpec("popularity")], select_by="rmse")
    with pytest.raises(ConfigError, match="unique"):
        evaluate(data, create_protocol("holdout"), [AlgorithmSpec("popularity"), AlgorithmSpec("popularity")])
    with pytest.raises(ConfigError, match="nope"):
        evaluate(data, create_protocol("holdout"), [AlgorithmSpec("popularity", params={"nope": 1})])
    with pytest.raises(ConfigError, match="baseline"):
        evaluate(data, create_protocol("holdout"), [AlgorithmSpec("popularity")], baseline="x")


def test_seed_parameters_default_to_the_evaluation_seed(toy_algorithms):
    result = evaluate(DATA["holdout"](), create_protocol("holdout"), [AlgorithmSpec("test-spy")], seed=11)
    assert result.results[0].metrics  # Spy has a ``seed`` field: it was set, not refused
    from teamrec.evaluation.runner import _instantiate

    assert _instantiate("test-spy", {}, 11).config.seed == 11
    assert _instantiate("test-spy", {"seed": 2}, 11).config.seed == 2


def test_baseline_changes_and_json_shape(toy_algorithms):
    result = evaluate(DATA["kfold"](), create_protocol("kfold"),
                      [AlgorithmSpec("test-constant", label="zero"),
                       AlgorithmSpec("test-constant", label="three", params={"value": 3.0})],
                      baseline="zero")
    zero, three = (r.metrics["rmse"] for r in result.results)
    assert result.changes()["three"]["rmse"] == pytest.approx((three - zero) / zero)
    out = result.to_dict()
    assert out["baseline"] == "zero" and out["best"] == "three"
    assert {"protocol", "protocol_params", "seed", "k", "metrics", "select_by", "data", "results"} <= set(out)
    for r in out["results"]:
        assert {"label", "algorithm", "params", "metrics", "fit_seconds", "predict_seconds"} <= set(r)
    pd.io.json.ujson_dumps(out)  # plain JSON types only


# -- people like you ------------------------------------------------------------------------------
def people_data():
    """Six people in two circles of taste (0-2 like items 0-2, 3-5 like items 3-5)."""
    X = np.zeros((6, 6))
    X[:3, :3] = 1.0
    X[3:, 3:] = 1.0
    X[0, 5] = X[4, 0] = 1.0
    # declared friendships: 0-1, 0-2, 0-4 (across circles), 3-5; person 4 also lists 0 (a repeat)
    pairs = friendship_matrix(np.array([0, 0, 0, 3, 4]), np.array([1, 2, 4, 5, 0]), 6)
    return EvalData(sp.csr_matrix(X), pairs=pairs)


def test_friendship_matrix_is_symmetric_without_self_pairs_or_unknown_people():
    F = friendship_matrix(np.array([0, 1, 2, -1, 3]), np.array([1, 0, 2, 1, 4]), 5)
    assert F.toarray().tolist() == [
        [0, 1, 0, 0, 0], [1, 0, 0, 0, 0], [0, 0, 0, 0, 0], [0, 0, 0, 0, 1], [0, 0, 0, 1, 0]]


def test_people_like_you_counts_friends_among_the_most_similar(toy_algorithms):
    protocol = create_protocol("people-like-you")
    data = people_data()
    result = evaluate(data, protocol, [AlgorithmSpec("user-knn", params={"weighting": "none", "hubness": 0.0})],
                      k=2, seed=0)
    # Hand-computed with cosine on the rows: the two most similar people of each person are
    # 0: 1, 2 (friends 1, 2, 4: 2 of min(3, 2) = 2 -> 1), 1: 2, 0 (friend 0 -> 1/1),
    # 2: 1, 0 (friend 0 -> 1), 3: 5, 4 (friend 5 -> 1), 4: 3, 5 (friend 0 -> 0), 5: 3, 4 (friend 3 -> 1).
    assert result.results[0].metrics["friends_recall@2"] == pytest.approx(5 / 6)
    # random: mean_u 2 |F_u| / (5 min(|F_u|, 2)) over |F| = 3, 1, 1, 1, 1, 1
    expected = np.mean([2 * 3 / (5 * 2)] + [2 * 1 / (5 * 1)] * 5)
    assert result.results[0].metrics["random_recall@2"] == pytest.approx(expected)
    curve = result.results[0].curves["friends_recall"]
    assert set(curve) == {1, 2} and curve[2] == pytest.approx(5 / 6)
    assert result.data["test_cells"] == 8  # both directions of the four friendships


def test_people_like_you_refuses_what_it_cannot_measure():
    protocol = create_protocol("people-like-you")
    with pytest.raises(DataError, match="--friends"):
        protocol.splits(EvalData(checkerboard()), 0)
    with pytest.raises(UnsupportedError, match="user similarities"):
        protocol.check(get_algorithm("popularity"))
    split = protocol.splits(people_data(), 0)[0]
    with pytest.raises(UnsupportedError, match="no validation split"):
        protocol.validation(split, 0)
