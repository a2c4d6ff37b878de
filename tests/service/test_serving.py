"""The serving index answers exactly what ``TeamModel.recommend`` answers (it only precomputes
the lookups), for several algorithms, with privacy, exclusions, candidates, short lists that
popularity fills, and people the model has never seen."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from teamrec import TeamModel, build_matrix
from teamrec.data.dataset import Dataset
from teamrec.demo import DEMO_MATRIX, demo_dataset
from teamrec.service.serving import ServingIndex


def sparse_team(seed: int = 3) -> Dataset:
    """60 people, 80 items (8 private), few interactions each: short neighbourhood lists."""
    rng = np.random.default_rng(seed)
    users = np.repeat(np.arange(60), 4)
    items = rng.integers(0, 80, size=len(users))
    events = pd.DataFrame({"team": "t", "user": [f"u{u}" for u in users], "item": [f"i{i}" for i in items],
                           "kind": "member", "value": 1.0, "timestamp": np.nan})
    meta = pd.DataFrame({"team": "t", "item": [f"i{i}" for i in range(80)], "name": [f"item {i}" for i in range(80)],
                         "private": [i % 10 == 0 for i in range(80)]})
    return Dataset(events=events, items=meta)


def as_dicts(results):
    return [r.to_dict() for r in results]


def same(a, b):
    assert [(r["id"], r["name"], r["reason"], r["details"]) for r in a] == [
        (r["id"], r["name"], r["reason"], r["details"]) for r in b
    ]
    np.testing.assert_allclose([r["score"] for r in a], [r["score"] for r in b])


CASES = [
    ("demo", "item-knn"), ("demo", "user-knn"), ("demo", "popularity"), ("demo", "cooccurrence"),
    ("sparse", "item-knn"), ("sparse", "user-knn"),
]


@pytest.fixture(scope="module")
def datasets():
    return {"demo": (demo_dataset(), DEMO_MATRIX), "sparse": (sparse_team(), None)}


@pytest.mark.parametrize("data, algorithm", CASES)
def test_same_answers_as_the_team_model(datasets, data, algorithm):
    dataset, config = datasets[data]
    model = TeamModel.fit(build_matrix(dataset, config=config), algorithm)
    index = ServingIndex(model)
    rng = np.random.default_rng(0)
    ids = list(index.user_ids)
    items = list(index.item_ids)
    for user in rng.choice(ids, size=40, replace=False).tolist() + ["someone-new"]:
        for k in (1, 5, 25):
            same(index.recommend(user, k), as_dicts(model.recommend(user, k)))
        exclude = rng.choice(items, size=5, replace=False).tolist() + ["not-an-item"]
        candidates = rng.choice(items, size=15, replace=False).tolist()
        same(index.recommend(user, 8, exclude=exclude), as_dicts(model.recommend(user, 8, exclude=exclude)))
        same(index.recommend(user, 8, candidates=candidates), as_dicts(model.recommend(user, 8, candidates=candidates)))
        same(
            index.recommend(user, 8, exclude=exclude, candidates=candidates),
            as_dicts(model.recommend(user, 8, exclude=exclude, candidates=candidates)),
        )
    # Names and handles work like ids.
    same(index.recommend("Hana Abbott" if data == "demo" else ids[0], 5),
         as_dicts(model.recommend("Hana Abbott" if data == "demo" else ids[0], 5)))


def test_the_popular_list_is_cached_but_never_shared(datasets):
    dataset, config = datasets["demo"]
    index = ServingIndex(TeamModel.fit(build_matrix(dataset, config=config), "item-knn"))
    first = index.popular(3)
    first[0]["name"] = "changed by a caller"
    assert index.popular(3)[0]["name"] == "general"


def test_search_never_lists_private_items_to_others(datasets):
    dataset, _ = datasets["sparse"]
    model = TeamModel.fit(build_matrix(dataset), "item-knn")
    index = ServingIndex(model)
    listed = {r["id"] for r in index.search_items("item", limit=100)}
    assert listed == {i for i in index.item_ids if int(i[1:]) % 10}
    private = int(np.flatnonzero(index.private)[0])
    member = index.user_ids[int(model.data.members[:, private].nonzero()[0][0])]
    name = index.item_names[private]
    assert [r["name"] for r in index.search_items(name, viewer=member)][0] == name
    assert name not in {r["name"] for r in index.search_items(name)}


def test_names_resolve_like_the_matrix_does():
    from teamrec.errors import UnknownIdError

    events = pd.DataFrame({"team": "t", "user": ["a", "b", "c", "a"], "item": ["x", "x", "y", "y"],
                           "kind": "member", "value": 1.0, "timestamp": np.nan})
    users = pd.DataFrame({"team": "t", "user": ["a", "b", "c"], "name": ["Sam Lee", "Sam Lee", "Kim Ode"],
                          "handle": ["sam1", "sam2", "kim"]})
    items = pd.DataFrame({"team": "t", "item": ["x", "y"], "name": ["General", "ml"]})
    model = TeamModel.fit(build_matrix(Dataset(events=events, users=users, items=items)), "item-knn")
    index = ServingIndex(model)
    for key in ("a", "kim", "@KIM", "Kim Ode", "sam2"):
        assert index.user_index(key) == model.data.find_user(key)
    for key in ("#general", "ML", "x"):
        assert index.item_index(key) == model.data.find_item(key)
    for find in (index.user_index, model.data.find_user):
        with pytest.raises(UnknownIdError, match="2 users have that name; use the id"):
            find("sam lee")
        with pytest.raises(UnknownIdError):
            find("nobody")


def test_a_model_is_warmed_before_it_serves():
    """KNN with baselines keeps every row of estimates from the start: no request pays for a
    first computation."""
    from teamrec.service.settings import TeamSettings
    from teamrec.service.training import train
    from teamrec.store import MemoryEventStore

    team = TeamSettings.model_validate({"format": "demo", "algorithm": "knn-baseline"})
    trained = train("demo", team, MemoryEventStore())
    assert trained.model.algorithm._cached.all()
