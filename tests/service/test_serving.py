"""The serving index: search for the pickers and names resolved like the matrix does.
(Recommendations are no longer mirrored here: the one policy answers them, see
tests/service/test_online.py and tests/test_policy.py.)"""

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


@pytest.fixture(scope="module")
def datasets():
    return {"demo": (demo_dataset(), DEMO_MATRIX), "sparse": (sparse_team(), None)}


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
