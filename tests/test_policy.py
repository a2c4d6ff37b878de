"""The one recommendation policy: mask, rank, fill, and the exploration hook (issue 10)."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from teamrec.algorithms.registry import create
from teamrec.data.matrix import InteractionMatrix
from teamrec.data.vocab import Vocab
from teamrec.policy import DEFAULT_POLICY, RecommendationPolicy, no_exploration
from teamrec.recommender import TeamModel
from teamrec.testing import checkerboard


def team(algorithm: str = "item-knn", **params) -> TeamModel:
    X = checkerboard(n_users=20, n_items=16, density=0.4, seed=4)
    data = InteractionMatrix(matrix=X, users=Vocab([f"u{i}" for i in range(20)], kind="user"),
                             items=Vocab([f"i{i}" for i in range(16)], kind="item"))
    return TeamModel(create(algorithm, params).fit(data), data)


def last_slot_random(ranked, scores, pool, k, rng):
    """Epsilon-greedy's shape: the last slot becomes a random eligible item not in the list."""
    items = list(ranked[:k])
    rest = np.setdiff1d(pool, items)
    explored = np.zeros(len(items), dtype=bool)
    prop = np.ones(len(items))
    if len(rest) and items:
        items[-1] = int(rng.choice(rest))
        explored[-1] = True
        prop[-1] = 1.0 / len(rest)
    return np.asarray(items), explored, prop


def test_no_exploration_keeps_the_ranking():
    items, explored, prop = no_exploration(np.array([3, 1, 2]), np.array([3.0, 2.0, 1.0]), np.arange(5), 2, None)
    assert items.tolist() == [3, 1] and not explored.any() and prop.tolist() == [1.0, 1.0]


def test_the_exploration_hook_is_applied_and_reported():
    model = team()
    policy = RecommendationPolicy(explore=last_slot_random)
    plain = model.recommend("u0", 5)
    explored = model.recommend("u0", 5, policy=policy, rng=0)
    assert [r.id for r in explored[:4]] == [r.id for r in plain[:4]]
    last = explored[-1]
    assert last.explored and 0 < last.propensity < 1 and last.position == 5
    assert all(not r.explored and r.propensity == 1.0 for r in explored[:4])
    seen = set(model.data.matrix[0].indices)
    assert int(last.id[1:]) not in seen  # exploration draws only from eligible items
    again = model.recommend("u0", 5, policy=policy, rng=0)
    assert [r.id for r in again] == [r.id for r in explored]  # seeded: reproducible


def test_hidden_items_never_reach_the_exploration_pool():
    model = team()
    hidden = np.zeros(16, dtype=bool)
    hidden[1::2] = True  # every odd item hidden
    policy = RecommendationPolicy(explore=last_slot_random)
    for seed in range(20):
        ranking = policy.rank(model.algorithm, model._fallback, np.array([0]), 6, hidden=hidden[None, :], rng=seed)
        shown = ranking.items[0][ranking.items[0] >= 0]
        assert not (shown % 2).any()


def test_fill_completes_short_lists_and_marks_them():
    model = team("item-knn", neighbors=1)
    users = np.arange(20)
    raw, _ = model.algorithm.recommend(users, 8)
    hidden = sp.csr_matrix((20, 16), dtype=bool)
    ranking = DEFAULT_POLICY.rank(model.algorithm, model._fallback, users, 8, hidden=hidden)
    assert (raw < 0).any()
    assert ((ranking.items >= 0).sum(axis=1) >= (raw >= 0).sum(axis=1)).all()
    assert ranking.fallback.any() and not ranking.fallback[raw >= 0].any()
    for u in users:  # no duplicates, nothing seen
        shown = ranking.items[u][ranking.items[u] >= 0]
        assert len(set(shown)) == len(shown) and not set(shown) & set(model.data.matrix[u].indices)
