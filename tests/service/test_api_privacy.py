"""Private channels never reach a non-member: not in search, similar items, recommendations,
explanations or the reasons of people-like-you."""

from __future__ import annotations

import pytest

from teamrec.demo import demo_dataset

from .conftest import KEYS

T = "/api/v1/teams/demo"


@pytest.fixture(scope="module")
def demo():
    return demo_dataset()


@pytest.fixture(scope="module")
def private(demo):
    items = demo.items[demo.items["private"]]
    return dict(zip(items["item"], items["name"], strict=True))


@pytest.fixture(scope="module")
def membership(demo):
    members = demo.events[demo.events["kind"] == "member"]
    return members.groupby("item")["user"].agg(set).to_dict()


@pytest.fixture(scope="module")
def interviews(private):
    return next(i for i, n in private.items() if n == "ml-interviews")


@pytest.fixture(scope="module")
def member(membership, interviews):
    return sorted(membership[interviews])[0]


@pytest.fixture(scope="module")
def outsider(demo, membership, private):
    """An ML person in no private channel at all."""
    inside = set().union(*(membership[i] for i in private))
    ml = demo.users[demo.users["department"] == "ml"]["user"]
    return next(u for u in ml if u not in inside)


def names_in(text: str, private: dict) -> set[str]:
    return {n for n in private.values() if n in text}


#: The team's application: its key lets it say who is asking (``viewer=``, the path's person).
APP = {"X-API-Key": KEYS["demo-read"]}


def test_search_lists_private_channels_only_to_members(read_client, private, member, outsider):
    for viewer in (None, outsider, "someone-unknown"):
        params = {"q": "", "limit": 100, **({"viewer": viewer} if viewer else {})}
        response = read_client.get(f"{T}/items", params=params, headers=APP)
        assert response.status_code == 200 and not names_in(response.text, private)
    mine = read_client.get(f"{T}/items", params={"q": "interviews", "viewer": member}, headers=APP).json()["results"]
    assert [r["name"] for r in mine] == ["ml-interviews"] and mine[0]["private"]


def test_naming_a_viewer_needs_the_teams_key(read_client, interviews, member):
    """Anyone may read an open service, so anyone could claim to be a member."""
    for path in (f"{T}/items", f"{T}/items/{interviews}", f"{T}/items/ml/similar"):
        response = read_client.get(path, params={"viewer": member})
        assert response.status_code == 401 and "viewer= needs the team's API key" in response.json()["message"]


def test_a_private_item_is_403_for_non_members_and_unknown_to_anonymous_readers(
    read_client, interviews, member, outsider
):
    for path in (f"{T}/items/{interviews}", f"{T}/items/{interviews}/similar", f"{T}/items/ml-interviews/similar"):
        response = read_client.get(path, params={"viewer": outsider}, headers=APP)
        assert response.status_code == 403 and response.json()["error"] == "forbidden"
        assert read_client.get(path, params={"viewer": member}, headers=APP).status_code == 200
        # Without a key nobody is known to be a member: the same 404 as a channel that does
        # not exist, so an open service does not confirm private channel names.
        anonymous = read_client.get(path)
        unknown = read_client.get(path.replace(interviews, "no-such-channel").replace("ml-interviews", "no-such"))
        assert anonymous.status_code == unknown.status_code == 404
        assert anonymous.json()["error"] == "not_found" and "private" not in anonymous.text


def test_similar_items_hide_private_ones_from_non_members(read_client, private, member, outsider):
    for viewer, headers in ((None, {}), (None, APP), (outsider, APP)):
        params = {"k": 64, **({"viewer": viewer} if viewer else {})}
        response = read_client.get(f"{T}/items/ml/similar", params=params, headers=headers)
        assert response.status_code == 200 and not names_in(response.text, private)
    shown = read_client.get(f"{T}/items/ml/similar", params={"k": 64, "viewer": member}, headers=APP).json()
    assert "ml-interviews" in {r["name"] for r in shown["results"]}


def test_recommendations_and_explanations_never_name_private_channels(read_client, demo, private, membership):
    for user in demo.users["user"][:60]:
        mine = {n for i, n in private.items() if user in membership[i]}
        for params in ({"k": 64}, {"k": 20, "explain": True}):
            url = f"{T}/people/{user}/recommendations"
            response = read_client.get(url, params=params, headers=APP)
            assert response.status_code == 200
            # Asked by the team's app for this person: their own private channels may be named.
            assert names_in(response.text, private) <= mine, user
            # Asked anonymously: no private channel at all, not even the person's own.
            anonymous = read_client.get(url, params=params)
            assert anonymous.status_code == 200 and not names_in(anonymous.text, private), user


def test_people_like_you_name_only_what_the_person_may_see(read_client, demo, private, membership):
    named_own = 0
    for user in demo.users["user"][:60]:
        mine = {n for i, n in private.items() if user in membership[i]}
        url = f"{T}/people/{user}/similar"
        response = read_client.get(url, params={"k": 10}, headers=APP)
        assert names_in(response.text, private) <= mine, user
        named_own += bool(names_in(response.text, private))
        anonymous = read_client.get(url, params={"k": 10})
        assert anonymous.status_code == 200 and not names_in(anonymous.text, private), user
        # Counts leave out what the asker may not see, too (the anonymous reader's neighbours
        # are computed on public items, so compare the people both lists hold).
        shared_mine = {r["id"]: r["details"]["shared"] for r in response.json()["results"]}
        for anon_r in anonymous.json()["results"]:
            if anon_r["id"] in shared_mine:
                assert anon_r["details"]["shared"] <= shared_mine[anon_r["id"]]
    assert named_own > 0  # the keyed case does name a member's own private channels


def test_unknown_people_only_get_public_items(read_client, private):
    for headers in ({}, APP):
        response = read_client.get(f"{T}/people/new-person/recommendations", params={"k": 64}, headers=headers)
        # the demo's 60 public channels but its archived one (never recommended)
        assert len(response.json()["results"]) == 60 - 1 and not names_in(response.text, private)
        assert "old-website" not in response.text


def test_a_private_candidate_is_never_returned_to_a_non_member(read_client, interviews, member, outsider):
    url = f"{T}/people/{{}}/recommendations"
    for params in (
        {"candidates": [interviews], "k": 5},
        {"candidates": [interviews, "C0106"], "k": 5, "explain": True},
    ):
        for headers in ({}, APP):
            shown = read_client.get(url.format(outsider), params=params, headers=headers).json()["results"]
            assert interviews not in {r["id"] for r in shown}
    # A member already is in it (so it is not recommended either), but may ask about it.
    assert read_client.get(f"{T}/items/{interviews}", params={"viewer": member}, headers=APP).json()["private"]
