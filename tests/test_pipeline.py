"""The pure per-team functions a batch engine calls: fit_team, recommend_team and the similar
items / people frames, built on the one team spec and the one policy."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from teamrec.data.events import make_events
from teamrec.pipeline import fit_team, recommend_team, similar_items_team, similar_people_team
from teamrec.recommender import TeamModel
from teamrec.spec import TeamSpec


def generated_events(team: str = "acme", n_users: int = 40, n_items: int = 25, seed: int = 0) -> pd.DataFrame:
    """Two communities (even / odd channels) with message counts and a few reactions."""
    rng = np.random.default_rng(seed)
    users, items, values, kinds = [], [], [], []
    for u in range(n_users):
        own = [i for i in range(n_items) if i % 2 == u % 2 and rng.random() < 0.4]
        for i in own:
            users.append(f"U{u}")
            items.append(f"C{i}")
            values.append(float(rng.integers(1, 20)))
            kinds.append("message")
        for i in own[:2]:
            users.append(f"U{u}")
            items.append(f"C{i}")
            values.append(1.0)
            kinds.append("reaction")
    return make_events(user=users, item=items, value=values, kind=kinds, timestamp=1.7e9, team=team)


def test_fit_team_gives_a_team_model():
    model = fit_team(generated_events())
    assert isinstance(model, TeamModel) and model.team == "acme"
    assert model.algorithm.name == "item-knn"
    results = model.recommend("U0", k=3)
    assert results and all(int(r.id[1:]) % 2 == 0 for r in results)


@pytest.mark.parametrize("algorithm", ["item-knn", "user-knn", "cooccurrence", "knn-regression"])
def test_recommend_team_rows(algorithm):
    events = generated_events()
    config = TeamSpec(algorithm=algorithm, params={"neighbors": 10}, matrix={"log1p": True})
    out = recommend_team(events, config, k=5)
    assert list(out.columns) == ["team", "user", "rank", "item", "score", "fallback"]
    assert (out["team"] == "acme").all()
    assert out.groupby("user")["rank"].apply(lambda r: list(r) == list(range(1, len(r) + 1))).all()
    assert out.groupby("user").size().max() <= 5
    seen = set(zip(events["user"], events["item"], strict=True))
    assert not any((u, i) in seen for u, i in zip(out["user"], out["item"], strict=True))
    # Same-community channels: the structure is learnt.
    same = out["user"].str[1:].astype(int) % 2 == out["item"].str[1:].astype(int) % 2
    assert same.mean() > 0.9
    model = out[~out["fallback"]]
    assert (model.groupby("user")["score"].apply(lambda s: s.is_monotonic_decreasing)).all()


@pytest.mark.parametrize("algorithm", ["item-knn", "user-knn", "als", "ease"])
def test_batch_rows_are_what_the_service_serves(algorithm):
    """The batch output is the policy's list: the same as TeamModel.recommend person by person,
    popularity fill included (issue 10: batch had no fill, so people got 8 items, not 10)."""
    events = generated_events()
    spec = TeamSpec(algorithm=algorithm)
    model = fit_team(events, spec)
    out = recommend_team(events, spec, k=10)
    for user, rows in out.groupby("user"):
        served = model.recommend(user, k=10)
        assert rows["item"].tolist() == [r.id for r in served]
        assert rows["fallback"].tolist() == [r.details.get("fallback") == "popularity" for r in served]


def test_batch_fills_to_k_like_the_service():
    events = generated_events(n_users=30, n_items=40)
    out = recommend_team(events, TeamSpec(algorithm="item-knn", params={"neighbors": 2}), k=10)
    sizes = out.groupby("user").size()
    # every person gets k items unless fewer are left to show them
    seen = events.groupby("user")["item"].nunique()
    assert (sizes == np.minimum(10, 40 - seen.reindex(sizes.index))).all()
    assert out["fallback"].any()


def test_similar_items_and_people_frames():
    events = generated_events()
    items = pd.DataFrame({"team": "acme", "item": ["C0"], "name": ["secret"], "private": [True]})
    sims = similar_items_team(events, TeamSpec(), k=3, items=items)
    assert list(sims.columns) == ["team", "item", "rank", "similar", "score"]
    assert "C0" not in set(sims["item"]) and "C0" not in set(sims["similar"])
    assert (sims["item"] != sims["similar"]).all() and sims.groupby("item").size().max() <= 3
    people = similar_people_team(events, TeamSpec(algorithm="als"), k=4)  # falls back to user-knn
    assert list(people.columns) == ["team", "user", "rank", "similar", "score"]
    assert (people["user"] != people["similar"]).all() and people.groupby("user").size().max() <= 4
    assert people.groupby("user")["rank"].apply(lambda r: list(r) == list(range(1, len(r) + 1))).all()


def test_leave_and_dismiss_are_never_recommended_and_leave_ends_membership():
    events = generated_events()
    extra = make_events(user=["U0", "U0"], item=["C2", "C4"], value=1.0, kind=["leave", "dismiss"],
                        timestamp=1.8e9, team="acme")
    model = fit_team(pd.concat([events, extra], ignore_index=True))
    had_c2 = ((events["user"] == "U0") & (events["item"] == "C2")).any()
    assert had_c2  # U0 was in C2 before leaving
    assert model.data.matrix[model.data.find_user("U0"), model.data.find_item("C2")] == 0
    served = [r.id for r in model.recommend("U0", k=25)]
    assert "C2" not in served and "C4" not in served


def test_recommend_team_hides_private_channels_from_non_members():
    events = generated_events(n_users=20, n_items=10)
    items = pd.DataFrame({"team": "acme", "item": ["C0"], "name": ["secret"], "private": [True]})
    members = set(events.loc[events["item"] == "C0", "user"])
    out = recommend_team(events, TeamSpec(), k=10, items=items)
    assert not out.loc[out["item"] == "C0", "user"].isin(set(events["user"]) - members).any()
    assert (out["item"] != "C0").all()  # members already have it, others may not see it


def test_an_archived_channel_is_in_no_batch_output():
    events = generated_events(n_users=30, n_items=12)
    plain = recommend_team(events, TeamSpec(), k=10)
    archived = plain["item"].value_counts().index[0]  # the channel served most, until archived
    items = pd.DataFrame({"team": "acme", "item": [archived], "name": ["old"], "archived": [True]})
    assert archived not in set(recommend_team(events, TeamSpec(), k=10, items=items)["item"])
    before = similar_items_team(events, TeamSpec(), k=6).groupby("item")["similar"].apply(list)
    assert any(archived in others for others in before)
    after = similar_items_team(events, TeamSpec(), k=5, items=items).groupby("item")["similar"].apply(list)
    # each list is the one before without the archived channel (the next one moves up)
    assert after.to_dict() == {i: [o for o in others if o != archived][:5] for i, others in before.items()}


def test_fit_team_takes_one_team_only():
    both = pd.concat([generated_events("a"), generated_events("b")], ignore_index=True)
    with pytest.raises(ValueError, match="one team"):
        fit_team(both)


def test_evaluation_ranks_the_served_list():
    """Offline evaluation measures what people get: the policy's list, fill included."""
    from teamrec.algorithms.registry import create
    from teamrec.policy import served_items

    model = fit_team(generated_events(), TeamSpec(algorithm="item-knn", params={"neighbors": 2}))
    users = np.arange(model.data.n_users)
    raw, _ = model.algorithm.recommend(users, 10)
    served = served_items(model.algorithm, users, 10)
    assert (raw < 0).any() and (served >= 0).sum() > (raw >= 0).sum()  # the fill counts too
    batch = model.recommend_many(k=10)
    for u in users[:10]:
        ids = model.data.items.id_of(served[u][served[u] >= 0]).tolist()
        assert batch.loc[batch["user"] == model.data.users.id_of(u), "item"].tolist() == ids
    assert create("popularity")  # the fallback is the registry's popularity
