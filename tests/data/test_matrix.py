import time

import numpy as np
import pandas as pd
import pytest

from teamrec.data.dataset import Dataset
from teamrec.data.matrix import MatrixConfig, build_matrix
from teamrec.errors import ConfigError, DataError, UnknownIdError


def events(rows):
    frame = pd.DataFrame(rows, columns=["team", "user", "item", "kind", "value", "timestamp"])
    return frame


@pytest.fixture
def two_teams():
    return Dataset(
        events=events(
            [
                ("t1", "ann", "ml", "message", 2, 10),
                ("t1", "ann", "ml", "message", 3, 20),
                ("t1", "ann", "bi", "member", 1, np.nan),
                ("t1", "bob", "ml", "reaction", 5, 5),
                ("t1", "bob", "secret", "member", 1, np.nan),
                ("t2", "cid", "other", "message", 7, 1),
            ]
        ),
        items=pd.DataFrame(
            {"team": ["t1", "t1", "t1"], "item": ["ml", "bi", "secret"], "name": ["machine-learning", "bi", "secret"],
             "private": [False, False, True]}
        ),
        users=pd.DataFrame({"team": ["t1", "t1"], "user": ["ann", "bob"], "name": ["Ann A", "Bob B"]}),
    )


def test_sum_max_count_last(two_teams):
    m = build_matrix(two_teams, team="t1", config=MatrixConfig(agg="sum"))
    ann, ml = m.users.index_of("ann"), m.items.index_of("ml")
    assert m.matrix[ann, ml] == 5
    assert build_matrix(two_teams, team="t1", config=MatrixConfig(agg="max")).matrix[ann, ml] == 3
    assert build_matrix(two_teams, team="t1", config=MatrixConfig(agg="count")).matrix[ann, ml] == 2
    # last = latest timestamp (20 -> value 3), whatever the row order
    shuffled = Dataset(events=two_teams.events.iloc[::-1].reset_index(drop=True))
    last = build_matrix(shuffled, team="t1", config=MatrixConfig(agg="last"))
    assert last.matrix[last.users.index_of("ann"), last.items.index_of("ml")] == 3


def test_kinds_weights_and_transforms(two_teams):
    cfg = MatrixConfig(kinds=("message", "reaction"), kind_weights={"reaction": 0.5})
    m = build_matrix(two_teams, team="t1", config=cfg)
    assert set(m.items.ids) == {"ml"}
    assert m.matrix[m.users.index_of("bob"), 0] == 2.5
    m = build_matrix(two_teams, team="t1", config=MatrixConfig(log1p=True))
    assert m.matrix[m.users.index_of("ann"), m.items.index_of("ml")] == pytest.approx(np.log1p(5))
    m = build_matrix(two_teams, team="t1", config=MatrixConfig(binary=True))
    assert set(m.matrix.data) == {1.0}


def test_time_decay_uses_latest_event_as_now(two_teams):
    day = 86_400
    ev = events([("t", "u", "a", "x", 4, 0), ("t", "u", "b", "x", 4, 2 * day), ("t", "v", "a", "x", 4, np.nan)])
    m = build_matrix(ev, config=MatrixConfig(half_life_days=1))
    assert m.matrix[m.users.index_of("u"), m.items.index_of("a")] == pytest.approx(1.0)
    assert m.matrix[m.users.index_of("u"), m.items.index_of("b")] == pytest.approx(4.0)
    assert m.matrix[m.users.index_of("v"), m.items.index_of("a")] == pytest.approx(4.0)


def test_min_value_and_min_interactions(two_teams):
    m = build_matrix(two_teams, team="t1", config=MatrixConfig(min_value=2))
    assert set(m.items.ids) == {"ml"} and m.matrix.min() >= 2
    m = build_matrix(two_teams, team="t1", config=MatrixConfig(min_user_interactions=2))
    assert set(m.users.ids) == {"ann", "bob"}
    m = build_matrix(two_teams, team="t1", config=MatrixConfig(min_item_interactions=2))
    assert set(m.items.ids) == {"ml"}


def test_metadata_is_aligned_and_privacy_travels(two_teams):
    m = build_matrix(two_teams, team="t1")
    assert m.item_names(m.items.index_of("ml")) == "machine-learning"
    assert m.user_names(m.users.index_of("bob")) == "Bob B"
    secret = m.items.index_of("secret")
    assert m.private[secret] and not m.private[m.items.index_of("ml")]
    hidden = m.hidden_items(np.arange(m.n_users)).toarray()
    assert hidden[m.users.index_of("ann"), secret] and not hidden[m.users.index_of("bob"), secret]
    assert m.find_item("#Machine-Learning") == m.items.index_of("ml")
    assert m.find_user("ann b".replace("b", "a")) == m.users.index_of("ann")


def test_membership_counts_every_kind_even_when_filtered(two_teams):
    m = build_matrix(two_teams, team="t1", config=MatrixConfig(kinds=("message", "reaction", "member")))
    assert m.members[m.users.index_of("ann"), m.items.index_of("bi")]


def test_teams_never_mix(two_teams):
    m = build_matrix(two_teams, team="t2")
    assert m.users.ids.tolist() == ["cid"] and m.items.ids.tolist() == ["other"]
    with pytest.raises(ConfigError, match="2 teams"):
        build_matrix(two_teams)
    with pytest.raises(UnknownIdError):
        build_matrix(two_teams, team="nope")


def test_no_events_of_the_kinds_asked(two_teams):
    with pytest.raises(DataError, match="no events"):
        build_matrix(two_teams, team="t2", config=MatrixConfig(kinds=("member",)))


def test_config_refuses_unknown_keys():
    with pytest.raises(ValueError):
        MatrixConfig(agg="median")
    with pytest.raises(ValueError):
        MatrixConfig(colour="red")


def test_item_kind_is_declared_or_read_from_membership(two_teams):
    """Channels (people are in them) are worded differently from films or articles."""
    assert build_matrix(two_teams, team="t1").item_kind == "channel"  # member events
    assert build_matrix(two_teams, team="t2").item_kind == "item"  # messages only
    declared = Dataset(events=two_teams.events, info={"item_kind": "item"})
    assert build_matrix(declared, team="t1").item_kind == "item"


def test_values_that_overflow_when_summed_are_a_clear_error():
    data = Dataset(events=events([("t", "a", "x", "view", 1e9, 1), ("t", "a", "x", "view", 1e9, 2)]),
                   info={"source": "huge.csv"})
    with pytest.raises(DataError, match=r"huge\.csv, field 'value': .*add up to more than a number can hold"):
        build_matrix(data, config=MatrixConfig(kind_weights={"view": 1e299}))


@pytest.mark.parametrize(("value", "timestamp", "field"), [
    (1e200, 1.0, "value"), (-1e10, 1.0, "value"), (1.0, 1e30, "timestamp"), (1.0, -5.0, "timestamp"),
    (1.0, np.inf, "timestamp"),
])
def test_events_out_of_bounds_are_refused(value, timestamp, field):
    # Issue 11: 1e200 was accepted, then overflowed to the popularity fallback; 1e30 was a time.
    with pytest.raises(DataError, match=rf"huge\.csv, line 3, field '{field}': .*"):
        Dataset(events=events([("t", "a", "x", "view", 1, 1), ("t", "a", "x", "view", value, timestamp)]),
                info={"source": "huge.csv"})


def test_one_event_dated_in_the_future_does_not_decay_every_other_event(caplog):
    # Issue 11: one event dated 2099 made every real event look 70 years old (0.5 ** 1300 = 0).
    day = 86_400
    now = time.time()
    ev = events([
        ("t", "u", "a", "x", 4, now - 20 * day),
        ("t", "v", "a", "x", 4, now - 1 * day),
        ("t", "w", "b", "x", 4, 4_070_908_800.0),  # 2099-01-01
    ])
    with caplog.at_level("WARNING", logger="teamrec.data.weighting"):
        m = build_matrix(ev, config=MatrixConfig(half_life_days=20))
    assert m.matrix[m.users.index_of("u"), m.items.index_of("a")] == pytest.approx(2.0, rel=1e-3)
    assert m.matrix[m.users.index_of("v"), m.items.index_of("a")] == pytest.approx(4 * 0.5 ** (1 / 20), rel=1e-3)
    assert m.matrix[m.users.index_of("w"), m.items.index_of("b")] == pytest.approx(4.0)  # clamped at age 0
    assert "1 event(s) are later than the decay reference time" in caplog.text


def test_decay_reference_is_the_latest_event_capped_at_the_clock():
    from teamrec.data.weighting import decay_reference

    assert decay_reference(np.array([10.0, 20.0, np.nan]), clock=100.0) == 20.0  # a historical data set
    assert decay_reference(np.array([10.0, 500.0]), clock=100.0) == 100.0  # one event in the future
    assert decay_reference(np.array([10.0, 500.0]), 50.0, clock=100.0) == 50.0  # explicit reference
    assert decay_reference(np.array([np.nan])) == 0.0


def test_activity_formats_default_to_log_activity_unless_told_or_binary():
    from teamrec.data.matrix import default_config

    assert default_config("lastfm").log1p  # play counts
    assert not default_config("lastfm", {"log1p": False}).log1p
    assert not default_config("lastfm", {"binary": True}).log1p  # 0/1 needs no scale
    assert not default_config("slack-export").log1p  # membership: binary
    assert default_config("slack-export", {"binary": False, "kinds": ("message",)}).log1p  # message counts
    assert not default_config("movielens").log1p and not default_config("deskdrop").log1p
    assert not default_config(None).log1p
