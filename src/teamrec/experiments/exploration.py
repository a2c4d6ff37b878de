"""Epsilon-greedy exploration of one recommendation list, with exact show probabilities.

The policy hook calls :func:`explore` with the policy's ranked list and the person's eligible
pool (seen, private and dismissed items already removed). Each of the ``k`` slots independently
*explores* with probability ``epsilon``; with ``m`` explored slots:

* the other ``k - m`` slots take the top ``k - m`` ranked items, in rank order (the *exploited*
  items ``E_m``);
* the ``m`` explored slots take ``m`` items drawn uniformly without replacement from the pool
  minus ``E_m`` (``N_m`` candidates), in random order. Explored slots are random positions.

So an item is shown with probability (the *propensity*, logged with every impression)::

    P(i shown) = sum_m Binom(m; k, epsilon) * ( [rank(i) < e_m]
                                              + [rank(i) >= e_m and i in pool] * min(m, N_m) / N_m )

with ``e_m = min(k - m, len(ranked))`` and ``N_m = |pool| - |pool ∩ ranked[:e_m]|``. An item of
the ranked list can be shown either way (exploited when few slots explore, drawn when many do);
both are counted. When the ranked list or the pool is short, the slots that cannot be filled
are dropped (the list is shorter), which the formula accounts for through ``e_m`` and
``min(m, N_m)``. The result is deterministic given ``seed`` (derive it from the recommendation id
with :func:`seed_for`) for a given NumPy version.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import special

from teamrec.errors import DataError
from teamrec.experiments._hash import seed_of


def seed_for(recommendation_id: str) -> int:
    """The exploration seed of one recommendation: stable, so a logged list can be re-derived."""
    return int(seed_of("explore", str(recommendation_id)))


def _unique(values: Any, name: str) -> np.ndarray:
    """The items as a 1-d array: integer item indices stay integers (the fast path), others objects."""
    array = np.asarray(values)
    if array.dtype.kind not in "iu":
        array = np.asarray(values, dtype=object)
    array = array.ravel()
    if array.dtype.kind in "iu":
        if len(array) and array.min() >= 0 and array.max() < 8 * len(array) + 1024:  # item indices: O(n), no sort
            distinct = int(np.count_nonzero(np.bincount(array)))
        else:
            distinct = len(np.unique(array))
    else:
        distinct = len(set(array.tolist()))
    if distinct != len(array):
        raise DataError(f"{len(array) - distinct} repeated item(s) in the {name} list", field=name)
    return array


def _isin(values: np.ndarray, universe: np.ndarray) -> np.ndarray:
    """Membership, vectorised for integer items, through a set otherwise (the lists are per request)."""
    if values.dtype.kind in "iu" and universe.dtype.kind in "iu":
        return np.isin(values, universe)
    members = set(universe.tolist())
    return np.fromiter((v in members for v in values.tolist()), dtype=bool, count=len(values))


def _rank(values: np.ndarray, ranked: np.ndarray) -> np.ndarray:
    """Each value's 0-based place in ``ranked``, ``inf`` when absent."""
    if values.dtype.kind in "iu" and ranked.dtype.kind in "iu" and len(ranked):
        order = np.argsort(ranked, kind="stable")
        at = np.clip(np.searchsorted(ranked[order], values), 0, len(ranked) - 1)
        return np.where(ranked[order][at] == values, order[at].astype(np.float64), np.inf)
    place = {v: float(i) for i, v in enumerate(ranked.tolist())}
    return np.fromiter((place.get(v, np.inf) for v in values.tolist()), dtype=np.float64, count=len(values))


def _binomial_pmf(k: int, p: float) -> np.ndarray:
    """``Binom(m; k, p)`` for ``m = 0..k``, in log space (exact at ``p = 0`` and ``p = 1``)."""
    m = np.arange(k + 1, dtype=np.float64)
    log_comb = special.gammaln(k + 1) - special.gammaln(m + 1) - special.gammaln(k - m + 1)
    return np.exp(log_comb + special.xlogy(m, p) + special.xlog1py(k - m, -p))


def _check(k: int, epsilon: float) -> None:
    if not isinstance(k, int | np.integer) or k < 0:
        raise DataError(f"k must be a non-negative integer, got {k!r}", field="k")
    if not 0.0 <= float(epsilon) <= 1.0:
        raise DataError(f"epsilon must be in [0, 1], got {epsilon!r}", field="epsilon")


def show_probability(items: Any, ranked: Any, pool: Any, k: int, epsilon: float) -> np.ndarray:
    """The exact probability that :func:`explore` shows each of ``items`` (see the module docstring)."""
    _check(k, epsilon)
    ranked = _unique(ranked, "ranked")
    pool = _unique(pool, "pool")
    return _show_probability(_unique(items, "items"), ranked, pool, k, float(epsilon))


def _show_probability(items: np.ndarray, ranked: np.ndarray, pool: np.ndarray, k: int, epsilon: float) -> np.ndarray:
    m = np.arange(k + 1)
    pmf = _binomial_pmf(k, epsilon)
    exploit_len = np.minimum(k - m, len(ranked))  # e_m
    ranked_in_pool = np.concatenate([[0], np.cumsum(_isin(ranked, pool))])
    candidates = len(pool) - ranked_in_pool[exploit_len]  # N_m
    with np.errstate(invalid="ignore", divide="ignore"):
        drawn = np.where(candidates > 0, np.minimum(m, candidates) / candidates, 0.0)  # P(a candidate is drawn | m)

    rank = _rank(items, ranked)
    in_pool = _isin(items, pool)
    exploited = rank[None, :] < exploit_len[:, None]  # (k+1, items)
    p = exploited + (~exploited & in_pool[None, :]) * drawn[:, None]
    return np.clip(pmf @ p, 0.0, 1.0)


def explore(
    ranked_items: Any, eligible_pool: Any, k: int, epsilon: float, seed: int | str
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Fill ``k`` slots epsilon-greedily: ``(items, explored_flags, propensities)`` in shown order.

    ``ranked_items`` is the policy's list, best first (at least ``k`` long for full lists);
    ``eligible_pool`` every item this person may be shown. ``seed``: an int, or a string such as
    the recommendation id. With ``epsilon = 0`` this is the top ``k`` with propensity 1.
    """
    _check(k, epsilon)
    ranked = _unique(ranked_items, "ranked")
    pool = _unique(eligible_pool, "pool")
    rng = np.random.default_rng(seed_for(seed) if isinstance(seed, str) else int(seed))
    flags = rng.random(k) < float(epsilon)
    explore_slots = np.flatnonzero(flags)
    exploit_slots = np.flatnonzero(~flags)
    exploited = ranked[: min(len(exploit_slots), len(ranked))]
    candidates = pool[~_isin(pool, exploited)] if len(exploited) else pool
    n_draws = min(len(explore_slots), len(candidates))
    drawn = candidates[rng.choice(len(candidates), size=n_draws, replace=False)] if n_draws else candidates[:0]

    slots = np.concatenate([exploit_slots[: len(exploited)], explore_slots[:n_draws]])
    shown = np.concatenate([exploited, drawn])
    explored = np.concatenate([np.zeros(len(exploited), bool), np.ones(n_draws, bool)])
    order = np.argsort(slots, kind="stable")
    shown, explored = shown[order], explored[order]
    return shown, explored, _show_probability(shown, ranked, pool, k, float(epsilon))


class EpsilonGreedy:
    """The policy's exploration hook (:data:`teamrec.policy.Explorer`) for one arm's ``epsilon``:
    :func:`explore` over the ranked list and the person's eligible pool, seeded from the
    request's generator (the service seeds it with the recommendation id)."""

    def __init__(self, epsilon: float) -> None:
        _check(1, epsilon)
        self.epsilon = float(epsilon)

    def __call__(
        self, ranked_items: np.ndarray, ranked_scores: np.ndarray, eligible_pool: np.ndarray, k: int,
        rng: np.random.Generator,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        seed = int(rng.integers(0, 2**63 - 1))
        return explore(np.asarray(ranked_items, dtype=np.int64), np.asarray(eligible_pool, dtype=np.int64), k,
                       self.epsilon, seed)

    def __repr__(self) -> str:
        return f"EpsilonGreedy({self.epsilon})"
