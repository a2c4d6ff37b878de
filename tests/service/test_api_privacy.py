"""Private channels never reach a non-member: not in search, similar items, recommendations,
explanations or the reasons of people-like-you."""

from __future__ import annotations

import pytest

from teamrec.demo import demo_dataset

T = "/api/v1/teams/demo"


@pytest.fixture(scope="module")
def demo():
    return demo_dataset()


@pytest.fixture(scope="module")
def private(demo):
    items = demo.items[demo.items["private"]]
    return dict(zip(items["item"], items["name"]))


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


def test_search_lists_private_channels_only_to_members(read_client, private, member, outsider):
    for viewer in (None, outsider, "someone-unknown"):
        response = read_client.get(f"{T}/items", params={"q": "", "limit": 100, "viewer": viewer})
        assert not names_in(response.text, private)
    mine = read_client.get(f"{T}/items", params={"q": "interviews", "viewer": member}).json()["results"]
    assert [r["name"] for r in mine] == ["ml-interviews"] and mine[0]["private"]


def test_a_private_item_is_403_for_non_members(read_client, interviews, member, outsider):
    for path in (f"{T}/items/{interviews}", f"{T}/items/{interviews}/similar", f"{T}/items/ml-interviews/similar"):
        for viewer in (None, outsider):
            response = read_client.get(path, params={"viewer": viewer} if viewer else {})
            assert response.status_code == 403 and response.json()["error"] == "forbidden"
        assert read_client.get(path, params={"viewer": member}).status_code == 200


def test_similar_items_hide_private_ones_from_non_members(read_client, private, member, outsider):
    for viewer in (None, outsider):
        params = {"k": 64, **({"viewer": viewer} if viewer else {})}
        response = read_client.get(f"{T}/items/ml/similar", params=params)
        assert response.status_code == 200 and not names_in(response.text, private)
    shown = read_client.get(f"{T}/items/ml/similar", params={"k": 64, "viewer": member}).json()["results"]
    assert "ml-interviews" in {r["name"] for r in shown}


def test_recommendations_and_explanations_never_name_private_channels(read_client, demo, private, membership):
    for user in demo.users["user"][:60]:
        mine = {n for i, n in private.items() if user in membership[i]}
        for params in ({"k": 64}, {"k": 20, "explain": True}):
            response = read_client.get(f"{T}/people/{user}/recommendations", params=params)
            assert response.status_code == 200
            # A person may see their own private channels named in reasons; no other.
            assert names_in(response.text, private) <= mine, user


def test_people_like_you_name_only_what_the_person_may_see(read_client, demo, private, membership):
    for user in demo.users["user"][:60]:
        mine = {n for i, n in private.items() if user in membership[i]}
        response = read_client.get(f"{T}/people/{user}/similar", params={"k": 10})
        assert names_in(response.text, private) <= mine, user


def test_unknown_people_only_get_public_items(read_client, private):
    response = read_client.get(f"{T}/people/new-person/recommendations", params={"k": 64})
    assert len(response.json()["results"]) == 60 and not names_in(response.text, private)


def test_a_private_candidate_is_never_returned_to_a_non_member(read_client, interviews, member, outsider):
    url = f"{T}/people/{{}}/recommendations"
    for params in ({"candidates": [interviews], "k": 5}, {"candidates": [interviews, "C0106"], "k": 5, "explain": True}):
        shown = read_client.get(url.format(outsider), params=params).json()["results"]
        assert interviews not in {r["id"] for r in shown}
    # A member already is in it (so it is not recommended either), but may ask about it.
    assert read_client.get(f"{T}/items/{interviews}", params={"viewer": member}).json()["private"]
