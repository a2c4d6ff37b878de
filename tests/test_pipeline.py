"""The pure per-team functions a batch engine calls: fit_team and recommend_team."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from teamrec.data.events import make_events
from teamrec.data.matrix import MatrixConfig
from teamrec.pipeline import TeamConfig, fit_team, recommend_team
from teamrec.recommender import TeamModel


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
    config = TeamConfig(algorithm=algorithm, params={"neighbors": 10}, matrix=MatrixConfig(log1p=True))
    out = recommend_team(events, config, k=5)
    assert list(out.columns) == ["team", "user", "rank", "item", "score"]
    assert (out["team"] == "acme").all()
    assert out.groupby("user")["rank"].apply(lambda r: list(r) == list(range(1, len(r) + 1))).all()
    assert out.groupby("user").size().max() <= 5
    seen = set(zip(events["user"], events["item"], strict=True))
    assert not any((u, i) in seen for u, i in zip(out["user"], out["item"], strict=True))
    # Same-community channels: the structure is learnt.
    same = out["user"].str[1:].astype(int) % 2 == out["item"].str[1:].astype(int) % 2
    assert same.mean() > 0.9
    assert (out.groupby("user")["score"].apply(lambda s: s.is_monotonic_decreasing)).all()


def test_recommend_team_hides_private_channels_from_non_members():
    events = generated_events(n_users=20, n_items=10)
    items = pd.DataFrame({"team": "acme", "item": ["C0"], "name": ["secret"], "private": [True]})
    members = set(events.loc[events["item"] == "C0", "user"])
    out = recommend_team(events, TeamConfig(), k=10, items=items)
    assert not out.loc[out["item"] == "C0", "user"].isin(set(events["user"]) - members).any()
    assert (out["item"] != "C0").all()  # members already have it, others may not see it


def test_fit_team_takes_one_team_only():
    both = pd.concat([generated_events("a"), generated_events("b")], ignore_index=True)
    with pytest.raises(ValueError, match="one team"):
        fit_team(both)
