"""Experiment settings: validation in one line, the fingerprint, the refusal to change a running experiment."""

from datetime import UTC, datetime, timedelta, timezone

import pytest

from teamrec.errors import ConfigError
from teamrec.experiments.settings import (
    changed_message,
    check_unchanged,
    fingerprint,
    parse_experiment,
    parse_experiments,
)


def settings(**over):
    data = {
        "name": "knn-vs-pop",
        "arms": [
            {"name": "control", "algorithm": "popularity"},
            {"name": "knn", "algorithm": "item-knn", "params": {"neighbors": 50}, "epsilon": 0.33},
        ],
        "rollout": 0.1,
        "start": "2026-12-01T00:00:00Z",
        "end": "2026-12-15T00:00:00Z",
        "salt": "s1",
    }
    data.update(over)
    return data


def test_defaults_and_normalised_weights():
    e = parse_experiment(settings(arms=[{"name": "a", "algorithm": "popularity", "weight": 2},
                                        {"name": "b", "algorithm": "ease"}]))
    assert e.unit == "person"
    assert e.weights == pytest.approx((2 / 3, 1 / 3))
    assert e.arm_names == ("a", "b")
    assert e.arms[1].epsilon == 0.0
    assert e.start == datetime(2026, 12, 1, tzinfo=UTC)


def test_times_are_converted_to_utc():
    e = parse_experiment(settings(start="2026-12-01T01:00:00+01:00"))
    assert e.start == datetime(2026, 12, 1, tzinfo=UTC)
    assert e.start.utcoffset() == timedelta(0)


@pytest.mark.parametrize(
    ("over", "message"),
    [
        ({"arms": [{"name": "a", "algorithm": "popularity"}]}, "arms: an experiment needs at least 2 arms"),
        ({"arms": [{"name": "a", "algorithm": "nope"}, {"name": "b", "algorithm": "ease"}]},
         "arms.0.algorithm: unknown algorithm 'nope'"),
        ({"arms": [{"name": "a", "algorithm": "ease", "epsilon": 1.5}, {"name": "b", "algorithm": "ease"}]},
         "arms.0.epsilon: Input should be less than or equal to 1"),
        ({"arms": [{"name": "a", "algorithm": "ease", "weight": 0}, {"name": "b", "algorithm": "ease"}]},
         "arms.0.weight: Input should be greater than 0"),
        ({"arms": [{"name": "a", "algorithm": "ease"}, {"name": "a", "algorithm": "ease"}]},
         "arm names must be unique; repeated: a"),
        ({"arms": [{"name": "a", "algorithm": "ease", "colour": 1}, {"name": "b", "algorithm": "ease"}]},
         "arms.0.colour: Extra inputs are not permitted"),
        ({"arms": [{"name": "a", "algorithm": "item-knn", "params": {"neighbours": 5}},
                   {"name": "b", "algorithm": "ease"}]},
         "arms.0: params for item-knn: neighbours: Extra inputs are not permitted"),
        ({"rollout": 1.2}, "rollout: Input should be less than or equal to 1"),
        ({"unit": "company"}, "unit: Input should be 'person' or 'team'"),
        ({"start": "2026-12-01T00:00:00"}, "start: 2026-12-01T00:00:00 has no time zone"),
        ({"end": "2026-11-01T00:00:00Z"}, "is not after start"),
        ({"name": "has space"}, "name: 'has space' is not a valid experiment name"),
        ({"colour": "red"}, "colour: Extra inputs are not permitted"),
    ],
)
def test_bad_settings_give_one_line_naming_the_field(over, message):
    with pytest.raises(ConfigError) as info:
        parse_experiment(settings(**over))
    text = str(info.value)
    assert "\n" not in text
    assert text.startswith("experiment ")
    assert message in text


def test_experiment_names_are_unique():
    with pytest.raises(ConfigError, match="experiment names must be unique; repeated: knn-vs-pop"):
        parse_experiments([settings(), settings()])


def test_fingerprint_is_stable_and_tracks_what_decides_assignment():
    base = parse_experiment(settings())
    assert fingerprint(base) == fingerprint(parse_experiment(settings()))
    assert fingerprint(base) == "3352137df5e0f65f"  # pinned: a new value means every running experiment "changed"
    # the window may move; weights are compared normalised
    assert fingerprint(parse_experiment(settings(end="2027-01-01T00:00:00Z"))) == fingerprint(base)
    doubled = settings()
    doubled["arms"] = [dict(a, weight=2) for a in doubled["arms"]]
    assert fingerprint(parse_experiment(doubled)) == fingerprint(base)
    changes = [
        {"rollout": 0.2}, {"unit": "team"}, {"salt": "s2"},
        {"arms": [{"name": "control", "algorithm": "popularity", "weight": 2},
                  {"name": "knn", "algorithm": "item-knn", "params": {"neighbors": 50}, "epsilon": 0.33}]},
        {"arms": [{"name": "control", "algorithm": "popularity"},
                  {"name": "knn", "algorithm": "item-knn", "params": {"neighbors": 20}, "epsilon": 0.33}]},
        {"arms": [{"name": "control", "algorithm": "popularity"},
                  {"name": "knn", "algorithm": "item-knn", "params": {"neighbors": 50}, "epsilon": 0.1}]},
    ]
    prints = {fingerprint(parse_experiment(settings(**c))) for c in changes}
    assert len(prints) == len(changes) and fingerprint(base) not in prints


def test_a_running_experiment_refuses_changes_with_a_clear_message():
    old = parse_experiment(settings())
    new = parse_experiment(settings(rollout=0.5))
    running = fingerprint(old)
    during = datetime(2026, 12, 2, tzinfo=UTC)
    check_unchanged(old, running, during)  # same settings: fine
    check_unchanged(new, None, during)  # never ran: fine
    check_unchanged(new, running, datetime(2026, 11, 1, tzinfo=UTC))  # not started yet: fine
    with pytest.raises(ConfigError) as info:
        check_unchanged(new, running, during)
    assert str(info.value) == changed_message("knn-vs-pop", running, fingerprint(new))
    assert "give the new settings a new name" in str(info.value)
    with pytest.raises(ConfigError, match="no time zone"):
        check_unchanged(new, running, datetime(2026, 12, 2))


def test_is_running_window():
    e = parse_experiment(settings())
    assert not e.is_running(datetime(2026, 11, 30, 23, 59, tzinfo=UTC))
    assert e.is_running(datetime(2026, 12, 1, tzinfo=UTC))
    assert e.is_running(datetime(2026, 12, 1, 1, 30, tzinfo=timezone(timedelta(hours=1))))
    assert not e.is_running(datetime(2026, 12, 15, tzinfo=UTC))
    open_ended = parse_experiment(settings(end=None))
    assert open_ended.is_running(datetime(2099, 1, 1, tzinfo=UTC))
