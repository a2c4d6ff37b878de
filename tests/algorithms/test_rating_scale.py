"""The ``rating_scale`` setting both rating models share (``_baselines.RatingScale``): a scale
out of order is refused with a one-line config error naming the field, a good one is kept."""

from __future__ import annotations

import pytest

from teamrec.algorithms.registry import create
from teamrec.errors import ConfigError


@pytest.mark.parametrize("name", ["biased-mf", "knn-baseline"])
def test_rating_scale_must_be_lowest_then_highest(name):
    for bad in [(5.0, 1.0), (3.0, 3.0)]:
        with pytest.raises(ConfigError, match="rating_scale.*lowest < highest") as info:
            create(name, {"rating_scale": bad})
        assert "\n" not in str(info.value)
    assert create(name, {"rating_scale": (1, 5)}).config.rating_scale == (1.0, 5.0)
    assert create(name, {}).config.rating_scale is None
