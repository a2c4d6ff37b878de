"""Mult-DAE: a denoising autoencoder with a multinomial likelihood (Liang et al. 2018,
"Variational Autoencoders for Collaborative Filtering", the Mult-DAE of its section 2.3).

A person's row ``x`` (binarised), with each entry dropped with probability ``dropout`` while
training, scaled to unit length, goes through one ``tanh`` layer of ``hidden`` units and back
to one logit per item; a softmax over the catalogue makes it a distribution, fitted to the
items the person has by their multinomial log-likelihood (Adam, ``l2`` weight decay)::

    h = tanh(W1^T x / |x| + b1),    p = softmax(W2^T h + b2),    loss = -sum_i x_i log p_i

A person's scores are ``p`` for their full (undropped) row.

Why it is here: it is the one non-linear model teamrec has, weak alone on ml-100k (nDCG@10
about 0.44 against EASE's 0.49) but wrong in other places than the linear item models, so a
quarter of it blended into EASE or user EASE lifts both (ml-100k 0.4886 -> 0.50 on test, and
0.2419 -> 0.2462 on ``auto``'s validation; docs/benchmarks.md). On Deskdrop it is the best
single model on validation. ``auto`` therefore tries it as the
partner of its best single model (:data:`teamrec.algorithms.auto.COMPLEMENTS`).

Deterministic: the weights start from ``seed``, the batches go in person order, and each
batch's dropout mask is drawn from the same seeded generator; a refit on the same matrix is the
same model. Training costs ``O(epochs x nnz-dense rows x n_items x hidden)``: a few seconds
on ml-100k's 943 x 1,682. Scores for new people are a forward pass of their row, so the
service's fold-in is exact.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from pydantic import Field

from teamrec.algorithms.base import Algorithm, AlgorithmConfig

#: Adam's moment decay rates and its denominator guard (Kingma & Ba's defaults).
_BETA1, _BETA2, _EPS = 0.9, 0.999, 1e-8


class MultDAEConfig(AlgorithmConfig):
    hidden: int = Field(100, ge=1, description="units of the tanh layer")
    epochs: int = Field(100, ge=1, description="passes over the people")
    batch_size: int = Field(128, ge=1, description="people per gradient step")
    dropout: float = Field(0.5, ge=0.0, lt=1.0, description="share of each input row dropped while training")
    learning_rate: float = Field(1e-3, gt=0.0, description="Adam's step size")
    l2: float = Field(1e-5, ge=0.0, description="weight decay on both weight matrices")
    seed: int = Field(0, ge=0, description="seed of the initial weights and the dropout masks")


def _unit_rows(rows: np.ndarray) -> np.ndarray:
    """Each row scaled to unit Euclidean length (rows of zeros stay zero)."""
    norms = np.linalg.norm(rows, axis=1, keepdims=True)
    return rows / np.where(norms > 0, norms, 1.0)


def softmax(logits: np.ndarray) -> np.ndarray:
    """Row-wise softmax, computed stably."""
    z = np.exp(logits - logits.max(axis=1, keepdims=True))
    return z / z.sum(axis=1, keepdims=True)


def loss_and_gradients(
    weights: list[np.ndarray], x: np.ndarray, inputs: np.ndarray, l2: float
) -> tuple[float, list[np.ndarray]]:
    """Mean multinomial negative log-likelihood of the targets ``x`` given the (dropped,
    unit-length) ``inputs``, plus ``l2 / 2`` times the squared weights, and its gradients with
    respect to ``weights = [W1, b1, W2, b2]``."""
    W1, b1, W2, b2 = weights
    n = len(x)
    h = np.tanh(inputs @ W1 + b1)
    logits = h @ W2 + b2
    shifted = logits - logits.max(axis=1, keepdims=True)
    log_p = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    loss = -float((x * log_p).sum()) / n + 0.5 * l2 * float((W1 * W1).sum() + (W2 * W2).sum())
    d_logits = (np.exp(log_p) * x.sum(axis=1, keepdims=True) - x) / n
    d_h = (d_logits @ W2.T) * (1.0 - h * h)
    grads = [inputs.T @ d_h + l2 * W1, d_h.sum(axis=0), h.T @ d_logits + l2 * W2, d_logits.sum(axis=0)]
    return loss, grads


class MultDAE(Algorithm):
    """Denoising autoencoder with a multinomial likelihood; see the module docstring."""

    name = "mult-dae"
    Config = MultDAEConfig
    config: MultDAEConfig

    def _fit(self, X: sp.csr_matrix) -> None:
        c = self.config
        n_users, n_items = X.shape
        rng = np.random.default_rng(c.seed)
        scale = np.sqrt(2.0 / (n_items + c.hidden))  # Glorot's normal initialisation
        weights = [rng.normal(0.0, scale, (n_items, c.hidden)), np.zeros(c.hidden),
                   rng.normal(0.0, scale, (c.hidden, n_items)), np.zeros(n_items)]
        first = [np.zeros_like(w) for w in weights]
        second = [np.zeros_like(w) for w in weights]
        B = sp.csr_matrix(X, copy=True)
        B.data = (B.data != 0).astype(np.float64)
        step = 0
        for _ in range(c.epochs):
            for start in range(0, n_users, c.batch_size):
                x = B[start : start + c.batch_size].toarray()
                kept = rng.random(x.shape) >= c.dropout
                _, grads = loss_and_gradients(weights, x, _unit_rows(x * kept), c.l2)
                step += 1
                for w, g, m, v in zip(weights, grads, first, second, strict=True):
                    m *= _BETA1
                    m += (1 - _BETA1) * g
                    v *= _BETA2
                    v += (1 - _BETA2) * g * g
                    w -= c.learning_rate * (m / (1 - _BETA1**step)) / (np.sqrt(v / (1 - _BETA2**step)) + _EPS)
        self.encoder_, self.encoder_bias_, self.decoder_, self.decoder_bias_ = weights

    def score(self, users: np.ndarray, user_items: sp.spmatrix | None = None) -> np.ndarray:
        """The softmax probabilities of every item given each person's whole binarised row."""
        self._check_fitted()
        rows = self._rows(np.atleast_1d(np.asarray(users, dtype=np.int64)), user_items)
        x = (rows.toarray() != 0).astype(np.float64)
        h = np.tanh(_unit_rows(x) @ self.encoder_ + self.encoder_bias_)
        return softmax(h @ self.decoder_ + self.decoder_bias_)
