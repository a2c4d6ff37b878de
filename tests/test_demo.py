"""The generated demo workspace: deterministic, the promised size and shape, and good enough
that its recommendations make sense."""

from __future__ import annotations

import pandas as pd
import pytest

from teamrec import TeamModel, build_matrix
from teamrec.demo import DEMO_MATRIX, DEMO_TEAM, demo_dataset


@pytest.fixture(scope="module")
def demo():
    return demo_dataset()


def test_same_seed_same_workspace(demo):
    again = demo_dataset()
    pd.testing.assert_frame_equal(demo.events, again.events)
    pd.testing.assert_frame_equal(demo.items, again.items)
    pd.testing.assert_frame_equal(demo.users, again.users)
    other = demo_dataset(seed=8)
    assert not demo.events.equals(other.events)


def test_size_and_shape(demo):
    assert demo.teams() == [DEMO_TEAM]
    assert len(demo.users) == 200 and demo.users["user"].is_unique and demo.users["name"].is_unique
    assert 55 <= len(demo.items) <= 70 and demo.items["name"].is_unique
    assert (demo.items["description"].str.len() > 10).all()  # every channel has a purpose
    assert set(demo.events["kind"]) == {"member", "message", "reply", "reaction"}
    assert demo.events["timestamp"].notna().all()
    private = demo.items[demo.items["private"]]
    assert set(private["name"]) == {"leadership", "hr-confidential", "ml-interviews", "security-incidents"}
    assert demo.items["archived"].sum() == 1
    # Everyone is in #general; each private channel has a handful of members.
    members = demo.events[demo.events["kind"] == "member"]
    per_channel = members.groupby("item")["user"].nunique()
    general = demo.items.set_index("name").loc["general", "item"]
    assert per_channel[general] == 200
    assert per_channel[private["item"]].between(3, 15).all()
    assert (members.groupby("user")["item"].nunique() >= 3).all()


def test_activity_only_where_people_are_members(demo):
    members = set(map(tuple, demo.events.loc[demo.events["kind"] == "member", ["user", "item"]].to_numpy()))
    activity = demo.events[demo.events["kind"] != "member"]
    assert len(activity) > 1000
    assert set(map(tuple, activity[["user", "item"]].to_numpy())) <= members
    assert (activity["value"] >= 1).all()


def test_channels_cluster_by_interest(demo):
    model = TeamModel.fit(build_matrix(demo, config=DEMO_MATRIX), "item-knn")
    like_ml = [r.name for r in model.similar_items("ml", 5)]
    assert set(like_ml) <= {"ml-papers", "deep-learning", "mlops", "nlp", "recsys", "ml-interviews"}
    like_bi = [r.name for r in model.similar_items("bi", 4)]
    assert {"dashboards", "sql", "data-engineering", "experimentation"} & set(like_bi)
    # Private channels never reach a non-member.
    private = set(demo.items.loc[demo.items["private"], "item"])
    members = demo.events[demo.events["item"].isin(private)]["user"]
    outsider = next(u for u in demo.users["user"] if u not in set(members))
    shown = {r.name for r in model.similar_items("ml", 30, viewer=outsider)}
    assert not shown & {"leadership", "hr-confidential", "ml-interviews", "security-incidents"}
