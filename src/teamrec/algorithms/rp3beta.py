"""RP3beta: item-item random walks with a popularity penalty (Paudel et al. 2017, "Updatable,
accurate, diverse, and scalable recommendations for interactive applications"; the tuned
baseline of Dacrema et al. 2019).

A walk of three steps on the person-item graph, person -> item -> person -> item, with the
transition probabilities raised to ``alpha`` and the landing item divided by its popularity
to the power ``beta``::

    P_ui = (x_ui / |I(u)|) ** alpha          (person u to item i; x binary)
    P_iu = (x_ui / |U(i)|) ** alpha          (item i to person u)
    W_ij = (sum_u P_iu P_uj) / |U(j)| ** beta,   W_ii = 0

then only each item's ``neighbors`` largest ``W_ij`` are kept. A person's score for *j* is
``sum_i x_ui W_ij`` over the items they have: how likely a walk from their items lands on
*j*, discounted for *j*'s popularity (``beta = 0`` is plain P3alpha; larger ``beta`` favours
the long tail).

``W`` is computed in blocks of source items and pruned per block, so the dense
``n_items x n_items`` product never exists; every step is a sparse product.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from pydantic import Field

from teamrec.algorithms import _similarity as sim
from teamrec.algorithms import _topk
from teamrec.algorithms.base import Algorithm, AlgorithmConfig, Contribution, Explanation

#: Cells of one block of the (sparse) walk product, before pruning.
BLOCK_CELLS = 20_000_000


class RP3betaConfig(AlgorithmConfig):
    alpha: float = Field(1.0, gt=0, description="exponent of the transition probabilities")
    beta: float = Field(0.5, ge=0, description="popularity penalty: divide by popularity ** beta")
    neighbors: int | None = Field(200, ge=1, description="targets kept per item (None: all)")


class RP3beta(Algorithm):
    """Three-step random walks with a popularity penalty; see the module docstring."""

    name = "rp3beta"
    Config = RP3betaConfig
    config: RP3betaConfig

    def _fit(self, X: sp.csr_matrix) -> None:
        self.similarity_ = walk_weights(X, self.config.alpha, self.config.beta, self.config.neighbors)

    def score(self, users: np.ndarray, user_items: sp.spmatrix | None = None) -> np.ndarray:
        self._check_fitted()
        rows = sim.binary(self._rows(np.atleast_1d(np.asarray(users, dtype=np.int64)), user_items))
        return (rows @ self.similarity_).toarray()

    def _rank_keys(self, users: np.ndarray, user_items: sp.spmatrix | None) -> tuple[np.ndarray, None]:
        scores = self.score(users, user_items)
        scores[scores == 0] = -np.inf  # no walk reaches the item: no evidence, not recommended
        return scores, None

    def similar_items(self, items: np.ndarray | list[int], k: int = 10) -> tuple[np.ndarray, np.ndarray]:
        """Where walks from each item land most, after the popularity penalty."""
        self._check_fitted()
        return _topk.topk_rows(self.similarity_, np.atleast_1d(np.asarray(items, dtype=np.int64)), k)

    def explain(self, user: int, item: int, n: int = 5) -> Explanation:
        """The person's items ``i`` with the largest ``W_i,item``."""
        self._check_fitted()
        have = self.X_[user].indices
        weights = np.asarray(self.similarity_[have][:, [item]].toarray()).ravel()
        order = np.lexsort((have, -weights))[:n]
        order = order[weights[order] > 0]
        return Explanation(
            user=int(user),
            item=int(item),
            score=float(weights.sum()),
            contributions=[Contribution("item", int(have[o]), float(weights[o])) for o in order],
        )


def walk_weights(X: sp.spmatrix, alpha: float, beta: float, neighbors: int | None) -> sp.csr_matrix:
    """The pruned RP3beta item-item matrix ``W`` of ``X`` (see the module docstring)."""
    B = sim.binary(X)
    n_items = B.shape[1]
    user_degree = np.asarray(B.sum(axis=1)).ravel()
    item_degree = np.asarray(B.sum(axis=0)).ravel()
    P_ui = sp.diags(1.0 / np.maximum(user_degree, 1.0)) @ B
    P_iu = (sp.diags(1.0 / np.maximum(item_degree, 1.0)) @ B.T.tocsr()).tocsr()
    if alpha != 1.0:
        P_ui.data **= alpha
        P_iu.data **= alpha
    P_ui = sp.csr_matrix(P_ui)
    penalty = np.where(item_degree > 0, np.maximum(item_degree, 1.0) ** -beta, 0.0)
    step = max(1, BLOCK_CELLS // max(n_items, 1))
    parts = []
    for start in range(0, n_items, step):
        stop = min(start + step, n_items)
        block = (P_iu[start:stop] @ P_ui).tocsr()
        block = sp.csr_matrix(block @ sp.diags(penalty))
        _zero_diagonal(block, start)
        block.eliminate_zeros()
        parts.append(sim.prune_rows(block, neighbors))
    W = sp.vstack(parts, format="csr")
    W.sort_indices()
    return W


def _zero_diagonal(block: sp.csr_matrix, start: int) -> None:
    """Zero the entries ``(r, start + r)`` of a block of rows (an item never recommends itself)."""
    rows = np.repeat(np.arange(block.shape[0]), np.diff(block.indptr))
    block.data[block.indices == rows + start] = 0.0
