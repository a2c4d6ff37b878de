"""blend: the contract, the formula, and a blend inside a saved auto model."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from teamrec.algorithms.auto import Auto
from teamrec.algorithms.base import Algorithm
from teamrec.algorithms.blend import Blend
from teamrec.algorithms.ease import EASE
from teamrec.algorithms.rp3beta import RP3beta
from teamrec.errors import ConfigError
from teamrec.testing import AlgorithmContract, random_matrix


class TestBlendContract(AlgorithmContract):
    def make(self) -> Blend:
        return Blend(first="ease", second="rp3beta", second_params={"neighbors": 20}, weight=0.3)


def test_scores_are_the_weighted_sum_of_row_normalised_scores() -> None:
    X = random_matrix(30, 20, density=0.3, seed=2)
    blend = Blend(first="ease", first_params={"regularization": 5.0}, second="rp3beta", weight=0.25).fit(X)
    a = EASE(regularization=5.0).fit(X).score(np.arange(30))
    b = RP3beta().fit(X).score(np.arange(30))
    expected = 0.75 * a / np.abs(a).max(1, keepdims=True) + 0.25 * b / np.abs(b).max(1, keepdims=True)
    np.testing.assert_allclose(blend.score(np.arange(30)), expected, rtol=1e-12)


def test_auto_tries_blends_and_a_chosen_blend_survives_save_and_load(tmp_path: Path) -> None:
    X = random_matrix(80, 50, density=0.2, seed=9)
    model = Auto(candidates=["ease", "rp3beta"]).fit(X)
    assert [r["algorithm"] for r in model.validation_].count("blend") == 2
    forced = Auto(candidates=["ease", "rp3beta"]).fit(X)
    forced.choice_, forced.choice_params_ = "blend", model.validation_[-1]["params"]
    forced._inner = Blend(**forced.choice_params_).fit(X)
    loaded = Algorithm.load(forced.save(tmp_path / "m"))
    np.testing.assert_allclose(loaded.score(np.arange(80)), forced.score(np.arange(80)))


def test_a_blend_of_blends_is_refused() -> None:
    with pytest.raises(ConfigError, match="cannot be 'auto'"):
        Blend(first="auto").fit(random_matrix())


def test_similarities_and_reasons_come_from_the_second_model_when_the_first_has_none() -> None:
    X = random_matrix(30, 20, density=0.3, seed=6)
    blend = Blend(first="mult-dae", first_params={"hidden": 4, "epochs": 2}, second="rp3beta").fit(X)
    rp3 = RP3beta().fit(X)
    for got, want in zip(blend.similar_items([0, 3], 5), rp3.similar_items([0, 3], 5), strict=True):
        np.testing.assert_array_equal(got, want)
    assert blend.explain(1, 2).contributions == rp3.explain(1, 2).contributions
