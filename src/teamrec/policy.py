"""The one recommendation policy: from a fitted algorithm to the list a person is served.

Every surface that shows recommendations (the HTTP API, the CLI, the Slack app, the batch job's
``recommend_many`` and offline evaluation) gets its list from :meth:`RecommendationPolicy.rank`,
so what is measured is what is served. For each person the policy, in order:

1. masks what they may not or need not see: what they already have (their stored row, or a
   fresh row folded in at request time through ``user_items``), items hidden from them
   (private channels they are not in, what they dismissed or left) and non-candidates;
2. ranks with the algorithm's own ``recommend`` (the contract: its scores and tie-break);
3. fills the slots the algorithm has no evidence for with popular items they may see
   (neighbourhood models score only items near a person's own), marked as ``fallback``;
4. hands the ranked list to the *exploration hook* (:data:`Explorer`), which may swap some
   slots for other eligible items; it returns, per slot, whether the item was explored and the
   probability that it was shown there (the propensity), for off-policy estimates later.
   The default, :func:`no_exploration`, keeps the ranking (propensity 1).

The answer, a :class:`Ranking`, is batched (one row per person); :meth:`Ranking.slots` turns
one row into :class:`Slot` records (item, position, score, fallback, explored, propensity):
exactly what an impression log needs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from teamrec.algorithms.base import Algorithm

#: ``explore(ranked_items, ranked_scores, eligible_pool, k, rng) -> (items, explored, propensities)``:
#: ``ranked_items``/``ranked_scores`` are one person's ranked list (best first, no padding),
#: ``eligible_pool`` every item index they may be shown (not seen, not hidden, a candidate);
#: the hook returns at most ``k`` item indices, a boolean per slot (explored or not) and the
#: probability each shown item had of being shown in that slot.
Explorer = Callable[
    [np.ndarray, np.ndarray, np.ndarray, int, np.random.Generator],
    tuple[np.ndarray, np.ndarray, np.ndarray],
]


def no_exploration(
    ranked_items: np.ndarray, ranked_scores: np.ndarray, eligible_pool: np.ndarray, k: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The default hook: the ranked list as it is, nothing explored, every propensity 1."""
    items = np.asarray(ranked_items[:k], dtype=np.int64)
    return items, np.zeros(len(items), dtype=bool), np.ones(len(items))


@dataclass(frozen=True)
class Slot:
    """One served item: its index, 1-based position, score and how it got there."""

    item: int
    position: int
    score: float
    fallback: bool = False
    explored: bool = False
    propensity: float = 1.0


@dataclass
class Ranking:
    """The policy's answer for ``len(users)`` people: arrays ``(n, k)``, items padded with -1."""

    items: np.ndarray
    scores: np.ndarray
    fallback: np.ndarray
    explored: np.ndarray
    propensity: np.ndarray

    def slots(self, row: int = 0) -> list[Slot]:
        """One person's answer as records, best first."""
        valid = np.flatnonzero(self.items[row] >= 0)
        return [
            Slot(
                item=int(self.items[row, j]),
                position=int(n + 1),
                score=float(self.scores[row, j]),
                fallback=bool(self.fallback[row, j]),
                explored=bool(self.explored[row, j]),
                propensity=float(self.propensity[row, j]),
            )
            for n, j in enumerate(valid)
        ]


class RecommendationPolicy:
    """Mask, rank, fill, explore (see the module docstring). Immutable and thread-safe."""

    def __init__(self, *, fill: bool = True, explore: Explorer = no_exploration) -> None:
        self.fill = fill
        self.explore = explore

    def rank(
        self,
        algorithm: Algorithm,
        fallback: Algorithm | None,
        users: np.ndarray,
        k: int,
        *,
        hidden: sp.spmatrix | np.ndarray | None = None,
        candidates: np.ndarray | None = None,
        user_items: sp.spmatrix | None = None,
        exclude_seen: bool = True,
        rng: np.random.Generator | int | None = None,
    ) -> Ranking:
        """The served lists of ``users`` (indices; with ``user_items``, one fresh row each).

        ``hidden``: a ``(len(users), n_items)`` mask (sparse or dense) of items never to show;
        ``candidates``: item indices to rank among (None: all); ``fallback``: the popularity
        model that fills empty slots (None or ``algorithm`` itself: no fill).
        """
        users = np.atleast_1d(np.asarray(users, dtype=np.int64))
        items, scores = algorithm.recommend(
            users, k, exclude_seen=exclude_seen, candidates=candidates, exclude=hidden, user_items=user_items
        )
        from_fallback = np.zeros(items.shape, dtype=bool)
        if self.fill and fallback is not None and fallback is not algorithm and (items < 0).any():
            items, scores, from_fallback = self._fill(
                fallback, users, k, items, scores, hidden, candidates, user_items, exclude_seen
            )
        explored = np.zeros(items.shape, dtype=bool)
        propensity = np.where(items >= 0, 1.0, np.nan)
        if self.explore is not no_exploration:
            items, scores, from_fallback, explored, propensity = self._explore(
                algorithm, users, k, items, scores, from_fallback, hidden, candidates, user_items, exclude_seen, rng
            )
        return Ranking(items=items, scores=scores, fallback=from_fallback, explored=explored, propensity=propensity)

    # -- popularity fill -------------------------------------------------------------------
    def _fill(self, fallback, users, k, items, scores, hidden, candidates, user_items, exclude_seen):
        n, n_items = len(users), fallback.n_items
        rows, cols = np.nonzero(items >= 0)
        taken = sp.csr_matrix((np.ones(len(rows), dtype=bool), (rows, items[rows, cols])), shape=(n, n_items))
        mask = taken if hidden is None else (taken + _as_sparse(hidden, n, n_items)).astype(bool)
        more, more_scores = fallback.recommend(
            users, k, exclude_seen=exclude_seen, candidates=candidates, exclude=mask, user_items=user_items
        )
        # Per row: the model's items first, then the fill, the first k valid ones (vectorised).
        all_items = np.concatenate([items, more], axis=1)
        all_scores = np.concatenate([scores, more_scores], axis=1)
        all_fill = np.concatenate([np.zeros_like(items, dtype=bool), np.ones_like(more, dtype=bool)], axis=1)
        order = np.argsort(all_items < 0, axis=1, kind="stable")[:, :k]
        pick = np.take_along_axis
        chosen = pick(all_items, order, 1)
        return chosen, pick(all_scores, order, 1), pick(all_fill, order, 1) & (chosen >= 0)

    # -- the exploration hook --------------------------------------------------------------
    def _explore(
        self, algorithm, users, k, items, scores, from_fallback, hidden, candidates, user_items, exclude_seen, rng
    ):
        gen = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
        n, n_items = len(users), algorithm.n_items
        out = np.full((n, k), -1, dtype=np.int64)
        out_scores = np.full((n, k), np.nan)
        out_fill = np.zeros((n, k), dtype=bool)
        out_explored = np.zeros((n, k), dtype=bool)
        out_prop = np.full((n, k), np.nan)
        hidden_rows = None if hidden is None else _as_sparse(hidden, n, n_items).tocsr()
        for r, u in enumerate(users):
            eligible = np.ones(n_items, dtype=bool)
            if exclude_seen:
                seen = (user_items[r] if user_items is not None else algorithm.X_[u]).tocsr()
                eligible[seen.indices[seen.data != 0]] = False
            if hidden_rows is not None:
                eligible[hidden_rows[r].indices] = False
            if candidates is not None:
                allowed = np.zeros(n_items, dtype=bool)
                allowed[np.asarray(candidates)] = True
                eligible &= allowed
            valid = items[r] >= 0
            ranked, ranked_scores = items[r][valid], scores[r][valid]
            chosen, explored, prop = self.explore(ranked, ranked_scores, np.flatnonzero(eligible), k, gen)
            chosen = np.asarray(chosen, dtype=np.int64)[:k]
            m = len(chosen)
            score_of = dict(zip(ranked.tolist(), ranked_scores.tolist(), strict=True))
            fill_of = dict(zip(ranked.tolist(), from_fallback[r][valid].tolist(), strict=True))
            out[r, :m] = chosen
            # An explored item from beyond the ranked list has no score in it: 0 (a number the
            # API can serve; its ``explored`` flag says why it is there).
            out_scores[r, :m] = [score_of.get(int(i), 0.0) for i in chosen]
            out_fill[r, :m] = [fill_of.get(int(i), False) for i in chosen]
            out_explored[r, :m] = np.asarray(explored, dtype=bool)[:m]
            out_prop[r, :m] = np.asarray(prop, dtype=np.float64)[:m]
        return out, out_scores, out_fill, out_explored, out_prop


def _as_sparse(mask: sp.spmatrix | np.ndarray, n: int, n_items: int) -> sp.csr_matrix:
    if sp.issparse(mask):
        return sp.csr_matrix(mask, dtype=bool)
    dense = np.asarray(mask, dtype=bool)
    return sp.csr_matrix(np.broadcast_to(dense, (n, n_items)))


#: The policy every surface uses unless it is given another (e.g. one with exploration).
DEFAULT_POLICY = RecommendationPolicy()


def served_items(
    algorithm: Algorithm,
    users: np.ndarray,
    k: int,
    *,
    hidden: sp.spmatrix | np.ndarray | None = None,
    policy: RecommendationPolicy | None = None,
) -> np.ndarray:
    """The item indices ``users`` are served (``(len(users), k)``, -1 padded): the policy's
    list with its popularity fill fitted on the algorithm's own training matrix. What offline
    evaluation ranks, so it measures what people get."""
    from teamrec.algorithms.popularity import Popularity

    fallback = algorithm if isinstance(algorithm, Popularity) else Popularity().fit(algorithm.X_)
    return (policy or DEFAULT_POLICY).rank(algorithm, fallback, users, k, hidden=hidden).items
