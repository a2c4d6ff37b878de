"""Events reach the model (issue 10), through the HTTP API where a person sees it: an accepted
event changes that person's recommendations on the next request (no retrain), a dismissal or
a leave removes the item for good, a newcomer gets personal recommendations after their first
events, background refits swap a new snapshot in, and every reader option of the team spec
works in the settings file."""

from __future__ import annotations

import time

import pandas as pd

from teamrec.service import create_app
from teamrec.store import MemoryEventStore

from .conftest import AUTH, TestClient, make_settings

G = "/api/v1/teams/globex"
A = AUTH["globex-admin"]


def recs(client, user, k=10, **params):
    body = client.get(f"{G}/people/{user}/recommendations", params={"k": k, **params}, headers=A).json()
    return body["model_version"], [r["id"] for r in body["results"]]


def post(client, *events, path="events"):
    body = {"events": list(events)} if path == "events" else events[0]
    response = client.post(f"{G}/{path}", json=body, headers=A)
    assert response.status_code == 201, response.text
    return response.json()


def member(user, item, kind="member"):
    return {"user": user, "item": item, "kind": kind, "value": 1, "timestamp": 1.8e9}


def test_a_join_changes_that_persons_recommendations_at_once(client):
    version, before = recs(client, "g4")
    assert "G2" in before
    post(client, member("g4", "G2"))
    after_version, after = recs(client, "g4")
    assert after_version == version == 1  # no retrain happened
    assert "G2" not in after  # they are in it now


def test_a_dismissal_is_never_recommended_again(client):
    answer = client.get(f"{G}/people/g4/recommendations", headers=A).json()
    assert answer["results"][0]["id"] == "G2"
    out = post(client, {"user": "g4", "item": "G2", "action": "dismiss",
                        "recommendation_id": answer["recommendation_id"]}, path="feedback")
    assert out["stored"] == 1 and out["event_kind"] == "dismiss"
    assert "G2" not in recs(client, "g4")[1]
    client.post(f"{G}/model/retrain", headers=A)
    version, after = recs(client, "g4")
    assert version == 2 and "G2" not in after  # stored: it survives retrains


def test_unknown_feedback_actions_are_refused(client):
    body = {"user": "g4", "item": "G2", "action": "love", "recommendation_id": "r1"}
    response = client.post(f"{G}/feedback", json=body, headers=A)
    assert response.status_code == 422
    assert client.post(f"{G}/feedback", json={**body, "action": "dismiss"}).status_code == 401


def test_a_leave_ends_the_membership_and_the_channel_is_not_recommended_back(client):
    assert client.get(f"{G}/items/G2", headers=A).json()["people"] == 3
    post(client, member("g1", "G2", kind="leave"))
    assert "G2" not in recs(client, "g1")[1]  # at once
    client.post(f"{G}/model/retrain", headers=A)
    assert client.get(f"{G}/items/G2", headers=A).json()["people"] == 2  # left the matrix
    assert "G2" not in recs(client, "g1")[1]


def test_a_newcomer_gets_personal_recommendations_after_their_first_events(client):
    _, stranger = recs(client, "g-new")
    post(client, member("g-new", "G3"), member("g-new", "G9"))
    version, personal = recs(client, "g-new", k=3)
    assert version == 1 and personal and "G3" not in personal
    body = client.get(f"{G}/people/g-new/recommendations", params={"k": 3}, headers=A).json()
    assert all(r["reason"] != "new here: popular in this team" for r in body["results"])


def test_answers_carry_position_and_exploration_flags(read_client):
    body = read_client.get(f"{G}/people/g4/recommendations", headers=A).json()
    assert [r["position"] for r in body["results"]] == list(range(1, len(body["results"]) + 1))
    assert all(r["explored"] is False and r["propensity"] == 1.0 for r in body["results"])


def test_a_background_refit_swaps_in_after_n_events(globex_dir):
    settings = make_settings(globex_dir, online={"refit_events": 2, "refit_seconds": None})
    with TestClient(create_app(settings, store=MemoryEventStore())) as client:
        post(client, member("g4", "G2"))
        assert client.get(f"{G}/model", headers=A).json()["model_version"] == 1
        post(client, member("g3", "G1"))
        deadline = time.monotonic() + 30
        while client.get(f"{G}/model", headers=A).json()["model_version"] < 2:
            assert time.monotonic() < deadline, "no background refit"
            time.sleep(0.05)
        info = client.get(f"{G}/model", headers=A).json()
        assert info["events"]["store"] == 2 and info["events"]["since_training"] == 0
        assert "G2" not in recs(client, "g4")[1]


def test_every_reader_option_works_in_the_settings_file(tmp_path, globex_dir):
    # A CSV with its own column names, read with the same spec the CLI's --column builds.
    frame = pd.DataFrame({"personId": ["a", "a", "b", "b", "c", "c", "d"],
                          "contentId": ["x", "y", "x", "z", "y", "z", "x"],
                          "eventType": ["VIEW", "LIKE", "VIEW", "VIEW", "LIKE", "VIEW", "VIEW"]})
    path = tmp_path / "news.csv"
    frame.to_csv(path, index=False)
    settings = make_settings(globex_dir, teams={"news": {
        "source": str(path), "format": "csv",
        "options": {"columns": {"user": "personId", "item": "contentId", "kind": "eventType"}},
        "kind_values": {"VIEW": 1.0, "LIKE": 4.0},
    }}, keys=[])
    with TestClient(create_app(settings, store=MemoryEventStore())) as client:
        info = client.get("/api/v1/teams/news/model").json()
        assert info["people"] == 4 and info["items"] == 3 and info["interactions"] == 7
        body = client.get("/api/v1/teams/news/people/d/recommendations", params={"k": 2}).json()
        assert [r["id"] for r in body["results"]] and "x" not in [r["id"] for r in body["results"]]


def test_an_incremental_refresh_serves_what_a_retrain_serves(client):
    post(client, member("g4", "G2"), member("g-new", "G1"), member("g-new", "G-new"), member("g1", "G-new"))
    registry = client.app.state.service.registry
    refreshed = registry.refresh("globex")
    assert refreshed.version == 2 and refreshed.info["refreshed_people"] == 3
    assert refreshed.model.data.n_items == 5 and refreshed.model.data.items.ids[:4].tolist() == ["G1", "G2", "G3", "G9"]
    incremental = {u: recs(client, u)[1] for u in ("g1", "g2", "g3", "g4", "g-new")}
    assert client.get(f"{G}/model", headers=A).json()["events"]["since_training"] == 0
    client.post(f"{G}/model/retrain", headers=A)
    assert {u: recs(client, u)[1] for u in incremental} == incremental


def test_fresh_events_merge_their_parts_once_and_give_the_same_frame():
    """FreshEvents.of keeps a person's parts merged (one concatenation per new batch, not per
    request): the frame is every fresh event of that person, oldest first, as before."""
    from teamrec.data.events import make_events
    from teamrec.data.matrix import MatrixConfig
    from teamrec.service.online import FreshEvents

    store = MemoryEventStore()
    fresh = FreshEvents("globex", 0, MatrixConfig())
    batches = [make_events(user=["g1", "g2", "g1"], item=[f"G{b}", "G9", f"H{b}"], value=float(b + 1),
                           timestamp=1.8e9 + b, team="globex") for b in range(3)]
    for batch in batches:
        store.append("globex", batch)
        fresh.catch_up(store)
    everything = pd.concat(batches, ignore_index=True)
    expected = everything[everything["user"] == "g1"][["item", "value"]].reset_index(drop=True)
    first = fresh.of("g1")
    pd.testing.assert_frame_equal(first[["item", "value"]].reset_index(drop=True), expected)
    assert fresh.of("g1") is first  # merged once, not again per request
    store.append("globex", make_events(user=["g1"], item=["K1"], value=5.0, timestamp=1.9e9, team="globex"))
    fresh.catch_up(store)
    assert fresh.of("g1")["item"].tolist() == expected["item"].tolist() + ["K1"]
    assert fresh.of("g2")["item"].tolist() == ["G9", "G9", "G9"]
    assert fresh.of("nobody") is None
def test_events_another_process_stored_reach_answers_within_catch_up_seconds(globex_dir):
    shared = MemoryEventStore()  # what a second process appends to the same store
    settings = make_settings(globex_dir, online={"refit_events": 0, "refit_seconds": None, "catch_up_seconds": 0})
    with TestClient(create_app(settings, store=shared)) as client:
        assert "G2" in recs(client, "g4")[1]
        shared.append("globex", pd.DataFrame([{**member("g4", "G2"), "team": "globex"}]))
        assert "G2" not in recs(client, "g4")[1]  # read on this request, no refit
    settings = make_settings(globex_dir, online={"refit_events": 0, "refit_seconds": None, "catch_up_seconds": 3600})
    with TestClient(create_app(settings, store=MemoryEventStore())) as client:
        store = client.app.state.service.store
        recs(client, "g4")  # the first request reads the store; the next read is an hour away
        store.append("globex", pd.DataFrame([{**member("g4", "G2"), "team": "globex"}]))
        assert "G2" in recs(client, "g4")[1]
