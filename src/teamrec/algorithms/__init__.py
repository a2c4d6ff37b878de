"""Algorithms behind one contract (:mod:`teamrec.algorithms.base`), found by name in the registry."""

from teamrec.algorithms.base import Algorithm, AlgorithmConfig, Contribution, Explanation, Predictions
from teamrec.algorithms.registry import ALGORITHMS, algorithm_names, create, get_algorithm

__all__ = [
    "ALGORITHMS",
    "Algorithm",
    "AlgorithmConfig",
    "Contribution",
    "Explanation",
    "Predictions",
    "algorithm_names",
    "create",
    "get_algorithm",
]
