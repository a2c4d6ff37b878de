"""Ingestion: validated batches, all or nothing, durable before the answer; and retrains that
learn from what was ingested."""

from __future__ import annotations

import pytest

from teamrec.service import create_app
from teamrec.store import SQLiteEventStore

from .conftest import AUTH, TestClient, make_settings

T = "/api/v1/teams/demo"
W = AUTH["demo-write"]


def event(**changes):
    return {"user": "U0103", "item": "C0106", "kind": "member", "value": 1, "timestamp": 1.7e9, **changes}


def test_a_batch_is_stored(client, store):
    response = client.post(
        f"{T}/events", json={"events": [event(), event(item="C0107", kind="message", value=3)]}, headers=W
    )
    assert response.status_code == 201
    # The demo team learns from membership only: the message is stored, and the answer says
    # no model will learn from it as the team is set up.
    assert response.json() == {"team": "demo", "stored": 2, "duplicate": False, "total": 2, "since_training": 2,
                               "unused_kinds": ["message"]}
    stored = store.events("demo")
    assert stored[["user", "item", "kind", "value"]].values.tolist() == [
        ["U0103", "C0106", "member", 1.0], ["U0103", "C0107", "message", 3.0]
    ]
    assert (stored["team"] == "demo").all()


def test_defaults_and_iso_times(client, store):
    batch = [
        {"user": "a", "item": "b", "kind": "view"},
        {"user": "a", "item": "c", "kind": "view", "timestamp": "2024-05-01T12:00:00Z"},
        {"user": "a", "item": "d", "kind": "view", "timestamp": "2024-05-01T12:00:00"},
    ]
    assert client.post(f"{T}/events", json={"events": batch}, headers=W).status_code == 201
    stored = store.events("demo")
    assert stored["value"].tolist() == [1.0, 1.0, 1.0]
    assert stored["timestamp"].isna().tolist() == [True, False, False]
    assert stored["timestamp"].iloc[1] == stored["timestamp"].iloc[2] == 1714564800.0


@pytest.mark.parametrize(
    "bad, index, field",
    [
        ({"user": ""}, 2, "user"),
        ({"item": None}, 1, "item"),
        ({"value": "lots"}, 3, "value"),
        ({"timestamp": "yesterday-ish"}, 0, "timestamp"),
        ({"team": "globex"}, 2, "team"),  # a batch cannot name another team
        ({"kind": "x" * 65}, 4, "kind"),
        # Values that would poison a team's matrix: overflow to infinity when summed, make
        # every other event look ages old to time decay, or name nobody.
        ({"value": 1e308}, 1, "value"),
        ({"value": -2e9}, 1, "value"),
        ({"value": True}, 0, "value"),
        ({"timestamp": 1e300}, 3, "timestamp"),
        ({"timestamp": -1e18}, 3, "timestamp"),
        ({"timestamp": "2150-01-01T00:00:00Z"}, 3, "timestamp"),
        ({"timestamp": True}, 2, "timestamp"),
        ({"user": "   "}, 4, "user"),
        ({"kind": " "}, 0, "kind"),
    ],
)
def test_a_bad_event_is_422_naming_index_and_field_and_nothing_is_stored(client, store, bad, index, field):
    batch = [event(user=f"u{i}") for i in range(5)]
    batch[index] = {**batch[index], **bad}
    response = client.post(f"{T}/events", json={"events": batch}, headers=W)
    assert response.status_code == 422
    body = response.json()
    assert body["error"] == "validation_error"
    assert body["detail"][0]["index"] == index and body["detail"][0]["field"] == field
    assert body["message"].startswith(f"events[{index}].{field}: ")
    assert "Traceback" not in response.text
    assert store.count() == 0


def test_negative_votes_and_ordinary_times_are_fine(client, store):
    batch = [
        event(value=-1, timestamp=0),
        event(value=1, timestamp=4.1e9),
        event(value=-1e9, timestamp="1999-12-31T23:59:59Z"),
    ]
    assert client.post(f"{T}/events", json={"events": batch}, headers=W).status_code == 201
    assert store.events("demo")["value"].tolist() == [-1.0, 1.0, -1e9]


def test_a_missing_field(client, store):
    batch = [event(), {"user": "x", "item": "y"}]
    body = client.post(f"{T}/events", json={"events": batch}, headers=W).json()
    assert body["detail"] == [
        {"loc": ["body", "events", 1, "kind"], "message": "Field required", "index": 1, "field": "kind"}
    ]
    assert store.count() == 0


def test_non_finite_values_are_refused(client, store):
    body = '{"events": [{"user": "a", "item": "b", "kind": "view", "value": NaN}]}'
    response = client.post(f"{T}/events", content=body, headers={**W, "Content-Type": "application/json"})
    assert response.status_code == 422 and store.count() == 0


@pytest.mark.parametrize("payload", [{"events": []}, {"events": [event()] * 10_001}, {"events": "many"}, [event()], {}])
def test_malformed_batches(client, store, payload):
    assert client.post(f"{T}/events", json=payload, headers=W).status_code == 422
    assert store.count() == 0


def test_not_json(client, store):
    response = client.post(f"{T}/events", content=b"{not json", headers={**W, "Content-Type": "application/json"})
    assert response.status_code == 422 and response.json()["error"] == "validation_error"


def test_a_repeated_batch_id_is_stored_once(client, store):
    payload = {"events": [event(), event(item="C0107")], "batch_id": "sync-42"}
    first = client.post(f"{T}/events", json=payload, headers=W).json()
    again = client.post(f"{T}/events", json=payload, headers=W).json()
    assert (first["stored"], first["duplicate"]) == (2, False)
    assert (again["stored"], again["duplicate"], again["total"]) == (0, True, 2)


def test_events_are_durable_before_the_answer(tmp_path, globex_dir):
    path = tmp_path / "events.sqlite3"
    settings = make_settings(globex_dir, database=str(path))
    app = create_app(settings)
    with TestClient(app) as client:
        assert client.post(f"{T}/events", json={"events": [event()] * 3}, headers=W).status_code == 201
        # Another connection (another process, after a crash) sees them at once.
        other = SQLiteEventStore(path)
        assert other.count("demo") == 3
        other.close()


def test_a_retrain_learns_from_ingested_events(client):
    # A new person joins three ML channels through the API; after a retrain the model knows
    # them and recommends ML channels; a brand-new channel becomes an item.
    batch = [event(user="U-new", item=i) for i in ("C0106", "C0107", "C0108")]
    batch += [event(user=u, item="C-new-ml-reading-group") for u in ("U-new", "U0103")]
    assert client.post(f"{T}/events", json={"events": batch}, headers=W).status_code == 201
    # Issue 10: the events count at once (folded in), before any retrain: ML channels, not
    # the popular list a stranger gets.
    before = client.get(f"{T}/people/U-new/recommendations", params={"k": 3}).json()
    assert before["model_version"] == 1
    assert {r["reason"] for r in before["results"]} == {None}
    assert {r["name"] for r in before["results"]} <= {"mlops", "nlp", "recsys", "general", "announcements"}
    info = client.post(f"{T}/model/retrain", headers=AUTH["demo-admin"]).json()
    assert info["model_version"] == 2 and info["people"] == 201 and info["items"] == 65
    assert info["events"] == {"source": 6626, "store": 5, "stored_now": 5, "since_training": 0}
    after = client.get(f"{T}/people/U-new/recommendations", params={"k": 3, "explain": True}).json()
    assert after["model_version"] == 2
    assert {r["name"] for r in after["results"]} <= {
        "mlops",
        "nlp",
        "recsys",
        "ml-interviews",
        "general",
        "announcements",
    }
    assert all(r["reason"].startswith("because you are in") for r in after["results"])
    assert client.get(f"{T}/items/C-new-ml-reading-group").json()["people"] == 2


def test_retrain_in_the_background(client):
    response = client.post(f"{T}/model/retrain", params={"wait": False}, headers=AUTH["demo-admin"])
    assert response.status_code == 202 and response.json()["retraining"]
    import time

    deadline = time.monotonic() + 30
    while client.get(f"{T}/model").json()["model_version"] < 2:
        assert time.monotonic() < deadline
        time.sleep(0.05)
