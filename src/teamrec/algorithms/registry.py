"""Algorithms by name: one registry, imported lazily so that ``import teamrec`` stays light.

Add an algorithm by writing its module and one line in :data:`ALGORITHMS`; the docs test
checks that every name here is documented and passes the contract suite.
"""

from __future__ import annotations

import importlib
from typing import Any

from teamrec.algorithms.base import Algorithm
from teamrec.errors import ConfigError, UnknownIdError

#: name -> "module:Class"
ALGORITHMS: dict[str, str] = {
    "popularity": "teamrec.algorithms.popularity:Popularity",
    "cooccurrence": "teamrec.algorithms.cooccurrence:CoOccurrence",
    "item-knn": "teamrec.algorithms.knn:ItemKNN",
    "user-knn": "teamrec.algorithms.knn:UserKNN",
    "knn-regression": "teamrec.algorithms.knn_regression:KNNRegression",
    "als": "teamrec.algorithms.implicit_mf:ALS",
    "bpr": "teamrec.algorithms.implicit_mf:BPR",
    "knn-baseline": "teamrec.algorithms.knn_baseline:KNNBaseline",
    "biased-mf": "teamrec.algorithms.biased_mf:BiasedMF",
    "ease": "teamrec.algorithms.ease:EASE",
    "user-ease": "teamrec.algorithms.user_ease:UserEASE",
    "rp3beta": "teamrec.algorithms.rp3beta:RP3beta",
    "mult-dae": "teamrec.algorithms.mult_dae:MultDAE",
    "blend": "teamrec.algorithms.blend:Blend",
    "auto": "teamrec.algorithms.auto:Auto",
}


def algorithm_names() -> list[str]:
    """Every registered algorithm name, sorted."""
    return sorted(ALGORITHMS)


def get_algorithm(name: str) -> type[Algorithm]:
    """The class registered under ``name``."""
    if name not in ALGORITHMS:
        raise UnknownIdError("algorithm", name, f"known: {', '.join(algorithm_names())}")
    module_name, class_name = ALGORITHMS[name].split(":")
    return getattr(importlib.import_module(module_name), class_name)


def create(name: str, params: dict[str, Any] | None = None) -> Algorithm:
    """A new, unfitted algorithm with validated parameters."""
    klass = get_algorithm(name)
    try:
        return klass(**(params or {}))
    except TypeError as exc:  # pragma: no cover - Config validation normally catches this
        raise ConfigError(f"{name}: {exc}") from None
