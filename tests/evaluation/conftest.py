"""Small algorithms defined for the evaluation tests, registered under test-only names.

They live in a throw-away module put in ``sys.modules`` and named in the registry for the
duration of one test (``monkeypatch``), so the runner finds them exactly as it finds real ones.
"""

from __future__ import annotations

import sys
import types

import numpy as np
import pytest
import scipy.sparse as sp

from teamrec.algorithms import registry
from teamrec.algorithms.base import Algorithm, AlgorithmConfig, Predictions


class ConstantConfig(AlgorithmConfig):
    value: float = 0.0


class Constant(Algorithm):
    """Predicts ``value`` everywhere (a rating algorithm whose errors are easy to work out)."""

    name = "test-constant"
    Config = ConstantConfig
    predicts_values = True

    def _fit(self, X: sp.csr_matrix) -> None:
        self.fitted_nnz_ = X.nnz

    def score(self, users, user_items=None):
        return np.full((len(np.atleast_1d(users)), self.n_items), self.config.value)


class ItemMean(Algorithm):
    """Each item's mean training value (0 for items without any); predicts values."""

    name = "test-item-mean"
    Config = AlgorithmConfig
    predicts_values = True

    def _fit(self, X: sp.csr_matrix) -> None:
        counts = np.bincount(X.indices, minlength=X.shape[1])
        sums = np.asarray(X.sum(axis=0)).ravel()
        self.means_ = np.divide(sums, counts, out=np.zeros(X.shape[1]), where=counts > 0)

    def score(self, users, user_items=None):
        return np.tile(self.means_, (len(np.atleast_1d(users)), 1))


class SpyConfig(AlgorithmConfig):
    shift: float = 0.0
    seed: int = -1


#: Every matrix a Spy was fitted on and every (user, item) it was asked about, as cell ids.
SPY_LOG: dict[str, list[np.ndarray]] = {"fit": [], "asked": []}


def _cells(X: sp.spmatrix) -> np.ndarray:
    coo = sp.coo_matrix(X)
    return coo.row.astype(np.int64) * X.shape[1] + coo.col


class Spy(ItemMean):
    """ItemMean + shift that records what it sees (to prove the test split stays unseen)."""

    name = "test-spy"
    Config = SpyConfig

    def _fit(self, X: sp.csr_matrix) -> None:
        SPY_LOG["fit"].append(_cells(X))
        super()._fit(X)

    def score(self, users, user_items=None):
        users = np.atleast_1d(users)
        SPY_LOG["asked"].append((users[:, None] * self.n_items + np.arange(self.n_items)).ravel())
        return super().score(users) + self.config.shift

    def predict(self, users, items) -> Predictions:
        SPY_LOG["asked"].append(np.asarray(users, dtype=np.int64) * self.n_items + np.asarray(items))
        return Predictions(estimate=self.means_[np.asarray(items)] + self.config.shift)


TOY = {"test-constant": Constant, "test-item-mean": ItemMean, "test-spy": Spy}


@pytest.fixture
def toy_algorithms(monkeypatch) -> dict:
    module = types.ModuleType("teamrec_evaluation_test_algorithms")
    for klass in TOY.values():
        setattr(module, klass.__name__, klass)
        monkeypatch.setitem(registry.ALGORITHMS, klass.name, f"{module.__name__}:{klass.__name__}")
    monkeypatch.setitem(sys.modules, module.__name__, module)
    SPY_LOG["fit"].clear()
    SPY_LOG["asked"].clear()
    return {**TOY, "log": SPY_LOG}
