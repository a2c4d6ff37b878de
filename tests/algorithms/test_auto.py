"""auto: the contract, a deterministic choice made on validation only, save/load of the choice."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from teamrec.algorithms import auto as auto_module
from teamrec.algorithms.auto import Auto, candidates
from teamrec.algorithms.base import Algorithm
from teamrec.algorithms.registry import create
from teamrec.errors import ConfigError
from teamrec.testing import AlgorithmContract, checkerboard, random_matrix


class TestAutoContract(AlgorithmContract):
    def make(self) -> Auto:
        return Auto(candidates=["ease", "rp3beta", "item-knn"])


def test_chooses_the_best_validation_figure_and_refits_it_on_everything() -> None:
    X = checkerboard(60, 40, seed=3)
    model = Auto(candidates=["popularity", "ease"], tolerance=0.0, standard_errors=0.0).fit(X)
    figures = {(r["algorithm"], str(r["params"])): r["ndcg@10"] for r in model.validation_}
    assert {name for name, _ in figures} == {"popularity", "ease", "blend"}
    assert max(figures.values()) == figures[(model.summary()["algorithm"], str(model.choice_params_))]
    refit = create(model.choice_, model.choice_params_).fit(X)
    np.testing.assert_allclose(model.score(np.arange(60)), refit.score(np.arange(60)))
    assert not model.budget_cut_


def test_same_data_same_choice_and_saved_choice_answers_the_same(tmp_path: Path) -> None:
    X = random_matrix(80, 50, density=0.2, seed=4)
    a = Auto(candidates=["rp3beta", "item-knn", "ease"]).fit(X)
    b = Auto(candidates=["rp3beta", "item-knn", "ease"]).fit(X)
    assert (a.choice_, a.choice_params_) == (b.choice_, b.choice_params_)
    loaded = Algorithm.load(a.save(tmp_path / "m"))
    assert isinstance(loaded, Auto) and loaded.summary() == a.summary()
    np.testing.assert_array_equal(loaded.recommend(np.arange(80), k=5)[0], a.recommend(np.arange(80), k=5)[0])


def test_a_spent_budget_is_recorded(monkeypatch: pytest.MonkeyPatch) -> None:
    model = Auto(candidates=["rp3beta", "item-knn"], budget_seconds=1e-9).fit(checkerboard())
    assert model.budget_cut_ and model.not_tried_ and len(model.validation_) == 1


def test_candidates_follow_the_data_size_only() -> None:
    assert [n for n, _ in candidates(1000, 1700, 100_000)].count("ease") == 1
    damped = {"binary": False, "value_power": 0.5}
    on_ratings = candidates(1000, 1700, 100_000, valued=True)
    assert ("ease", damped) in on_ratings and ("user-ease", damped) in on_ratings
    assert ("ease", damped) not in candidates(1000, 1700, 100_000)
    # Last.fm 2K: too many artists for item EASE, few enough listeners for user EASE
    lastfm = [n for n, _ in candidates(1900, 17_632, 90_000)]
    assert "ease" not in lastfm and lastfm.count("user-ease") == 1
    assert "user-ease" not in [n for n, _ in candidates(auto_module.DENSE_ITEMS + 1, 500, 90_000)]
    assert [n for n, _ in candidates(900, auto_module.DENSE_ITEMS, 50_000)].count("ease") == 1


def test_bad_metric_and_candidates_are_config_errors() -> None:
    with pytest.raises(ConfigError, match="metric"):
        Auto(metric="rmse")
    with pytest.raises(ConfigError, match="candidates"):
        Auto(candidates=["auto"]).fit(checkerboard())


def test_blends_pair_the_best_of_the_three_best_algorithms() -> None:
    from teamrec.algorithms.auto import BLEND_WEIGHTS, _blends

    figures = [("ease", {}, 0.30), ("user-ease", {}, 0.32), ("rp3beta", {"beta": 0.3}, 0.29),
               ("rp3beta", {"beta": 0.5}, 0.31), ("als", {}, 0.28), ("item-knn", {}, 0.10)]
    results = [{"algorithm": a, "params": p, "m": v} for a, p, v in figures]
    pairs = [(b["first"], b["first_params"], b["second"], b["second_params"]) for b in _blends(results, "m")]
    best = [("user-ease", {}), ("rp3beta", {"beta": 0.5}), ("ease", {})]
    expected = [(*best[i], *best[j]) for i, j in ((0, 1), (0, 2), (1, 2))]
    assert pairs == [p for p in expected for _ in BLEND_WEIGHTS]
    assert _blends(results[:1], "m") == []


def test_complements_are_blended_into_the_best_model_wherever_they_rank() -> None:
    from teamrec.algorithms.auto import BLEND_WEIGHTS, COMPLEMENTS, _blends

    assert "mult-dae" in COMPLEMENTS
    figures = [("ease", {}, 0.30), ("user-ease", {}, 0.32), ("rp3beta", {}, 0.29), ("item-knn", {}, 0.28),
               ("mult-dae", {}, 0.27), ("als", {}, 0.26)]
    results = [{"algorithm": a, "params": p, "m": v} for a, p, v in figures]
    pairs = [(b["first"], b["second"]) for b in _blends(results, "m")]
    expected = [("user-ease", "ease"), ("user-ease", "rp3beta"), ("ease", "rp3beta"), ("user-ease", "mult-dae")]
    assert pairs == [p for p in expected for _ in BLEND_WEIGHTS]  # item-knn and als: no
    results[4]["m"] = 0.31  # among the three best: paired like any other, once
    pairs = [(b["first"], b["second"]) for b in _blends(results, "m")]
    assert pairs.count(("user-ease", "mult-dae")) == len(BLEND_WEIGHTS) and len(pairs) == 3 * len(BLEND_WEIGHTS)


def test_among_blends_the_figure_decides_not_the_order() -> None:
    """No single model within the margin: the best blend, not the first within the margin."""
    from teamrec.algorithms.auto import _simplest_near_best

    results = [{"algorithm": "ease", "m": 0.2414, "se": 0.004}, {"algorithm": "blend", "m": 0.2438, "se": 0.004},
               {"algorithm": "blend", "m": 0.2462, "se": 0.004}]
    assert _simplest_near_best(results, "m", 0.0, 1.0) == 2
    assert _simplest_near_best(results, "m", 0.0, 2.0) == 0  # a single model within two SE: it


def test_the_simplest_candidate_the_validation_cannot_tell_from_the_best_is_chosen() -> None:
    from teamrec.algorithms.auto import _simplest_near_best

    results = [{"m": 0.230, "se": 0.004}, {"m": 0.240, "se": 0.004}, {"m": 0.243, "se": 0.004}]
    assert _simplest_near_best(results, "m", 0.0, 0.0) == 2
    assert _simplest_near_best(results, "m", 0.0, 1.0) == 1  # 0.003 below the best: within one SE
    assert _simplest_near_best(results, "m", 0.0, 4.0) == 0
    assert _simplest_near_best(results, "m", 0.06, 0.0) == 0  # the relative margin when it is wider


def test_validation_figures_carry_their_standard_error() -> None:
    model = Auto(candidates=["popularity", "ease"]).fit(checkerboard(60, 40, seed=3))
    assert all(r["se"] > 0 for r in model.validation_)
