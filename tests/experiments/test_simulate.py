"""The replay: simulated people ask, click what is in their held-out future, and the click is fed back."""

import numpy as np
import pandas as pd
import pytest

from teamrec.data.events import make_events
from teamrec.errors import DataError
from teamrec.experiments.assignment import assign_one
from teamrec.experiments.exploration import explore
from teamrec.experiments.settings import parse_experiment
from teamrec.experiments.simulate import Served, Visit, replay, split_holdout, wanted_now

K = 5
EXPERIMENT = parse_experiment({
    "name": "sim",
    "arms": [
        {"name": "pop", "algorithm": "popularity", "epsilon": 0.2},
        {"name": "taste", "algorithm": "item-knn", "epsilon": 0.2},
    ],
    "start": "2000-01-01T00:00:00Z",
})


def team_events(persons=300, clusters=6, items_per_cluster=12, per_person=10, seed=0, timed=True):
    """People with one taste each (a cluster of items), a few popular items everybody takes."""
    rng = np.random.default_rng(seed)
    users, items, times = [], [], []
    for p in range(persons):
        c = p % clusters
        liked = rng.choice(items_per_cluster, size=per_person, replace=False)
        users += [f"u{p}"] * per_person
        items += [f"c{c}-{i}" for i in liked]
        times += sorted(rng.uniform(0, 1e6, size=per_person).tolist())
    return make_events(user=users, item=items, value=1.0, timestamp=times if timed else np.nan, team="acme")


class Service:
    """A stand-in for the service layer: assignment, two rankings, exploration, online feedback."""

    def __init__(self, train):
        self.seen = train.groupby("user")["item"].agg(set).to_dict()
        counts = train["item"].value_counts()
        self.popular = list(counts.sort_values(ascending=False, kind="stable").index)
        self.catalogue = sorted(counts.index)
        self.calls = []

    def taste(self, person):
        cluster = int(person[1:]) % 6
        mine = [i for i in self.popular if i.startswith(f"c{cluster}-")]
        return mine + [i for i in self.popular if not i.startswith(f"c{cluster}-")]

    def recommend(self, visit: Visit):
        arm = assign_one(EXPERIMENT, visit.team, visit.person) or "pop"
        seen = self.seen.setdefault(visit.person, set())
        ranked = self.taste(visit.person) if arm == "taste" else self.popular
        ranked = [i for i in ranked if i not in seen]
        pool = [i for i in self.catalogue if i not in seen]
        rid = f"{visit.team}-{visit.index}"
        items, explored, propensity = explore(ranked, pool, K, EXPERIMENT.arm(arm).epsilon, rid)
        return Served(rid, items.tolist(), arm, explored.tolist(), propensity.tolist())

    def feedback(self, recommendation_id, item, action, at):
        self.calls.append((recommendation_id, item, action, at))
        person = self.by_id[recommendation_id]
        self.seen[person].add(item)  # the online update: never recommended again


def run(events, order="auto", **kw):
    train, holdout = split_holdout(events, 0.3, seed=1)
    service = Service(train)
    service.by_id = {}
    inner = service.recommend

    def recommend(visit):
        served = inner(visit)
        service.by_id[served.recommendation_id] = visit.person
        return served

    return replay(holdout, recommend, service.feedback, experiment=EXPERIMENT, order=order, **kw), service, holdout


def test_the_stronger_arm_wins_with_non_overlapping_intervals():
    sim, service, holdout = run(team_events())
    arms = sim.report.arms.set_index("arm")
    assert arms.at["taste", "low"] > arms.at["pop", "high"], sim.report.to_text()
    assert sim.report.differences.iloc[0]["p_value"] < 0.001
    assert not sim.report.srm.flagged
    assert sim.visits == len(holdout.drop_duplicates(["team", "user", "item"]))


def test_every_click_is_fed_back_once_and_is_in_the_persons_future():
    events = team_events()
    sim, service, holdout = run(events)
    assert [(r, i, a) for r, i, a, _ in service.calls] == list(
        sim.feedback[["recommendation_id", "item", "action"]].itertuples(index=False, name=None)
    )
    shown = sim.impressions.merge(sim.feedback, on=["recommendation_id", "item"])
    future = holdout.assign(at=pd.to_datetime(holdout["timestamp"], unit="s", utc=True))
    joined = shown.merge(future, left_on=["person", "item"], right_on=["user", "item"])
    assert len(joined) == len(shown)
    assert (joined["at_y"] >= joined["shown_at"]).all()
    # every shown future item is clicked; a clicked item is not shown to that person again
    assert sim.feedback["recommendation_id"].duplicated().any()
    clicks = shown[["person", "item", "shown_at"]]
    later = sim.impressions.merge(clicks, on=["person", "item"], suffixes=("", "_click"))
    assert not (later["shown_at"] > later["shown_at_click"]).any()


def test_visits_are_in_time_order_and_the_replay_is_deterministic():
    events = team_events()
    first, _, _ = run(events)
    times = first.impressions.drop_duplicates("recommendation_id")["shown_at"]
    assert times.is_monotonic_increasing
    second, _, _ = run(events)
    pd.testing.assert_frame_equal(first.impressions, second.impressions)
    pd.testing.assert_frame_equal(first.feedback, second.feedback)


def test_without_times_visits_are_per_person_random_and_every_held_out_item_is_future():
    events = team_events(timed=False)
    sim, _, holdout = run(events, seed=3)
    assert sim.report.arms.set_index("arm").at["taste", "ctr"] > sim.report.arms.set_index("arm").at["pop", "ctr"]
    order = sim.impressions.drop_duplicates("recommendation_id")["person"].tolist()
    assert order != sorted(order, key=lambda p: int(p[1:]))
    with pytest.raises(DataError, match="order='time' needs a timestamp"):
        run(events, order="time")
    other, _, _ = run(events, seed=4)
    assert not other.impressions["person"].equals(sim.impressions["person"])


def test_a_plain_list_is_one_default_arm():
    events = team_events(persons=30)
    train, holdout = split_holdout(events, 0.3)
    popular = list(train["item"].value_counts().index)
    sim = replay(holdout, lambda visit: popular[:K], max_visits=40)
    assert sim.visits == 40
    assert set(sim.impressions["arm"]) == {"default"}
    assert sim.impressions["propensity"].eq(1.0).all() and not sim.impressions["explored"].any()
    assert sim.report.srm is None


def test_bad_answers_are_refused():
    events = team_events(persons=10)
    _, holdout = split_holdout(events, 0.3)
    with pytest.raises(DataError, match="twice"):
        replay(holdout, lambda visit: Served("same", ["c0-1"]))
    with pytest.raises(DataError, match="2 items but 1 explored flags"):
        replay(holdout, lambda visit: Served(f"r{visit.index}", ["c0-1", "c0-2"], "a", [True], [1.0, 1.0]))
    with pytest.raises(DataError, match="Served or a list"):
        replay(holdout, lambda visit: "c0-1")
    with pytest.raises(DataError, match="missing column"):
        replay(holdout.drop(columns="timestamp"), lambda visit: [])


def test_split_holdout_by_time_and_per_person():
    events = team_events(persons=50)
    train, test = split_holdout(events, 0.25)
    assert len(test) == pytest.approx(0.25 * len(events), abs=2)
    assert train["timestamp"].max() < test["timestamp"].min()
    untimed = team_events(persons=50, timed=False)
    train, test = split_holdout(untimed, 0.3, seed=2)
    assert (test.groupby("user").size() == 3).all()  # round(0.3 * 10) of each person's 10 events
    assert (train.groupby("user").size() == 7).all()
    again_train, again_test = split_holdout(untimed, 0.3, seed=2)
    pd.testing.assert_frame_equal(test, again_test)
    with pytest.raises(DataError, match="share must be in"):
        split_holdout(events, 1.0)


def test_split_holdout_never_holds_out_what_the_person_already_took():
    """Repeated events of one (person, item) -- Deskdrop's re-reads -- are never a hold-out
    target the person already has in training: they could never be a hit."""
    base = team_events(persons=40)
    again = base.assign(timestamp=base["timestamp"] + 5e5)  # every pair taken a second time, later
    events = pd.concat([base, again], ignore_index=True)
    train, test = split_holdout(events, 0.3)
    taken = set(zip(train["user"], train["item"], strict=True))
    assert len(test) and not any(p in taken for p in zip(test["user"], test["item"], strict=True))
    assert len(test) < 0.3 * len(events) - 20  # the re-takes of training pairs were dropped
    assert train["timestamp"].max() < test["timestamp"].min()
    # retakes=True (the stream of a news-style replay): every event after the cut-off, re-takes too
    same_train, everything = split_holdout(events, 0.3, retakes=True)
    assert same_train.equals(train) and len(everything) == len(events) - len(train) > len(test)
    assert set(map(tuple, test.to_numpy().tolist())) <= set(map(tuple, everything.to_numpy().tolist()))
    untimed = events.assign(timestamp=np.nan)
    train, test = split_holdout(untimed, 0.3, seed=2)
    taken = set(zip(train["user"], train["item"], strict=True))
    assert not any(p in taken for p in zip(test["user"], test["item"], strict=True))
    # whole pairs: 3 of each person's 10 distinct items, both of their events
    assert (test.groupby("user")["item"].nunique() == 3).all()
    assert (test.groupby("user").size() == 6).all()
    assert len(train) + len(test) == len(untimed)


def test_first_click_mode_clicks_the_highest_placed_future_item_only():
    events = team_events()
    sim, _, holdout = run(events, clicks="first")
    assert not sim.feedback["recommendation_id"].duplicated().any()
    everything, _, _ = run(events)
    assert len(everything.feedback) > len(sim.feedback)
    # the clicked item is the first shown one in the person's future at that time
    future = holdout.assign(at=pd.to_datetime(holdout["timestamp"], unit="s", utc=True))
    first = sim.feedback.iloc[0]
    shown = sim.impressions[sim.impressions["recommendation_id"] == first["recommendation_id"]]
    person, at = shown["person"].iloc[0], shown["shown_at"].iloc[0]
    theirs = set(future[(future["user"] == person) & (future["at"] >= at)]["item"])
    assert next(i for i in shown["item"] if i in theirs) == first["item"]
    with pytest.raises(DataError, match="clicks must be"):
        run(events, clicks="some")


def test_off_policy_estimate_of_the_exploit_only_policy_from_the_replay_logs():
    """IPS over the explored arm's logs estimates what its list without exploration would get, visit by visit.

    The truth is exact: at each visit, the exploit-only list's hits among the person's current
    future (their held-out items from now on, minus what they clicked already).
    """
    from teamrec.experiments.stats import off_policy_ctr

    events = team_events(persons=600)
    train, holdout = split_holdout(events, 0.3, seed=1)
    service = Service(train)
    times = holdout.assign(at=pd.to_datetime(holdout["timestamp"], unit="s", utc=True))  # as the replay's clock
    future = times.groupby("user")[["item", "at"]].apply(lambda f: dict(zip(f["item"], f["at"], strict=True)))
    clicked: dict[str, set] = {}
    person_of, top, hits = {}, {}, []

    def recommend(visit):
        served = service.recommend(visit)
        if served.arm == "taste":
            seen = service.seen[visit.person]
            top[served.recommendation_id] = [i for i in service.taste(visit.person) if i not in seen][:K]
            now = {i for i, when in future[visit.person].items() if when >= visit.at} - clicked.get(visit.person, set())
            hits.append(len(now & set(top[served.recommendation_id])))
        person_of[served.recommendation_id] = visit.person
        return served

    def feedback(recommendation_id, item, action, at):
        clicked.setdefault(person_of[recommendation_id], set()).add(item)

    sim = replay(holdout, recommend, feedback, experiment=EXPERIMENT)
    logged = sim.impressions.merge(sim.feedback.assign(clicked=True)[["recommendation_id", "item", "clicked"]],
                                   how="left")
    logged["clicked"] = logged["clicked"].astype("boolean").fillna(False).astype(bool)
    taste = logged[logged["arm"] == "taste"]
    in_target = [item in top[r] for r, item in zip(taste["recommendation_id"], taste["item"], strict=True)]
    estimate = off_policy_ctr(taste["recommendation_id"], taste["clicked"], taste["propensity"], in_target,
                              target_size=K)
    truth = sum(hits) / (K * len(hits))
    se = (estimate.ips_high - estimate.ips_low) / (2 * 1.959964)
    assert abs(estimate.ips - truth) < 3.5 * se, (estimate, truth)
    assert estimate.recommendations == len(hits)
    assert truth > taste["clicked"].mean()  # exploration costs clicks: the estimate is not the logged CTR


def test_window_days_clicks_only_what_is_taken_soon_after_the_visit():
    day = 86400.0
    holdout = make_events(user=["p", "p"], item=["soon", "later"], value=1.0, timestamp=[0.0, 10 * day],
                          team="acme")

    def recommend(visit):
        return Served(f"r{visit.index}", ["soon", "later"])

    whole = replay(holdout, recommend)
    assert sorted(whole.feedback["item"]) == ["later", "soon"]  # the first visit finds both
    week = replay(holdout, recommend, window_days=7)
    assert list(week.feedback["item"]) == ["soon", "later"]  # "later" only at its own visit
    assert list(week.feedback["recommendation_id"]) == ["r0", "r1"]
    assert wanted_now({"x": 5.0}, "x", 5.0, 0) and not wanted_now({"x": 5.0}, "x", 6.0)
    assert wanted_now({"x": -np.inf}, "x", -np.inf, 1)  # no times: the whole hold-out is the future
    with pytest.raises(DataError, match="window_days"):
        replay(holdout, recommend, window_days=-1)


def test_clickable_visit_clicks_only_the_visits_own_item():
    holdout = make_events(user=["p", "p", "q"], item=["a", "b", "a"], value=1.0, timestamp=np.nan, team="acme")
    asked = []

    def recommend(visit):
        asked.append(visit.item)
        return Served(f"r{visit.index}", ["a", "b"])

    sim = replay(holdout, recommend, clickable="visit", seed=4)
    assert sorted(asked) == ["a", "a", "b"]  # every visit knows the item it was made for
    clicks = sim.feedback.merge(sim.impressions.drop_duplicates("recommendation_id"), on="recommendation_id")
    assert len(sim.feedback) == 3 and not sim.feedback["recommendation_id"].duplicated().any()
    assert sorted(zip(clicks["person"], clicks["item_x"], strict=True)) == [("p", "a"), ("p", "b"), ("q", "a")]
    # With the whole future clickable, p's first visit takes both of p's items at once.
    assert replay(holdout, recommend, seed=4).feedback["recommendation_id"].duplicated().any()
    with pytest.raises(DataError, match="clickable"):
        replay(holdout, recommend, clickable="all")
