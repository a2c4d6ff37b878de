"""Statistics: Wilson against published values, delta-method coverage, SRM, IPS unbiasedness."""

import numpy as np
import pytest

from teamrec.errors import DataError
from teamrec.experiments.exploration import explore, show_probability
from teamrec.experiments.stats import (
    minimum_detectable_difference,
    off_policy_ctr,
    ratio_delta,
    ratio_difference,
    srm_check,
    wilson_interval,
)


def test_wilson_matches_newcombe_1998_table_1():
    """Newcombe (1998), Stat. Med. 17:857-872, Table I, method 3 (score interval without continuity correction)."""
    low, high = wilson_interval([81, 15, 0, 1], [263, 148, 20, 29])
    assert np.round(low, 4).tolist() == [0.2553, 0.0624, 0.0, 0.0061]
    assert np.round(high, 4).tolist() == [0.3662, 0.1605, 0.1611, 0.1718]


def test_wilson_edge_cases():
    low, high = wilson_interval([0, 5, 0], [0, 5, 1])
    assert np.isnan(low[0]) and np.isnan(high[0])
    assert high[1] == 1.0 and low[1] < 1.0
    assert low[2] == 0.0
    with pytest.raises(DataError, match="between 0 and trials"):
        wilson_interval([3], [2])
    with pytest.raises(DataError, match="confidence"):
        wilson_interval([1], [2], confidence=1.5)


def _per_person(rng, reps, units, a, b):
    """Per-person impressions (1 + Poisson(6)) and clicks (Binomial with a Beta(a, b) CTR per person)."""
    n = 1 + rng.poisson(6, size=(reps, units))
    p = rng.beta(a, b, size=(reps, units))
    return rng.binomial(n, p), n


@pytest.mark.parametrize(("a1", "b1"), [(2, 8), (3, 8)])
def test_delta_method_interval_covers_the_true_difference_95_percent(a1, b1):
    """Heterogeneous persons: the per-person delta method keeps 95% coverage (the truth is E[p1] - E[p0])."""
    rng = np.random.default_rng(12)
    reps, units = 3000, 400
    c0, n0 = _per_person(rng, reps, units, 2, 8)
    c1, n1 = _per_person(rng, reps, units, a1, b1)
    r0, v0 = ratio_delta(c0, n0)
    r1, v1 = ratio_delta(c1, n1)
    truth = a1 / (a1 + b1) - 0.2
    se = np.sqrt(v0 + v1)
    covered = np.abs((r1 - r0) - truth) <= 1.959964 * se
    assert covered.mean() == pytest.approx(0.95, abs=0.015)
    # a binomial interval that treats impressions as independent undercovers on the same data
    pooled0, pooled1 = c0.sum(1) / n0.sum(1), c1.sum(1) / n1.sum(1)
    naive = np.sqrt(pooled0 * (1 - pooled0) / n0.sum(1) + pooled1 * (1 - pooled1) / n1.sum(1))
    assert (np.abs((r1 - r0) - truth) <= 1.959964 * naive).mean() < 0.93


def test_ratio_difference_p_value_and_interval_agree():
    rng = np.random.default_rng(4)
    c0, n0 = _per_person(rng, 1, 2000, 2, 8)
    c1, n1 = _per_person(rng, 1, 2000, 3, 8)
    d = ratio_difference(c0[0], n0[0], c1[0], n1[0])
    assert d.difference == pytest.approx(c1.sum() / n1.sum() - c0.sum() / n0.sum())
    assert d.low > 0 and d.p_value < 0.05  # the interval excludes 0 exactly when p < 0.05
    same = ratio_difference(c0[0], n0[0], c0[0], n0[0])
    assert same.difference == 0 and same.p_value == pytest.approx(1.0)
    one = ratio_difference([1], [3], [2], [3])
    assert np.isnan(one.std_error) and np.isnan(one.p_value)


def test_minimum_detectable_difference_is_found_with_the_stated_power():
    """2.80 standard errors at 95% and 80%; and a true difference of that size, simulated with
    per-person clicks and tested with the delta-method interval, is found in about 80% of runs."""
    assert float(minimum_detectable_difference(1.0)) == pytest.approx(1.959964 + 0.841621, abs=1e-5)
    assert float(minimum_detectable_difference(0.01, power=0.5)) == pytest.approx(0.0196, abs=1e-4)
    people, shown, base, runs = 200, 20, 0.10, 4000
    se = np.sqrt(2 * base * (1 - base) / (people * shown))
    lift = float(minimum_detectable_difference(se))
    rng = np.random.default_rng(7)
    control = rng.binomial(shown, base, size=(runs, people))
    treated = rng.binomial(shown, base + lift, size=(runs, people))
    impressions = np.full((runs, people), shown)
    r0, v0 = ratio_delta(control, impressions, axis=1)
    r1, v1 = ratio_delta(treated, impressions, axis=1)
    found = (r1 - r0) / np.sqrt(v0 + v1) > 1.959964
    assert found.mean() == pytest.approx(0.80, abs=0.03)
    with pytest.raises(DataError, match="power"):
        minimum_detectable_difference(0.1, power=1.0)
    with pytest.raises(DataError, match="negative"):
        minimum_detectable_difference(-0.1)


def test_srm_fires_on_a_skewed_log_and_stays_silent_on_a_balanced_one():
    weights = {"control": 1.0, "knn": 1.0}
    skewed = srm_check({"control": 5200, "knn": 4800}, weights)
    assert skewed.flagged and skewed.p_value < 0.001
    balanced = srm_check({"control": 5030, "knn": 4970}, weights)
    assert not balanced.flagged and balanced.p_value > 0.5
    # against unequal weights, what is balanced is the 1:2 split
    assert not srm_check({"a": 3330, "b": 6670}, {"a": 1, "b": 2}).flagged
    assert srm_check({"a": 5000, "b": 5000}, {"a": 1, "b": 2}).flagged
    # an arm with no units at all is the worst mismatch
    assert srm_check({"a": 1000}, {"a": 1, "b": 1}).flagged
    with pytest.raises(DataError, match="not in the experiment: c"):
        srm_check({"a": 10, "c": 3}, {"a": 1, "b": 1})


def test_srm_false_alarm_rate_under_correct_assignment():
    rng = np.random.default_rng(5)
    alarms = 0
    for _ in range(2000):
        n = rng.multinomial(10_000, [0.25, 0.5, 0.25])
        alarms += srm_check(dict(zip("abc", n.tolist(), strict=True)), {"a": 1, "b": 2, "c": 1}).flagged
    assert alarms <= 8  # 2 expected at alpha = 0.001


def test_ips_is_unbiased_for_a_target_policy_in_simulation():
    """Log under epsilon-greedy over one ranking; estimate the CTR of the pure top-k of another ranking."""
    rng = np.random.default_rng(7)
    n_items, k, epsilon = 30, 5, 0.4
    pool = np.arange(n_items)
    click_p = rng.uniform(0.0, 0.5, size=n_items)  # a click on an item does not depend on the rest of the list
    logging_rank = np.arange(n_items)  # the logging policy ranks by index
    target = np.argsort(-click_p, kind="stable")[:k]  # the target shows the k best items
    truth = click_p[target].mean()
    propensities = show_probability(pool, logging_rank, pool, k, epsilon)
    assert propensities[target].min() > 0  # every target item can be logged

    estimates, snips = [], []
    for rep in range(80):
        ids, items, shown_p = [], [], []
        for r in range(250):
            shown, _, p = explore(logging_rank, pool, k, epsilon, rep * 1000 + r)
            ids += [r] * len(shown)
            items += shown.tolist()
            shown_p += p.tolist()
        items_arr = np.asarray(items)
        clicks = rng.random(len(items_arr)) < click_p[items_arr]
        in_target = np.isin(items_arr, target).astype(float)
        est = off_policy_ctr(ids, clicks, shown_p, in_target, target_size=k)
        estimates.append(est.ips)
        snips.append(est.snips)
    estimates = np.asarray(estimates)
    se = estimates.std(ddof=1) / np.sqrt(len(estimates))
    assert abs(estimates.mean() - truth) < 4 * se, (estimates.mean(), truth, se)
    assert abs(np.mean(snips) - truth) < 0.02
    # and the logged policy's own CTR is far from the target's: the estimate is not the logged CTR
    assert click_p[:k].mean() < truth - 0.1


def test_off_policy_input_checks():
    with pytest.raises(DataError, match="propensities must be in"):
        off_policy_ctr([1], [1], [0.0], [1.0])
    with pytest.raises(DataError, match="target probabilities"):
        off_policy_ctr([1], [1], [0.5], [2.0])
    est = off_policy_ctr([1, 1, 2, 2], [1, 0, 0, 1], [1.0, 1.0, 1.0, 1.0], [1, 1, 1, 1])
    assert est.ips == est.snips == 0.5
    assert est.recommendations == 2
