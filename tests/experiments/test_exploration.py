"""Exploration: the exact show probabilities against Monte Carlo, the rate of explored slots, determinism."""

import numpy as np
import pytest

from teamrec.errors import DataError
from teamrec.experiments.exploration import explore, seed_for, show_probability

RANKED = [f"r{i}" for i in range(8)]
# r6 is ranked but not eligible (e.g. dismissed since): it may be exploited only, never drawn
POOL = RANKED[:6] + [f"x{i}" for i in range(10)] + ["r7"]


def monte_carlo(ranked, pool, k, epsilon, runs):
    counts: dict[str, int] = {}
    explored_slots = 0
    for seed in range(runs):
        items, flags, _ = explore(ranked, pool, k, epsilon, seed)
        explored_slots += int(flags.sum())
        for item in items.tolist():
            counts[item] = counts.get(item, 0) + 1
    return counts, explored_slots


@pytest.mark.parametrize(
    ("ranked", "pool", "k", "epsilon"),
    [
        (RANKED, POOL, 5, 0.33),
        (RANKED[:3], POOL, 5, 0.5),  # a short ranked list: exploit slots past its end are dropped
        (RANKED, POOL[:6], 5, 0.8),  # a small pool: explored slots that cannot be filled are dropped
        (RANKED, POOL, 5, 1.0),
    ],
)
def test_propensities_match_monte_carlo(ranked, pool, k, epsilon):
    runs = 4000
    counts, _ = monte_carlo(ranked, pool, k, epsilon, runs)
    items = sorted(set(ranked) | set(pool))
    exact = show_probability(items, ranked, pool, k, epsilon)
    observed = np.array([counts.get(i, 0) / runs for i in items])
    se = np.sqrt(exact * (1 - exact) / runs)
    assert np.all(np.abs(observed - exact) <= 4.5 * se + 1e-12), list(zip(items, exact, observed, strict=True))
    # the expected list length is the sum of the show probabilities
    mean_length = sum(counts.values()) / runs
    assert mean_length == pytest.approx(exact.sum(), abs=0.05)


def test_explored_share_of_slots_is_epsilon():
    runs, k, epsilon = 2000, 10, 0.33
    pool = [f"i{j}" for j in range(200)]
    _, explored = monte_carlo(pool[:30], pool, k, epsilon, runs)
    share = explored / (runs * k)
    assert share == pytest.approx(epsilon, abs=4 * np.sqrt(epsilon * (1 - epsilon) / (runs * k)))


def test_explored_positions_are_spread_over_the_list():
    pool = [f"i{j}" for j in range(200)]
    per_position = np.zeros(10)
    for seed in range(2000):
        _, flags, _ = explore(pool[:20], pool, 10, 0.3, seed)
        per_position += flags
    share = per_position / 2000
    assert np.all(np.abs(share - 0.3) < 0.045), share


def test_no_exploration_is_the_top_k_with_propensity_one():
    items, flags, p = explore(RANKED, POOL, 5, 0.0, 7)
    assert items.tolist() == RANKED[:5]
    assert not flags.any()
    assert p.tolist() == [1.0] * 5


def test_explored_items_are_eligible_and_never_repeat():
    for seed in range(300):
        items, flags, p = explore(RANKED, POOL, 6, 0.5, seed)
        assert len(set(items.tolist())) == len(items)
        assert set(items[flags].tolist()) <= set(POOL)
        # exploited items keep their rank order and are the top of the ranked list
        exploited = items[~flags].tolist()
        assert exploited == RANKED[: len(exploited)]
        assert np.all((p > 0) & (p <= 1))


def test_deterministic_given_the_seed_and_seeded_by_recommendation_id():
    a = explore(RANKED, POOL, 5, 0.5, "rec-123")
    b = explore(RANKED, POOL, 5, 0.5, seed_for("rec-123"))
    for x, y in zip(a, b, strict=True):
        assert np.array_equal(x, y)
    assert seed_for("rec-123") == seed_for("rec-123") != seed_for("rec-124")
    different = [explore(RANKED, POOL, 5, 0.5, f"rec-{i}")[0].tolist() for i in range(20)]
    assert len({tuple(d) for d in different}) > 5


def test_bad_arguments():
    with pytest.raises(DataError, match="epsilon must be in"):
        explore(RANKED, POOL, 5, 1.5, 0)
    with pytest.raises(DataError, match="k must be a non-negative integer"):
        explore(RANKED, POOL, -1, 0.1, 0)
    with pytest.raises(DataError, match="repeated item"):
        explore(["a", "a"], POOL, 2, 0.1, 0)
    items, flags, p = explore(RANKED, POOL, 0, 0.5, 0)
    assert len(items) == len(flags) == len(p) == 0


def test_integer_item_indices_take_the_fast_path_with_the_same_answers():
    ranked = np.array([3, 1, 4, 0, 9, 2, 6])
    pool = np.arange(40)
    names = np.array([f"item{i}" for i in range(40)], dtype=object)
    for seed in range(50):
        items, flags, p = explore(ranked, pool, 5, 0.4, seed)
        named, named_flags, named_p = explore(names[ranked], names[pool], 5, 0.4, seed)
        assert names[items].tolist() == named.tolist()
        assert np.array_equal(flags, named_flags) and np.allclose(p, named_p)
    with pytest.raises(DataError, match="1 repeated item"):
        explore(np.array([1, 1]), pool, 2, 0.1, 0)
    with pytest.raises(DataError, match="1 repeated item"):
        explore(ranked, np.array([-5, -5, 1]), 2, 0.1, 0)
