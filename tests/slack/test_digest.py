"""The digest's triggering rules, one by one, and sending through the mock."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pandas as pd
import pytest
from pydantic import ValidationError

from teamrec.experiments.assignment import NOT_ASSIGNED, assign, team_draws
from teamrec.experiments.settings import Arm, Experiment
from teamrec.integrations.slack.digest import (
    DAY,
    DigestSettings,
    DigestState,
    digest_items,
    digest_rollout,
    due,
)
from teamrec.recommender import Result
from teamrec.service.registry import experiment_arms
from teamrec.service.teams import Answer

# Wednesday 2026-11-25 12:00 UTC
NOON = 1_795_608_000.0
S = DigestSettings()


def person(**over):
    row = {"user": "U1", "first_seen": NOON - 30 * DAY, "channels": 3, "tz_offset": 0.0, "last_sent": np.nan,
           "snoozed_until": np.nan, "opted_out": False}
    row.update(over)
    return row


def verdict(settings=S, now=NOON, in_rollout=True, **over):
    out = due(pd.DataFrame([person(**over)]), settings, now, in_rollout=in_rollout)
    return out["blocked_by"].iloc[0] or "due"


def test_noon_is_wednesday():
    assert pd.Timestamp(NOON, unit="s").day_name() == "Wednesday" and pd.Timestamp(NOON, unit="s").hour == 12


def test_a_settled_person_in_hours_is_due():
    assert verdict() == "due"


def test_at_most_one_per_14_days():
    assert verdict(last_sent=NOON - 13.9 * DAY) == "too_soon"
    assert verdict(last_sent=NOON - 14 * DAY) == "due"


def test_tenure_and_channel_count():
    assert verdict(first_seen=NOON - 13 * DAY) == "too_new"
    assert verdict(first_seen=np.nan) == "too_new"
    assert verdict(channels=11) == "too_many_channels"
    assert verdict(DigestSettings(max_channels=20), channels=11) == "due"


def test_working_hours_in_the_persons_time_zone():
    assert verdict(tz_offset=-8 * 3600) == "outside_hours"  # 04:00 in San Francisco
    assert verdict(tz_offset=5.5 * 3600) == "outside_hours"  # 17:30 in Kolkata
    assert verdict(tz_offset=3 * 3600) == "due"  # 15:00 in Nairobi
    assert verdict(now=NOON + 3 * DAY) == "outside_hours"  # Saturday
    assert verdict(DigestSettings(weekdays_only=False), now=NOON + 3 * DAY) == "due"


def test_snooze_opt_out_and_rollout():
    assert verdict(snoozed_until=NOON + 1) == "snoozed"
    assert verdict(snoozed_until=NOON - 1) == "due"
    assert verdict(opted_out=True) == "opted_out"
    assert verdict(in_rollout=False) == "rollout"
    assert verdict(DigestSettings(enabled=False)) == "rollout"


def test_rules_are_vectorised_over_people():
    people = pd.DataFrame([person(user=f"U{i}", channels=i) for i in range(20)])
    out = due(people, S, NOON)
    assert out["due"].tolist() == [i <= 10 for i in range(20)]


def same_rollout(settings: DigestSettings, unit: str) -> Experiment:
    """A real experiment with the digest rollout's name, share and salt."""
    arms = (Arm(name="control", algorithm="popularity"), Arm(name="knn", algorithm="item-knn", weight=3))
    return Experiment(name=settings.rollout_name, arms=arms, unit=unit, rollout=settings.rollout_share,
                      start=datetime(2026, 1, 1, tzinfo=UTC), salt=settings.rollout_salt)


@pytest.mark.parametrize("unit", ["team", "person"])
def test_the_digest_and_an_experiment_with_its_name_share_and_salt_take_the_same_teams(unit):
    teams = [f"team-{i}" for i in range(4000)]
    for share, salt in ((0.1, "teamrec-slack-digest"), (0.37, "another"), (0.0, "x"), (1.0, "x")):
        settings = DigestSettings(rollout_share=share, rollout_salt=salt)
        experiment = same_rollout(settings, unit)
        taken = assign(experiment, teams, None if unit == "team" else ["U1"] * len(teams)) != NOT_ASSIGNED
        digest = digest_rollout(settings)
        assert [digest(t) for t in teams] == taken.tolist(), (share, salt)
        # and the service serves the experiment's arms to exactly those teams
        assert [bool(experiment_arms((experiment,), t)) for t in teams[:300]] == taken[:300].tolist()
        if 0 < share < 1:
            assert abs(taken.mean() - share) < 0.03


def test_rollout_share_by_the_experiment_assignment():
    teams = [f"team-{i}" for i in range(4000)]
    tenth = DigestSettings(rollout_share=0.1)
    draws = team_draws(tenth.rollout_name, teams, tenth.rollout_salt)  # the assignment's team draw, vectorised
    assert 0.085 < np.mean(draws < 0.1) < 0.115
    in_tenth = digest_rollout(tenth)
    assert [in_tenth(t) for t in teams[:200]] == list(draws[:200] < 0.1)  # one team at a time: the same
    assert not any(digest_rollout(DigestSettings(rollout_share=0.0))(t) for t in teams[:100])
    fifth = [digest_rollout(DigestSettings(rollout_share=0.2))(t) for t in teams]
    assert np.asarray(fifth)[draws < 0.1].all()  # raising the share keeps every team that was in
    other = digest_rollout(DigestSettings(rollout_share=0.1, rollout_salt="another"))
    assert [other(t) for t in teams] != list(draws < 0.1)


def test_digest_items_cut_to_k_and_the_score_threshold():
    results = [Result(f"C{i}", f"c{i}", 0.9 - i / 10, position=i + 1) for i in range(8)]
    answer = Answer("acme", 1, results, recommendation_id="r1")
    kept, why = digest_items(answer, S)
    assert [r.id for r in kept.results] == ["C0", "C1", "C2"] and why == "" and kept.recommendation_id == "r1"
    assert digest_items(answer, DigestSettings(min_score=0.95)) == (None, "low_score")
    assert digest_items(Answer("acme", 1, [], recommendation_id="r2"), S) == (None, "nothing_to_suggest")


def test_settings_are_checked():
    with pytest.raises(ValidationError):
        DigestSettings(rollout_share=1.5)
    with pytest.raises(ValidationError):
        DigestSettings(every_day=True)


def test_state_round_trip(tmp_path):
    state = DigestState(tmp_path / "digest.sqlite3")
    state.sent("acme", "U1", 10.0)
    state.snooze("acme", "U1", 99.0)
    state.opt_out("acme", "U2")
    state.close()
    state = DigestState(tmp_path / "digest.sqlite3")
    got = state.get("acme", ["U1", "U2", "U3"]).set_index("user")
    assert got.loc["U1", "last_sent"] == 10.0 and got.loc["U1", "snoozed_until"] == 99.0
    assert got["opted_out"].tolist() == [False, True, False] and np.isnan(got.loc["U3", "last_sent"])
    assert state.get("other", ["U2"])["opted_out"].tolist() == [False]  # teams apart
