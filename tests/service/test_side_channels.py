"""Privacy side channels (issue 11): what an anonymous reader, or a non-member named with
``viewer=``, is told is computed from what that reader may see. A hidden membership moves no
score, no count and no error message, through HTTP."""

from __future__ import annotations

from collections.abc import Iterator

import pandas as pd
import pytest

from teamrec.data.dataset import Dataset
from teamrec.service import create_app
from teamrec.store import MemoryEventStore

from .conftest import KEYS, TestClient, make_settings

S = "/api/v1/teams/side"
SIDE_KEY = {"X-API-Key": "side-read-key-0123456789abc"}

#: u, a and b share P1 and P2; u and a also share the private channel H. v is in no private
#: channel. Two private channels share the name "plans"; "design" is public and private.
CHANNELS = {
    "P1": ("general", ["u", "a", "b", "v", "w"], False),
    "P2": ("design", ["u", "a", "b", "w"], False),
    "P3": ("random", ["v", "w"], False),
    "H": ("hidden-board", ["u", "a"], True),
    "H2": ("plans", ["u"], True),
    "H3": ("plans", ["a"], True),
    "H4": ("design", ["u", "a"], True),
}


@pytest.fixture(scope="module")
def side(globex_dir, tmp_path_factory) -> Iterator[TestClient]:
    rows = [(person, c) for c, (_, people, _) in CHANNELS.items() for person in people]
    events = pd.DataFrame({"team": "side", "user": [p for p, _ in rows], "item": [c for _, c in rows],
                           "kind": "member", "value": 1.0, "timestamp": 1.7e9})
    items = pd.DataFrame({"team": "side", "item": list(CHANNELS), "name": [c[0] for c in CHANNELS.values()],
                          "description": "", "private": [c[2] for c in CHANNELS.values()], "archived": False})
    users = pd.DataFrame({"team": "side", "user": ["u", "a", "b", "v", "w"],
                          "name": ["Uma", "Abe", "Bea", "Vic", "Wes"]})
    folder = Dataset(events=events, items=items, users=users, info={"format": "csv"}).save(
        tmp_path_factory.mktemp("side") / "side")
    base = make_settings(globex_dir)
    teams = {**{k: v.model_dump(exclude_defaults=True) for k, v in base.teams.items()},
             "side": {"source": str(folder), "algorithm": "user-knn",
                      "matrix": {"kinds": ["member"], "binary": True}}}
    keys = [{"team": "demo", "key": KEYS["demo-read"], "scopes": ["read"]},
            {"team": "globex", "key": KEYS["globex-admin"], "scopes": ["admin"]},
            {"team": "side", "key": SIDE_KEY["X-API-Key"], "scopes": ["read"]}]
    app = create_app(make_settings(globex_dir, teams=teams, keys=keys), store=MemoryEventStore())
    with TestClient(app) as client:
        yield client


def _scores(response) -> dict[str, float]:
    assert response.status_code == 200, response.text
    return {r["id"]: r["score"] for r in response.json()["results"]}


def test_people_like_you_scores_ignore_a_hidden_channel(side):
    # With u's own view, the shared private channel H makes a closer than b.
    own = _scores(side.get(f"{S}/people/u/similar", headers=SIDE_KEY))
    assert own["a"] > own["b"]
    # An anonymous reader and a non-member (v) see the same public overlap for a and b: the
    # same score, and nothing that ranks one above the other because of H.
    for params, headers in (({}, {}), ({"viewer": "v"}, SIDE_KEY)):
        seen = _scores(side.get(f"{S}/people/u/similar", params=params, headers=headers))
        assert seen["a"] == pytest.approx(seen["b"]), (params, seen)
        body = side.get(f"{S}/people/u/similar", params=params, headers=headers).json()
        assert body["user"]["items"] == 2  # u's count of what this reader may see: P1, P2
        assert all(r["details"]["shared"] == 2 for r in body["results"] if r["id"] in ("a", "b"))
    # A member of H (a) asking sees it count.
    member = _scores(side.get(f"{S}/people/u/similar", params={"viewer": "a"}, headers=SIDE_KEY))
    assert member["a"] > member["b"]


def test_a_persons_item_count_is_of_what_the_reader_may_see(side):
    assert side.get(f"{S}/people/a").json()["items"] == 2
    assert side.get(f"{S}/people/a", params={"viewer": "v"}, headers=SIDE_KEY).json()["items"] == 2
    assert side.get(f"{S}/people/a", params={"viewer": "a"}, headers=SIDE_KEY).json()["items"] == 5
    found = {p["id"]: p["items"] for p in side.get(f"{S}/people", params={"q": ""}).json()["results"]}
    assert found == {"u": 2, "a": 2, "b": 2, "v": 2, "w": 3}
    # The default order (most items first) is of the visible counts too: w leads for a reader
    # who cannot see that a and u have 5 and 4 items.
    assert side.get(f"{S}/people").json()["results"][0]["id"] == "w"


def test_a_private_name_is_neither_ambiguous_nor_counted_for_a_non_member(side):
    for params, headers in (({}, {}), ({"viewer": "v"}, SIDE_KEY)):
        response = side.get(f"{S}/items/plans", params=params, headers=headers)
        assert response.status_code == 404, response.text
        assert "2 items" not in response.text and "have that name" not in response.text
        # "design" is public and private: the reader gets the public one, not an ambiguity.
        design = side.get(f"{S}/items/design", params=params, headers=headers)
        assert design.status_code == 200 and design.json()["id"] == "P2"
        similar = side.get(f"{S}/items/%23design/similar", params=params, headers=headers)
        assert similar.status_code == 200 and similar.json()["item"]["id"] == "P2"
    # A member of both private "design" and the public one is told the name is ambiguous.
    both = side.get(f"{S}/items/design", params={"viewer": "u"}, headers=SIDE_KEY)
    assert both.status_code == 404 and "2 items have that name" in both.json()["message"]


def test_model_figures_say_nothing_of_private_items_without_the_key(side):
    anonymous = side.get(f"{S}/model").json()
    keyed = side.get(f"{S}/model", headers=SIDE_KEY).json()
    assert keyed["private_items"] == 4 and keyed["items"] == 7
    assert anonymous["private_items"] is None and anonymous["items"] == 3
    assert anonymous["interactions"] == 11 and keyed["interactions"] == 17
    listed = {t["name"]: t["items"] for t in side.get("/api/v1/teams").json()["teams"]}
    assert listed["side"] == 3
