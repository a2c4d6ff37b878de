"""``simulate_experiment``'s news-style replay (``stream``) and its time split, on small
generated teams: streamed events reach the vocabulary and a new item is recommended and
clicked after a refresh; untimed memberships are dated at their channel's creation."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from teamrec.data.dataset import Dataset
from teamrec.errors import DataError
from teamrec.experiments.settings import parse_experiment
from teamrec.service.simulation import Stream, date_by_item_creation, simulate_experiment

EXPERIMENT = parse_experiment({
    "name": "stream-test", "start": "2000-01-01T00:00:00Z",
    "arms": [{"name": "popularity", "algorithm": "popularity"},
             {"name": "knn", "algorithm": "item-knn", "epsilon": 0.2}],
})
PEOPLE = 30


def news_team(tmp_path) -> str:
    """Thirty readers of eight old articles (two each, before t=1000); after the cut-off each
    reads one more old article and then ``fresh``, an article published after the cut-off that
    everybody reads (t=2000 on: one reader every 10 seconds)."""
    rng = np.random.default_rng(3)
    rows = []
    for p in range(PEOPLE):
        read = rng.choice(8, size=3, replace=False)
        rows += [(f"u{p}", f"a{i}", float(t)) for i, t in zip(read[:2], sorted(rng.uniform(0, 999, 2)), strict=True)]
        rows.append((f"u{p}", f"a{read[2]}", 1500.0 + p))
        rows.append((f"u{p}", "fresh", 2000.0 + 10 * p))
    events = pd.DataFrame(rows, columns=["user", "item", "timestamp"]).assign(team="news", kind="view", value=1.0)
    return str(Dataset(events=events, info={"format": "csv"}).save(tmp_path / "news"))


def test_streamed_events_bring_a_new_item_into_the_models_and_it_is_clicked(tmp_path):
    source = news_team(tmp_path)
    share = 0.5  # the two events per person after the cut-off
    result = simulate_experiment(source, None, EXPERIMENT, share=share, k=3, action="join", stream=True,
                                 refresh_every=5)
    assert result.train_events == 2 * PEOPLE and result.holdout_events == 2 * PEOPLE
    stats = result.stream
    assert stats is not None
    # Every held-out event but those a click stood for (a join is a learning event here) was
    # streamed, in refreshes of five; the last visit's own event comes after the last visit.
    assert stats["streamed"] + stats["clicks"] in (2 * PEOPLE - 1, 2 * PEOPLE) and stats["refreshes"] >= 5
    assert stats["new_items"] == 1  # ``fresh`` entered every arm's vocabulary
    clicks = result.simulation.feedback
    on_fresh = clicks[clicks["item"] == "fresh"]
    assert len(on_fresh) >= PEOPLE // 2 and stats["clicks_on_new_items"] == len(on_fresh)
    # Shown only after a refresh had brought it in: never to the first readers.
    shown = result.simulation.impressions
    first_shown = shown.loc[shown["item"] == "fresh", "shown_at"].min()
    assert first_shown > pd.Timestamp(2000 + 10 * 4, unit="s", tz="UTC")
    assert "items new since the cut-off entered the models" in result.to_text()
    assert all(check.within for check in result.off_policy)


def test_a_click_that_is_no_learning_event_leaves_the_stream_whole(tmp_path):
    result = simulate_experiment(news_team(tmp_path), None, EXPERIMENT, share=0.5, k=3, action="click",
                                 stream=True, refresh_every=5)
    assert result.stream is not None and result.stream["clicks"] > 0
    assert result.stream["streamed"] == 2 * PEOPLE - 1  # a csv team learns nothing from a click


def test_without_the_stream_a_new_item_is_never_clicked(tmp_path):
    source = news_team(tmp_path)
    result = simulate_experiment(source, None, EXPERIMENT, share=0.5, k=3, action="click")
    assert result.stream is None
    assert not (result.simulation.feedback["item"] == "fresh").any()
    assert any("never saw, which no arm can recommend" in note for note in result.notes)


class FakeTeam:
    """What :class:`Stream` uses of a TeamService, recording each call in order."""

    name = "t"

    def __init__(self) -> None:
        self.calls: list[tuple[str, object]] = []
        self.registry = self

    def states(self, _team):
        return []

    def ingest(self, _caller, frame):
        self.calls.append(("ingest", frame["timestamp"].tolist()))

    def refresh(self, _team):
        self.calls.append(("refresh", None))

    def retrain(self):
        self.calls.append(("retrain", None))


def stream_of(times):
    return pd.DataFrame({"user": [f"u{i}" for i in range(len(times))], "item": "x", "kind": "view", "value": 1.0,
                         "timestamp": times})


def test_the_stream_refreshes_when_an_event_waited_refresh_seconds_of_the_datas_time():
    team = FakeTeam()
    feed = Stream(team, stream_of([0.0, 10.0, 20.0, 100.0, 130.0]), refresh_every=None, refresh_seconds=25)
    feed.advance(15.0)   # 0 and 10 arrive; 0 has waited 15 s
    feed.advance(110.0)  # at 25 the timer fires with 0, 10, 20 in; 100 arrives after
    feed.advance(131.0)  # 100 waited 30 s at 125: the refresh has 100 only; then 130
    assert team.calls == [("ingest", [0.0, 10.0]), ("ingest", [20.0]), ("refresh", None), ("ingest", [100.0]),
                          ("refresh", None), ("ingest", [130.0])]
    assert (feed.streamed, feed.refreshes) == (5, 2)


def test_the_stream_refreshes_every_n_events_retrains_every_m_and_skips_what_a_click_stood_for():
    team = FakeTeam()
    feed = Stream(team, stream_of([1.0, 2.0, 3.0, 4.0, 5.0, 6.0]), refresh_every=2, retrain_every=4)
    feed.clicked("u1", "x")  # u1's read at 2.0 happened as the click: not streamed again
    feed.advance(3.0)        # 1 (and 2, skipped): 1 event, no refresh yet
    feed.advance(4.0)        # 3: two events
    feed.advance(6.0)        # 4, 5: four events, a full retrain instead of a refresh
    feed.advance(6.0)        # nothing new: nothing runs
    assert team.calls == [("ingest", [1.0]), ("ingest", [3.0]), ("refresh", None), ("ingest", [4.0, 5.0]),
                          ("retrain", None)]
    assert (feed.streamed, feed.refreshes, feed.retrains) == (4, 1, 1)


def test_stream_refuses_a_random_split(tmp_path):
    with pytest.raises(DataError, match="stream needs a time split"):
        simulate_experiment(news_team(tmp_path), None, EXPERIMENT, split="random", stream=True)


def slack_like(tmp_path) -> str:
    """Memberships of four channels; the ones without a join time belong to channels created
    at t=100 (``old``, ``general``), the later channels' are timed by their join messages."""
    members = [("u1", "general", np.nan), ("u2", "general", np.nan), ("u3", "general", np.nan),
               ("u4", "general", 150.0), ("u1", "old", np.nan), ("u2", "old", 120.0),
               ("u1", "week2", 1000.0), ("u2", "week2", 1001.0), ("u3", "week2", 1002.0),
               ("u4", "week2", 1003.0), ("u3", "late", 2000.0), ("u4", "late", 2001.0)]
    events = pd.DataFrame(members, columns=["user", "item", "timestamp"]).assign(
        team="acme", kind="member", value=1.0)
    items = pd.DataFrame({"team": "acme", "item": ["general", "old", "week2", "late"],
                          "name": ["general", "old", "week2", "late"], "created": [100.0, 100.0, 999.0, 1999.0]})
    return str(Dataset(events=events, items=items, info={"format": "slack-export"}).save(tmp_path / "acme"))


def test_a_time_split_dates_memberships_without_a_join_at_their_channels_creation(tmp_path):
    from teamrec.data.sources import read_source

    data = read_source(slack_like(tmp_path))
    dated, n = date_by_item_creation(data.events, data.items)
    assert n == 4
    got = dict(zip(zip(dated["user"], dated["item"], strict=True), dated["timestamp"], strict=True))
    assert got[("u1", "general")] == got[("u1", "old")] == 100.0  # the channel's creation
    assert got[("u4", "general")] == 150.0 and got[("u3", "late")] == 2000.0  # join messages kept
    assert date_by_item_creation(dated, data.items)[1] == 0


def test_simulate_with_a_time_split_holds_out_the_latest_memberships(tmp_path):
    source = slack_like(tmp_path)
    experiment = parse_experiment({"name": "s", "start": "2000-01-01T00:00:00Z", "arms": [
        {"name": "popularity", "algorithm": "popularity"}, {"name": "ease", "algorithm": "ease"}]})
    result = simulate_experiment(source, None, experiment, share=0.25, k=3, split="time")
    # 12 memberships, the last quarter in time: week2's last join and both of ``late``'s.
    assert (result.train_events, result.holdout_events) == (9, 3)
    assert "4 events without a time dated at their item's creation" in result.to_text()
    assert set(result.simulation.impressions["person"]) <= {"u3", "u4"}
    # The default split of data with untimed events stays the random one.
    random = simulate_experiment(source, None, experiment, share=0.25, k=3)
    assert "(auto split: whole (person, item) pairs at random)" in random.to_text()


def test_clickable_visit_through_the_service_keeps_the_off_policy_truth(tmp_path):
    source = news_team(tmp_path)
    result = simulate_experiment(source, None, EXPERIMENT, share=0.5, k=3, action="click", split="random",
                                 clickable="visit", seed=1)
    feedback = result.simulation.feedback
    assert len(feedback) and not feedback["recommendation_id"].duplicated().any()
    assert "only the visit's own held-out item clickable" in result.to_text()
    (check,) = result.off_policy
    assert check.visits > 0 and check.truth <= 1 / 3


def test_a_click_stands_for_the_first_learnt_event_of_its_pair_not_a_message_before_it():
    team = FakeTeam()
    events = pd.DataFrame({"user": "u", "item": "c", "kind": ["message", "member", "message"], "value": 1.0,
                           "timestamp": [1.0, 2.0, 3.0], "learnt": [False, True, False]})
    feed = Stream(team, events, refresh_every=None)
    feed.clicked("u", "c")  # joined from a recommendation: the membership at 2.0 was that join
    feed.advance(10.0)
    assert team.calls == [("ingest", [1.0, 3.0])]


def test_the_replay_says_the_smallest_difference_its_people_can_detect(tmp_path):
    """2.80 delta-method standard errors of the report's difference (80% power, two-sided 5%)."""
    result = simulate_experiment(news_team(tmp_path), None, EXPERIMENT, share=0.5, k=3, split="random", seed=1)
    (row,) = result.simulation.report.differences.itertuples()
    assert np.isfinite(row.std_error) and row.std_error > 0
    assert result.detectable() == {"knn": pytest.approx(2.801585 * row.std_error, rel=1e-5)}
    units = result.simulation.report.arms.set_index("arm")["units"]
    assert (f"power: {units['popularity']} and {units['knn']} people; the smallest true difference knn - popularity "
            f"this replay finds with 80% power (two-sided 5%) is {2.801585 * row.std_error * 100:.2f} pp"
            in result.to_text())
    assert result.to_dict()["detectable_difference"] == result.detectable()
