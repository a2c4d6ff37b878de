"""The serving index: search for the pickers and names resolved like the matrix does.
(Recommendations are no longer mirrored here: the one policy answers them, see
tests/service/test_online.py and tests/test_policy.py.)"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from teamrec import TeamModel, build_matrix
from teamrec._steps import run_steps
from teamrec.data.dataset import Dataset
from teamrec.demo import DEMO_MATRIX, demo_dataset
from teamrec.errors import UnknownIdError
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


# -- the index a swap builds from the worker's prepared tables (issue 11: no stalls) ---------
def tricky_team() -> Dataset:
    """Names two items share (one of them private), names equal only once case-folded
    ("Straße" / "STRASSE"), an archived item, missing descriptions, handles and titles."""
    events = pd.DataFrame({
        "team": "t", "user": ["a", "a", "b", "b", "c", "c", "d", "e", "e"],
        "item": ["x", "y", "x", "z", "y", "w", "v", "w", "v"], "kind": "member", "value": 1.0, "timestamp": np.nan,
    })
    items = pd.DataFrame({
        "team": "t", "item": ["x", "y", "z", "w", "v"],
        "name": ["general", "Straße", "STRASSE", "general", "old"],
        "description": ["all of us", None, "caps", np.nan, ""],
        "private": [False, False, True, True, False], "archived": [False, False, False, False, True],
    })
    users = pd.DataFrame({
        "team": "t", "user": ["a", "b", "c", "d", "e"], "name": ["Sam Lee", "sam lee", "Kim Ode", "Ana", "Bo"],
        "handle": ["sam1", None, "kim", np.nan, "bo"], "title": [None, "Lead", "", np.nan, "Dev"],
    })
    return Dataset(events=events, items=items, users=users)


def index_view(index: ServingIndex) -> dict:
    """Everything an index answers from, as plain values (to compare two indexes)."""
    view = {name: getattr(index, name) for name in (
        "item_ids", "user_ids", "item_names", "user_names", "item_descriptions",
        "item_archived", "user_handles", "user_titles", "_item_keys", "_user_name_keys", "_user_handle_keys",
        "_item_order", "_user_order", "_sorted_keys", "n_public_items", "public_interactions")}
    for name in ("private", "item_size", "user_size", "public_user_size", "_by_key", "_user_name_rank"):
        view[name] = getattr(index, name).tolist()
    return view


def answers(index: ServingIndex) -> list:
    """What the pickers and name lookups answer, for every reader (anonymous and each person)."""
    out: list = []
    for viewer in [None, *index.user_ids]:
        hidden = index.hidden(index.viewer_index(viewer))
        for query in ("", "gen", "general", "strasse", "#STRASSE", "sam", "o"):
            out.append(index.search_items(query, limit=10, viewer=viewer))
            out.append(index.search_people(query, limit=10, hidden=hidden))
        for key in ("general", "#general", "straße", "old", "x", "nothing"):
            try:
                out.append(index.item_index(key, hidden))
            except UnknownIdError as exc:
                out.append(str(exc))
    return out


@pytest.mark.parametrize("team", ["tricky", "demo"])
def test_an_index_from_the_workers_tables_is_the_one_built_here(team, tmp_path):
    from teamrec.service import training
    from teamrec.service.serving import load_prepared

    dataset, config = (tricky_team(), None) if team == "tricky" else (demo_dataset(), DEMO_MATRIX)
    model = TeamModel.fit(build_matrix(dataset, config=config), "item-knn")
    here = ServingIndex(model)
    training.save_for_serving(model, tmp_path / "model")  # what the worker writes
    loaded = run_steps(training.load_folder_steps(tmp_path / "model"))
    prepared = load_prepared(tmp_path / "model", loaded)
    assert prepared is not None
    served = ServingIndex(loaded, prepared)
    assert index_view(served) == index_view(here)
    assert answers(served) == answers(here)


def test_names_shared_or_equal_once_case_folded_resolve_among_what_the_reader_sees():
    index = ServingIndex(TeamModel.fit(build_matrix(tricky_team()), "item-knn"))
    anonymous = index.hidden(None)
    assert index.item_ids[index.item_index("general", anonymous)] == "x"  # the private one is not counted
    member = index.hidden(index.viewer_index("c"))  # c is in w, the private "general"
    with pytest.raises(UnknownIdError, match="2 items have that name; use the id"):
        index.item_index("#General", member)
    assert index.item_ids[index.item_index("strasse", anonymous)] == "y"  # z (STRASSE) is private
    with pytest.raises(UnknownIdError, match="2 items have that name"):
        index.item_index("STRASSE", index.hidden(index.viewer_index("b")))


def test_tables_missing_or_for_another_model_are_not_used(tmp_path):
    from teamrec.service import training
    from teamrec.service.serving import PREPARED_DIR, load_prepared

    model = TeamModel.fit(build_matrix(tricky_team()), "item-knn")
    model.save(tmp_path / "plain")  # as `teamrec` commands save a model: no tables
    assert load_prepared(tmp_path / "plain", model) is None
    other = TeamModel.fit(build_matrix(sparse_team()), "item-knn")
    training.save_for_serving(other, tmp_path / "other")
    (tmp_path / "other" / PREPARED_DIR).rename(tmp_path / "plain" / PREPARED_DIR)
    assert load_prepared(tmp_path / "plain", model) is None
