"""TeamModel: privacy everywhere, fallbacks with reasons, names, and the save/load round trip."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from teamrec.data.dataset import Dataset
from teamrec.data.matrix import InteractionMatrix, MatrixConfig, build_matrix
from teamrec.errors import AccessDeniedError, UnknownIdError
from teamrec.recommender import TeamModel

PEOPLE = {
    "U1": ("Ana Lopez", "ana"),
    "U2": ("Ben Okafor", "ben"),
    "U3": ("Cat Novak", "cat"),
    "U4": ("Dan Weiss", "dan"),
    "U5": ("Eve Tanaka", "eve"),
    "U6": ("Fay Moreau", "fay"),
    "U7": ("Gus Adeyemi", "gus"),
}
#: channel id -> (name, private, members)
CHANNELS = {
    "C1": ("general", False, ["U1", "U2", "U3", "U4", "U5", "U6", "U7"]),
    "C2": ("ml", False, ["U1", "U2", "U3", "U7"]),
    "C3": ("data", False, ["U1", "U2", "U4", "U7"]),
    "C4": ("secret-ml", True, ["U1", "U2", "U3"]),
    "C5": ("random", False, ["U4", "U5", "U6"]),
    "C6": ("stats", False, ["U3", "U5", "U7"]),
    "C7": ("ml-papers", False, ["U1", "U3"]),
}
SECRET = "C4"
NON_MEMBERS = ["U4", "U5", "U6", "U7"]
ALGORITHMS = ["item-knn", "user-knn", "cooccurrence", "knn-regression", "popularity"]


def team_frames() -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """A Slack-like team: membership plus some message counts, with one private channel."""
    rows = []
    rng = np.random.default_rng(0)
    for item, (_, _, members) in CHANNELS.items():
        for user in members:
            rows.append(("acme", user, item, "member", 1.0, 1.7e9))
            rows.append(("acme", user, item, "message", float(rng.integers(1, 9)), 1.7e9))
    events = pd.DataFrame(rows, columns=["team", "user", "item", "kind", "value", "timestamp"])
    items = pd.DataFrame(
        [("acme", c, name, "", private, False) for c, (name, private, _) in CHANNELS.items()],
        columns=["team", "item", "name", "description", "private", "archived"],
    )
    users = pd.DataFrame(
        [("acme", u, name, handle) for u, (name, handle) in PEOPLE.items()], columns=["team", "user", "name", "handle"]
    )
    return events, items, users


def team_data(config: MatrixConfig | None = None) -> InteractionMatrix:
    events, items, users = team_frames()
    return build_matrix(Dataset(events=events, items=items, users=users), config=config or MatrixConfig())


@pytest.fixture(scope="module")
def data() -> InteractionMatrix:
    return team_data()


@pytest.fixture(scope="module", params=ALGORITHMS)
def model(request, data) -> TeamModel:
    return TeamModel.fit(data, request.param)


def mentions_secret(results) -> bool:
    return any(r.id == SECRET or "secret" in (r.reason or "") or "secret" in str(r.details) for r in results)


# -- privacy ----------------------------------------------------------------------------------
def test_the_private_channel_would_win_without_the_privacy_rules(data):
    # The test below means something: item-knn, asked directly, offers #secret-ml to Gus.
    raw = TeamModel.fit(data, "item-knn").algorithm
    items, _ = raw.recommend([data.find_user("U7")], k=3)
    assert data.find_item(SECRET) in items[0]


def test_private_channel_never_recommended_to_non_members(model):
    for user in NON_MEMBERS:
        results = model.recommend(user, k=10, explain=True)
        assert results, user
        assert not mentions_secret(results), (user, results)
    batch = model.recommend_many(k=10)
    assert not ((batch["item"] == SECRET) & batch["user"].isin(NON_MEMBERS)).any()


def test_private_channel_never_offered_as_similar_to_non_members(model):
    for viewer in [None, *NON_MEMBERS]:
        for item in ["C1", "C2", "C3", "C6", "#ml-papers"]:
            results = model.similar_items(item, k=10, viewer=viewer)
            assert not mentions_secret(results), (viewer, item, results)


def test_members_see_the_private_channel_among_similar_ones(data):
    model = TeamModel.fit(data, "item-knn")
    assert SECRET in [r.id for r in model.similar_items("#ml", k=5, viewer="ana")]
    assert SECRET not in [r.id for r in model.similar_items("#ml", k=5)]
    assert [r.name for r in model.similar_items("secret-ml", k=2, viewer="U2")]  # a member may ask


def test_asking_about_a_private_channel_from_outside_is_denied(model):
    with pytest.raises(AccessDeniedError):
        model.similar_items("secret-ml", viewer="dan")
    with pytest.raises(AccessDeniedError):
        model.similar_items("#secret-ml")
    with pytest.raises(AccessDeniedError):
        model.explain("gus", "secret-ml")


def test_explanations_and_reasons_never_name_the_private_channel_to_non_members(model, data):
    for user in NON_MEMBERS:
        for item in ["C1", "C2", "C3", "C5", "C6", "C7"]:
            result = model.explain(user, item)
            assert "secret" not in (result.reason or "") and "secret" not in str(result.details)
        people = model.similar_users(user, k=6)
        assert people and not mentions_secret(people)


def test_members_get_reasons_naming_their_private_channel(data):
    model = TeamModel.fit(data, "item-knn")
    # Cat is in #secret-ml; it is a natural reason for her to look at #data or #ml-papers.
    reasons = [model.explain("cat", item).reason or "" for item in ["C3"]]
    assert any("#secret-ml" in r for r in reasons), reasons


# -- archived items ---------------------------------------------------------------------------
ARCHIVED = "C2"  # #ml: near the top of most lists until it is archived


def archived_data() -> InteractionMatrix:
    events, items, users = team_frames()
    items.loc[items["item"] == ARCHIVED, "archived"] = True
    return build_matrix(Dataset(events=events, items=items, users=users), config=MatrixConfig())


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_an_archived_item_is_never_recommended_or_similar_for_anyone(algorithm, tmp_path):
    data = archived_data()
    a = data.find_item(ARCHIVED)
    assert data.archived.tolist() == [i == a for i in range(data.n_items)]
    model = TeamModel.fit(data, algorithm)
    # The rule means something: unarchived, the same model offers it to someone and lists it.
    plain = TeamModel.fit(team_data(), algorithm)
    assert any(ARCHIVED in [r.id for r in plain.recommend(u, k=10)] for u in ["U5", "U6"])
    assert any(ARCHIVED in [r.id for r in plain.similar_items(i, k=10)] for i in ["C1", "C3", "C7"])
    for loaded in (model, TeamModel.load(model.save(tmp_path / "m"))):
        for user in [*PEOPLE, "newcomer"]:
            for public_only in (False, True):
                results = loaded.recommend(user, k=10, explain=True, public_only=public_only)
                assert results and ARCHIVED not in [r.id for r in results], (user, results)
        fresh = np.zeros((1, data.n_items))
        fresh[0, data.find_item("C3")] = 1.0  # a newcomer's first event, folded in
        assert ARCHIVED not in [r.id for r in loaded.recommend("newcomer", k=10, user_items=fresh)]
        assert ARCHIVED not in set(loaded.recommend_many(k=10)["item"])
        for viewer in [None, "U1", "U2"]:  # members of #ml too
            for item in CHANNELS:
                if item != SECRET or viewer is not None:
                    assert ARCHIVED not in [r.id for r in loaded.similar_items(item, k=10, viewer=viewer)]
        assert [r.id for r in loaded.similar_items(ARCHIVED, k=2)]  # it may still be asked about


# -- people, names, fallbacks ------------------------------------------------------------------
def test_people_and_items_by_id_name_or_handle(data):
    model = TeamModel.fit(data, "item-knn", {"shrinkage": 0.0})  # cosine itself, on a tiny team
    by_id = model.recommend("U7", k=3)
    assert [r.id for r in model.recommend("Gus Adeyemi", k=3)] == [r.id for r in by_id]
    assert [r.id for r in model.recommend("gus", k=3)] == [r.id for r in by_id]
    assert by_id[0].name in {"ml-papers", "random"}
    assert model.similar_items("#ml", k=1)[0].name == "ml-papers"
    with pytest.raises(UnknownIdError):
        model.similar_items("#nope")


def test_unknown_person_gets_popular_public_channels_with_a_reason(model):
    results = model.recommend("somebody-new", k=4)
    assert [r.id for r in results][:1] == ["C1"]
    assert all(r.reason == "new here: popular in this team" for r in results)
    assert SECRET not in [r.id for r in results]


def test_short_lists_are_filled_with_popular_channels(data):
    # With two neighbours per channel, Fay (#general, #random) has evidence for few channels.
    model = TeamModel.fit(data, "item-knn", {"neighbors": 1})
    results = model.recommend("fay", k=4, explain=True)
    assert len(results) == 4
    filled = [r for r in results if r.details.get("fallback") == "popularity"]
    assert filled and all(r.reason == "popular in this team" for r in filled)
    assert SECRET not in [r.id for r in results]
    assert len({r.id for r in results}) == 4


def test_people_like_you_with_any_algorithm(data):
    for algorithm in ["item-knn", "user-knn", "cooccurrence", "popularity"]:
        people = TeamModel.fit(data, algorithm).similar_users("ana", k=3)
        assert people[0].id == "U2" and people[0].name == "Ben Okafor"  # Ben shares 4 channels with Ana
        assert "you share" in people[0].reason


def test_item_knn_explains_with_the_persons_channels(data):
    model = TeamModel.fit(data, "item-knn")
    result = model.recommend("gus", k=1, explain=True)[0]
    assert result.reason.startswith("because you are in #")
    assert all(c["kind"] == "item" for c in result.details["contributions"])


def test_user_knn_explains_with_people(data):
    model = TeamModel.fit(data, "user-knn")
    result = model.recommend("fay", k=1, explain=True)[0]
    assert result.reason.startswith("people like you are here: ")
    assert result.details["contributions"][0]["kind"] == "user"


# -- persistence ----------------------------------------------------------------------------
@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_save_load_round_trip(data, algorithm, tmp_path):
    model = TeamModel.fit(data, algorithm)
    loaded = TeamModel.load(model.save(tmp_path / "model"))
    assert loaded.algorithm.get_params() == model.algorithm.get_params()
    for user in ["ana", "gus", "fay", "stranger"]:
        assert [r.to_dict() for r in loaded.recommend(user, k=5, explain=True)] == [
            r.to_dict() for r in model.recommend(user, k=5, explain=True)
        ]
    assert [r.id for r in loaded.similar_items("#ml", k=5, viewer="ben")] == [
        r.id for r in model.similar_items("#ml", k=5, viewer="ben")
    ]
    with pytest.raises(AccessDeniedError):
        loaded.similar_items("#secret-ml", viewer="gus")
    pd.testing.assert_frame_equal(loaded.recommend_many(k=3), model.recommend_many(k=3))


def test_items_that_are_not_channels_are_worded_as_items():
    """Films or articles: no '#', nobody is "in" them."""
    events, items, users = team_frames()
    plain = build_matrix(
        Dataset(events=events[events["kind"] == "message"], items=items, users=users), config=MatrixConfig()
    )
    assert plain.item_kind == "item"
    model = TeamModel.fit(plain, "item-knn")
    result = model.recommend("gus", k=1, explain=True)[0]
    assert result.reason.startswith("similar to what you have: ") and "#" not in result.reason
    like = model.similar_items("ml", k=1)[0]
    assert re.fullmatch(r"\d+ of the 4 people with ml also have [\w-]+", like.reason), like.reason
    assert "#" not in TeamModel.fit(plain, "user-knn").recommend("fay", k=1, explain=True)[0].reason


def test_item_kind_survives_save_and_load(data, tmp_path):
    model = TeamModel.fit(data, "item-knn")
    model.save(tmp_path / "m")
    assert data.item_kind == "channel" and TeamModel.load(tmp_path / "m").data.item_kind == "channel"


def test_a_saved_models_tables_are_mapped_arrow_and_older_parquet_folders_still_load(data, tmp_path):
    """Item and person tables load memory-mapped from Arrow files, equal to what was saved;
    a folder written before (Parquet tables) loads the same (issue 11: no stalls)."""
    model = TeamModel.fit(data, "item-knn")
    folder = model.save(tmp_path / "m")
    assert {p.name for p in folder.glob("*.arrow")} == {"items.arrow", "users.arrow"}
    loaded = TeamModel.load(folder)
    pd.testing.assert_frame_equal(loaded.data.item_meta, model.data.item_meta.reset_index(drop=True))
    pd.testing.assert_frame_equal(loaded.data.user_meta, model.data.user_meta.reset_index(drop=True))
    for name in ("items", "users"):  # as an older teamrec wrote the folder
        frame = pd.read_feather(folder / f"{name}.arrow")
        (folder / f"{name}.arrow").unlink()
        frame.to_parquet(folder / f"{name}.parquet", index=False)
    older = TeamModel.load(folder)
    pd.testing.assert_frame_equal(older.data.item_meta, loaded.data.item_meta)
    assert [r.to_dict() for r in older.recommend("ana", k=5, explain=True)] == [
        r.to_dict() for r in model.recommend("ana", k=5, explain=True)
    ]


def test_a_results_dict_has_every_field_and_its_own_details(data):
    """``Result.to_dict`` is written out for speed: it must still say what ``asdict`` says
    (a field added later and not written there fails here), and be the caller's to change."""
    import dataclasses

    model = TeamModel.fit(data, "item-knn")
    for result in model.recommend("gus", k=3, explain=True) + model.recommend("gus", k=3):
        out = result.to_dict()
        assert out == dataclasses.asdict(result)
        out["details"].setdefault("changed", []).append(1)
        assert "changed" not in result.details
