"""Property tests: any input either works or raises teamrec's own error; exploration's invariants always hold."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from teamrec.errors import TeamrecError
from teamrec.experiments.exploration import explore, show_probability
from teamrec.experiments.settings import Experiment, parse_experiment

ARM = st.fixed_dictionaries(
    {"name": st.text(min_size=0, max_size=5), "algorithm": st.sampled_from(["popularity", "ease", "nope"])},
    optional={
        "weight": st.one_of(st.floats(allow_nan=True), st.integers(-2, 3), st.text(max_size=2)),
        "epsilon": st.one_of(st.floats(-1, 2), st.none()),
        "params": st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
        "extra": st.integers(),
    },
)
SETTINGS = st.fixed_dictionaries(
    {"name": st.text(max_size=8), "arms": st.lists(ARM, max_size=3), "start": st.sampled_from(
        ["2026-12-01T00:00:00Z", "2026-12-01T00:00:00", "not a time", 5])},
    optional={
        "rollout": st.one_of(st.floats(-1, 2), st.text(max_size=2)),
        "unit": st.sampled_from(["person", "team", "company"]),
        "end": st.sampled_from(["2026-11-01T00:00:00Z", "2027-01-01T00:00:00Z", None]),
        "salt": st.text(max_size=4),
    },
)


@settings(max_examples=100, deadline=None)
@given(SETTINGS)
def test_settings_parse_or_raise_config_error(data):
    try:
        experiment = parse_experiment(data)
    except TeamrecError as exc:
        assert "\n" not in str(exc)
    else:
        assert isinstance(experiment, Experiment)
        assert abs(sum(experiment.weights) - 1) < 1e-9


@settings(max_examples=100, deadline=None)
@given(
    n_ranked=st.integers(0, 12),
    n_pool=st.integers(0, 20),
    overlap=st.integers(0, 12),
    k=st.integers(0, 10),
    epsilon=st.floats(0, 1),
    seed=st.integers(0, 2**32),
)
def test_explore_invariants(n_ranked, n_pool, overlap, k, epsilon, seed):
    ranked = np.arange(n_ranked)
    pool = np.arange(n_ranked - min(overlap, n_ranked), n_ranked - min(overlap, n_ranked) + n_pool)
    items, flags, p = explore(ranked, pool, k, epsilon, seed)
    assert len(items) == len(flags) == len(p) <= k
    assert len(set(items.tolist())) == len(items)
    assert set(items[flags].tolist()) <= set(pool.tolist())
    assert np.all((p > 0) & (p <= 1 + 1e-12))
    everything = np.union1d(ranked, pool)
    expected_length = show_probability(everything, ranked, pool, k, epsilon).sum()
    assert expected_length <= k + 1e-9
