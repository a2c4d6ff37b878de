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
import pandas as pd
from scipy import stats

from teamrec.errors import DataError
from teamrec.experiments._hash import seed_of


def seed_for(recommendation_id: str) -> int:
    """The exploration seed of one recommendation: stable, so a logged list can be re-derived."""
    return int(seed_of("explore", str(recommendation_id)))


def _unique(values: Any, name: str) -> np.ndarray:
    array = np.asarray(values, dtype=object).ravel()
    unique = pd.unique(array)
    if len(unique) != len(array):
        raise DataError(f"{len(array) - len(unique)} repeated item(s) in the {name} list", field=name)
    return array


def _check(k: int, epsilon: float) -> None:
    if not isinstance(k, int | np.integer) or k < 0:
        raise DataError(f"k must be a non-negative integer, got {k!r}", field="k")
    if not 0.0 <= float(epsilon) <= 1.0:
        raise DataError(f"epsilon must be in [0, 1], got {epsilon!r}", field="epsilon")


def show_probability(items: Any, ranked: Any, pool: Any, k: int, epsilon: float) -> np.ndarray:
    """The exact probability that :func:`explore` shows each of ``items`` (see the module docstring)."""
    _check(k, epsilon)
    items = np.asarray(items, dtype=object).ravel()
    ranked = _unique(ranked, "ranked")
    pool = _unique(pool, "pool")
    m = np.arange(k + 1)
    pmf = stats.binom.pmf(m, k, float(epsilon))
    exploit_len = np.minimum(k - m, len(ranked))  # e_m
    ranked_in_pool = np.concatenate([[0], np.cumsum(pd.Index(pool).get_indexer(ranked) >= 0)])
    candidates = len(pool) - ranked_in_pool[exploit_len]  # N_m
    with np.errstate(invalid="ignore", divide="ignore"):
        drawn = np.where(candidates > 0, np.minimum(m, candidates) / candidates, 0.0)  # P(a candidate is drawn | m)

    rank = pd.Index(ranked).get_indexer(items).astype(np.float64)
    rank[rank < 0] = np.inf
    in_pool = pd.Index(pool).get_indexer(items) >= 0
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
    candidates = pool[pd.Index(exploited).get_indexer(pool) < 0] if len(exploited) else pool
    n_draws = min(len(explore_slots), len(candidates))
    drawn = candidates[rng.choice(len(candidates), size=n_draws, replace=False)] if n_draws else candidates[:0]

    slots = np.concatenate([exploit_slots[: len(exploited)], explore_slots[:n_draws]])
    shown = np.concatenate([exploited, drawn]).astype(object)
    explored = np.concatenate([np.zeros(len(exploited), bool), np.ones(n_draws, bool)])
    order = np.argsort(slots, kind="stable")
    shown, explored = shown[order], explored[order]
    return shown, explored, show_probability(shown, ranked, pool, k, epsilon)
