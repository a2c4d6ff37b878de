"""Mult-DAE: the contract (the checkerboard's structure learnt included), its gradients against
finite differences, the forward pass, determinism, and that training lowers its loss."""

from __future__ import annotations

import numpy as np
import pytest

from teamrec.algorithms.mult_dae import MultDAE, _unit_rows, loss_and_gradients, softmax
from teamrec.errors import ConfigError
from teamrec.testing import AlgorithmContract, checkerboard, random_matrix


class TestMultDAEContract(AlgorithmContract):
    supports_similar_items = False  # a blend partner: similarities and reasons come from the other model
    supports_explain = False

    def make(self) -> MultDAE:
        return MultDAE(hidden=16, epochs=200, dropout=0.2)  # 50 people: one step per epoch


def test_gradients_equal_finite_differences() -> None:
    rng = np.random.default_rng(3)
    n_items, hidden = 7, 4
    weights = [rng.normal(0, 0.5, (n_items, hidden)), rng.normal(0, 0.1, hidden),
               rng.normal(0, 0.5, (hidden, n_items)), rng.normal(0, 0.1, n_items)]
    x = (rng.random((5, n_items)) < 0.4).astype(float)
    x[0, 0] = 1.0
    inputs = _unit_rows(x * (rng.random(x.shape) < 0.7))
    _, grads = loss_and_gradients(weights, x, inputs, l2=0.01)
    for w, g in zip(weights, grads, strict=True):
        numeric = np.zeros_like(w)
        for index in np.ndindex(w.shape):
            keep = w[index]
            w[index] = keep + 1e-6
            up, _ = loss_and_gradients(weights, x, inputs, 0.01)
            w[index] = keep - 1e-6
            down, _ = loss_and_gradients(weights, x, inputs, 0.01)
            w[index] = keep
            numeric[index] = (up - down) / 2e-6
        np.testing.assert_allclose(g, numeric, rtol=1e-5, atol=1e-8)


def test_scores_are_the_softmax_of_the_forward_pass() -> None:
    X = random_matrix(30, 12, density=0.3, seed=4)
    model = MultDAE(hidden=5, epochs=3).fit(X)
    x = (X.toarray() != 0).astype(float)
    h = np.tanh(_unit_rows(x) @ model.encoder_ + model.encoder_bias_)
    expected = softmax(h @ model.decoder_ + model.decoder_bias_)
    np.testing.assert_allclose(model.score(np.arange(30)), expected, rtol=1e-12)
    np.testing.assert_allclose(expected.sum(axis=1), 1.0)


def test_a_refit_is_the_same_model_and_the_seed_matters() -> None:
    X = random_matrix(40, 20, density=0.25, seed=5)
    a, b = MultDAE(hidden=6, epochs=5).fit(X), MultDAE(hidden=6, epochs=5).fit(X)
    np.testing.assert_array_equal(a.score(np.arange(40)), b.score(np.arange(40)))
    other = MultDAE(hidden=6, epochs=5, seed=1).fit(X)
    assert not np.array_equal(a.score(np.arange(40)), other.score(np.arange(40)))


def test_training_lowers_the_likelihood_loss() -> None:
    X = checkerboard(n_users=40, n_items=30, density=0.5, seed=2)
    x = (X.toarray() != 0).astype(float)

    def nll(m: MultDAE) -> float:
        return float(-(x * np.log(m.score(np.arange(40)))).sum())

    trained = MultDAE(hidden=16, epochs=150, dropout=0.2).fit(X)
    untrained = MultDAE(hidden=16, epochs=1, learning_rate=1e-9).fit(X)
    assert nll(trained) < 0.9 * nll(untrained)


def test_bad_parameters_are_config_errors() -> None:
    with pytest.raises(ConfigError, match="dropout"):
        MultDAE(dropout=1.0)
    with pytest.raises(ConfigError, match="hidden"):
        MultDAE(hidden=0)
