"""Neighbourhood recommenders: item-item ("channels like #x", "channels for you") and
user-user ("people like you").

Both keep, for every item (or person), its ``neighbors`` most similar others -- a sparse
matrix ``similarity_`` whose row *i* holds *i*'s neighbours -- computed from sparse products
and pruned per row without Python loops (see :mod:`teamrec.algorithms._similarity` for the
similarities: cosine, Jaccard, Pearson, and shrinkage).

Scores (``x_u`` is person *u*'s row of activity, ``S`` the pruned similarity):

* item-item: ``score(u, i) = sum_j x_uj S[i, j]`` -- the similarities of the channels *u* is
  in to channel *i*, among *i*'s neighbours, weighted by *u*'s activity in each;
* user-user: ``score(u, i) = sum_v S[u, v] x_vi`` -- the activity in *i* of *u*'s neighbours,
  weighted by how similar they are to *u*.

An item with score 0 has no evidence behind it (none of its neighbours is the person's) and
is not recommended. :meth:`update` recomputes only the rows of the similarity whose inputs
changed (see :meth:`_Neighbourhood.update`).
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal, Self

import numpy as np
import scipy.sparse as sp
from pydantic import Field

from teamrec.algorithms import _similarity as sim
from teamrec.algorithms import _topk
from teamrec.algorithms.base import Algorithm, AlgorithmConfig, Contribution, Explanation, as_csr
from teamrec.data import weighting
from teamrec.errors import DataError

#: An update touching more than this fraction of the rows refits instead (same cost, simpler).
REFIT_FRACTION = 0.5


class KNNConfig(AlgorithmConfig):
    """Parameters shared by the neighbourhood models."""

    neighbors: int | None = Field(50, ge=1, description="neighbours kept per row (None: every positive one)")
    similarity: Literal["cosine", "jaccard", "pearson"] = Field("cosine", description="similarity measure")
    shrinkage: float = Field(0.0, ge=0.0, description="multiply by n_common / (n_common + shrinkage)")
    threads: int = Field(0, ge=0, description="threads for the similarity products (0: one per core)")


class ItemKNNConfig(KNNConfig):
    """Item-item defaults measured on the four real data sets (docs/benchmarks.md, issue 13):
    200 neighbours with shrinkage 10 beat 50 without shrinkage on every one of them."""

    neighbors: int | None = Field(200, ge=1, description="neighbours kept per row (None: every positive one)")
    shrinkage: float = Field(10.0, ge=0.0, description="multiply by n_common / (n_common + shrinkage)")


class UserKNNConfig(KNNConfig):
    """User-user parameters: how people are compared (see :class:`UserKNN`)."""

    weighting: Literal["none", "iuf"] = Field("iuf", description="weight items by inverse user frequency")
    hubness: float = Field(0.5, ge=0.0, le=1.0,
                           description="subtract this times each person's mean similarity to their nearest")


#: A person's hubness is the mean similarity to this many of their nearest (when neighbors is None).
HUB_NEIGHBOURS = 50
#: The hub-corrected top k is taken among each person's CANDIDATE_FACTOR * k most similar.
CANDIDATE_FACTOR = 4


class _Neighbourhood(Algorithm):
    """Shared machinery: a pruned similarity between *entities* (items or users), learnt as
    ``similarity_`` and kept up to date incrementally."""

    #: Which side of the matrix the entities are: "item" (columns) or "user" (rows).
    axis: ClassVar[Literal["item", "user"]] = "item"
    similarity_: sp.csr_matrix

    # -- what the subclasses may change ---------------------------------------------------------
    @property
    def _metric(self) -> str:
        return self.config.similarity  # type: ignore[attr-defined]

    @property
    def _shrinkage(self) -> float:
        return getattr(self.config, "shrinkage", 0.0)

    @property
    def _k(self) -> int | None:
        return self.config.neighbors  # type: ignore[attr-defined]

    @property
    def _threads(self) -> int:
        return getattr(self.config, "threads", 0)

    def _entities(self, X: sp.csr_matrix) -> sp.csr_matrix:
        """Entities x features: items x people for item-item, people x items for user-user."""
        return X.T.tocsr() if self.axis == "item" else sp.csr_matrix(X)

    def _space(self, X: sp.csr_matrix) -> sim.Space:
        if self.axis == "item":
            return sim.space(X.T.tocsr(), self._metric, self._shrinkage, ET=X)
        return sim.space(X, self._metric, self._shrinkage)

    def _rows_state(self, X: sp.csr_matrix, targets: np.ndarray | None) -> dict[str, sp.csr_matrix]:
        """The learnt row matrices for ``targets`` (default: every entity)."""
        return {"similarity_": sim.neighbours(self._space(X), self._k, targets, threads=self._threads)}

    # -- fitting ---------------------------------------------------------------------------
    def _fit(self, X: sp.csr_matrix) -> None:
        for name, matrix in self._rows_state(X, None).items():
            setattr(self, name, matrix)
        self._after_load()

    def update(self, X: Any) -> Self:
        """Bring the similarity up to date with ``X`` (the whole grown matrix).

        Only the rows whose inputs changed are recomputed: the similarity of two entities
        depends only on their own vectors (and, for Pearson, on the number of features), so a
        change to entity *c* moves row *c* and the rows of the entities sharing a feature with
        *c* (before or after the change: their top-k may gain or lose *c*); every other row is
        kept as it is. Pearson refits when the number of features grows (every mean moves),
        and an update that touches more than half of the rows refits (the same work).
        """
        self._check_fitted()
        new = as_csr(X)
        old = self.X_
        if new.shape[0] < old.shape[0] or new.shape[1] < old.shape[1]:
            raise DataError(
                f"{self.name}: update needs the grown matrix (vocabularies are append-only); "
                f"got {new.shape}, the model has {old.shape}"
            )
        if new.nnz == 0:
            raise DataError(f"{self.name}: cannot fit on an empty matrix")
        E_new = self._entities(new)
        E_old = self._entities(sim.pad(old, new.shape))
        n_features_old = self._entities(old).shape[1]
        if self._metric == "pearson" and E_new.shape[1] != n_features_old:
            return self.fit(new)
        delta = (E_new - E_old).tocsr()
        delta.eliminate_zeros()
        n_old = self.similarity_.shape[0]
        touched = np.union1d(np.flatnonzero(np.diff(delta.indptr)), np.arange(n_old, E_new.shape[0]))
        features = np.union1d(E_new[touched].indices, E_old[touched].indices)
        sharing = np.union1d(
            np.flatnonzero(E_new[:, features].getnnz(axis=1)), np.flatnonzero(E_old[:, features].getnnz(axis=1))
        )
        affected = np.union1d(touched, sharing).astype(np.int64)
        if len(affected) > REFIT_FRACTION * E_new.shape[0]:
            return self.fit(new)
        self.X_ = new
        n = E_new.shape[0]
        if len(affected):
            for name, rows in self._rows_state(new, affected).items():
                current = sim.pad(getattr(self, name), (n, n))
                setattr(self, name, sim.replace_rows(current, affected, rows))
        else:
            for name in self._rows_state_names():
                setattr(self, name, sim.pad(getattr(self, name), (n, n)))
        self._after_load()
        return self

    def _rows_state_names(self) -> tuple[str, ...]:
        return ("similarity_",)


#: The learnt-state name the transposed item-knn weights are saved under (see ItemKNN.warm).
_SAVED_WEIGHTS = "weights_by_neighbour_"


class ItemKNN(_Neighbourhood):
    """Item-item KNN: channels like a channel, and channels for a person.

    ``similarity_[i]`` holds the ``neighbors`` channels most similar to channel *i* (never *i*
    itself). A person's score for *i* sums the similarities to *i* of the channels they are
    in, each weighted by their activity there: ``score(u, i) = sum_j x_uj S[i, j]``.
    :meth:`explain` names the person's channels that contribute most.
    """

    name = "item-knn"
    Config: ClassVar[type[AlgorithmConfig]] = ItemKNNConfig  # CoOccurrence narrows it to its own
    axis = "item"

    def _after_load(self) -> None:
        # A saved model carries the transposed weights when they were built before saving
        # (warm()); a fit or update drops them (they follow the similarity).
        self._w: sp.csr_matrix | None = vars(self).pop(_SAVED_WEIGHTS, None)

    def _state(self) -> dict[str, Any]:
        state = super()._state()
        if getattr(self, "_w", None) is not None:
            state[_SAVED_WEIGHTS] = self._w
        return state

    def warm(self) -> Self:
        """Build the transposed weights now: a service's worker warms before it saves, so the
        serving process maps them with the model instead of transposing on its own CPU."""
        self._check_fitted()
        _ = self._weights
        return self

    @property
    def _weights(self) -> sp.csr_matrix:
        """``W[j, i] = S[i, j]``, so that scores are one sparse product ``rows @ W`` (built on
        first use: fitting for similar items alone does not need it)."""
        if getattr(self, "_w", None) is None:
            self._w = self.similarity_.T.tocsr()
        return self._w

    def _person_rows(self, rows: sp.csr_matrix) -> sp.csr_matrix:
        """How a person's row enters the score (their activity; co-occurrence: presence)."""
        return rows

    def score(self, users: np.ndarray, user_items: sp.spmatrix | None = None) -> np.ndarray:
        self._check_fitted()
        users = np.atleast_1d(np.asarray(users, dtype=np.int64))
        rows = self._person_rows(self._rows(users, user_items))
        return (rows @ self._weights).toarray()

    def _rank_keys(self, users: np.ndarray, user_items: sp.spmatrix | None) -> tuple[np.ndarray, None]:
        scores = self.score(users, user_items)
        scores[scores == 0] = -np.inf  # no neighbour among the person's items: no evidence
        return scores, None

    def similar_items(self, items: np.ndarray | list[int], k: int = 10) -> tuple[np.ndarray, np.ndarray]:
        """Each item's most similar items among its kept neighbours, best first."""
        self._check_fitted()
        return _topk.topk_rows(self.similarity_, np.atleast_1d(np.asarray(items, dtype=np.int64)), k)

    def explain(self, user: int, item: int, n: int = 5) -> Explanation:
        """The person's items that contribute most to ``score(user)[item]``:
        ``x_uj S[item, j]`` for each item *j* of theirs."""
        self._check_fitted()
        row = self._person_rows(self.X_[user])
        terms = row.multiply(self.similarity_[item]).tocsr()
        return _explanation(user, item, terms, "item", n)


class UserKNN(_Neighbourhood):
    """User-user KNN: people like you (a friend finder), and what they are into.

    ``similarity_[u]`` holds the ``neighbors`` people most similar to *u* (never *u*). The
    score of item *i* for *u* is the activity in *i* of *u*'s neighbours weighted by their
    similarity: ``score(u, i) = sum_v S[u, v] x_vi``. :meth:`explain` names the similar people
    who contribute most. New people (``user_items`` rows) get their neighbours on the fly.

    How people are compared (defaults measured on Last.fm 2K's declared friendships, the
    ``people-like-you`` protocol; docs/benchmarks.md):

    * ``weighting="iuf"``: items are weighted by inverse user frequency before the similarity
      (:func:`teamrec.data.weighting.iuf`, weights learnt as ``feature_weights_``) -- sharing
      a niche artist or a small channel counts more than sharing the one everybody is in;
    * ``hubness=beta``: *u*'s neighbours are ranked by ``s(u, v) - beta r(v)``, ``r(v)`` the
      mean similarity of *v* to their own ``neighbors`` nearest (``hubness_``,
      :func:`teamrec.algorithms._similarity.hub_corrected`), so people close to everybody do
      not fill every list; the corrected top k is taken among *u*'s ``4 k`` most similar.
      ``similarity_`` holds the corrected (positive) values.

    With either on, :meth:`update` refits (item weights and hubness are global statistics).
    """

    name = "user-knn"
    Config = UserKNNConfig
    axis = "user"

    @property
    def _beta(self) -> float:
        return float(self.config.hubness)  # type: ignore[attr-defined]

    @property
    def _hub_k(self) -> int:
        return self._k if self._k is not None else HUB_NEIGHBOURS

    def _fit(self, X: sp.csr_matrix) -> None:
        if self.config.weighting == "iuf":  # type: ignore[attr-defined]
            self.feature_weights_ = weighting.iuf_weights(X)
        else:
            self.feature_weights_ = np.ones(X.shape[1])
        super()._fit(X)

    def _weighted(self, rows: sp.csr_matrix) -> sp.csr_matrix:
        """Rows as the similarity sees them (items weighted by ``feature_weights_``)."""
        if self.config.weighting == "none":  # type: ignore[attr-defined]
            return sp.csr_matrix(rows)
        return weighting.iuf(rows, self.feature_weights_)

    def _space(self, X: sp.csr_matrix) -> sim.Space:
        return sim.space(self._weighted(X), self._metric, self._shrinkage)

    def _n_candidates(self) -> int | None:
        return None if self._k is None else max(CANDIDATE_FACTOR * self._k, self._hub_k)

    def _rows_state(self, X: sp.csr_matrix, targets: np.ndarray | None) -> dict[str, sp.csr_matrix]:
        if self._beta == 0:
            return super()._rows_state(X, targets)
        candidates = sim.neighbours(self._space(X), self._n_candidates(), threads=self._threads)
        self.hubness_ = sim.hubness(candidates, self._hub_k)
        if targets is not None:
            candidates = candidates[np.asarray(targets, dtype=np.int64)]
        return {"similarity_": sim.hub_corrected(candidates, self.hubness_, self._beta, self._k)}

    def update(self, X: Any) -> Self:
        """Refit when items are weighted or hubness corrected (global statistics move with any
        change); otherwise only the affected rows (:meth:`_Neighbourhood.update`)."""
        if self.config.weighting != "none" or self._beta > 0:  # type: ignore[attr-defined]
            self._check_fitted()
            new = as_csr(X)
            if new.shape[0] < self.X_.shape[0] or new.shape[1] < self.X_.shape[1]:
                raise DataError(
                    f"{self.name}: update needs the grown matrix (vocabularies are append-only); "
                    f"got {new.shape}, the model has {self.X_.shape}"
                )
            return self.fit(new)
        return super().update(X)

    def _after_load(self) -> None:
        self._people: sim.Space | None = None  # built on first use by new people

    def _neighbours_of(self, users: np.ndarray, user_items: sp.spmatrix | None) -> sp.csr_matrix:
        if user_items is None:
            return self.similarity_[users]
        people = getattr(self, "_people", None)
        if people is None:
            people = self._people = self._space(self.X_)
        rows = self._weighted(self._rows(users, user_items))
        if self._beta == 0:
            return sim.neighbours(people, self._k, queries=rows, self_cols=users, threads=self._threads)
        candidates = sim.neighbours(people, self._n_candidates(), queries=rows, self_cols=users,
                                    threads=self._threads)
        return sim.hub_corrected(candidates, self.hubness_, self._beta, self._k)

    def score(self, users: np.ndarray, user_items: sp.spmatrix | None = None) -> np.ndarray:
        self._check_fitted()
        users = np.atleast_1d(np.asarray(users, dtype=np.int64))
        return (self._neighbours_of(users, user_items) @ self.X_).toarray()

    def _rank_keys(self, users: np.ndarray, user_items: sp.spmatrix | None) -> tuple[np.ndarray, None]:
        scores = self.score(users, user_items)
        scores[scores == 0] = -np.inf
        return scores, None

    def similar_users(self, users: np.ndarray | list[int], k: int = 10) -> tuple[np.ndarray, np.ndarray]:
        """Each person's most similar people among their kept neighbours, best first."""
        self._check_fitted()
        return _topk.topk_rows(self.similarity_, np.atleast_1d(np.asarray(users, dtype=np.int64)), k)

    def explain(self, user: int, item: int, n: int = 5) -> Explanation:
        """The similar people who contribute most to ``score(user)[item]``: ``S[u, v] x_vi``."""
        self._check_fitted()
        column = sp.csr_matrix(self.X_[:, item].T)
        terms = self.similarity_[user].multiply(column).tocsr()
        return _explanation(user, item, terms, "user", n)


def _explanation(user: int, item: int, terms: sp.csr_matrix, kind: str, n: int) -> Explanation:
    """An explanation from a 1 x N sparse row of contributions (largest first, ties by index)."""
    terms.eliminate_zeros()
    index, weight = terms.indices, terms.data
    order = np.lexsort((index, -weight))[:n]
    return Explanation(
        user=int(user),
        item=int(item),
        score=float(weight.sum()),
        contributions=[Contribution(kind, int(index[o]), float(weight[o])) for o in order],  # type: ignore[arg-type]
    )
