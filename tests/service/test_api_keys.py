"""API keys: each belongs to one team and never reads or writes another's data; scopes; wrong
keys; reading keyed or open."""

from __future__ import annotations

import json

import pytest

from teamrec.service import create_app
from teamrec.store import MemoryEventStore

from .conftest import AUTH, KEYS, TestClient, make_settings

EVENT = {"events": [{"user": "U0103", "item": "C0106", "kind": "member"}]}


def routes(team: str, item: str, user: str) -> list[tuple[str, str, dict | None]]:
    """Every team route as (method, path, JSON body)."""
    t = f"/api/v1/teams/{team}"
    return [
        ("GET", f"{t}/items?q=", None),
        ("GET", f"{t}/items/{item}", None),
        ("GET", f"{t}/items/{item}/similar", None),
        ("GET", f"{t}/people?q=", None),
        ("GET", f"{t}/people/{user}", None),
        ("GET", f"{t}/people/{user}/recommendations?explain=true", None),
        ("POST", f"{t}/people/{user}/recommendations", {"k": 3}),
        ("GET", f"{t}/people/{user}/similar", None),
        ("GET", f"{t}/model", None),
        ("POST", f"{t}/events", EVENT),
        ("POST", f"{t}/model/retrain", None),
    ]


def call(client, method, path, body, headers=None):
    return client.request(method, path, json=body, headers=headers or {})


GLOBEX = routes("globex", "widgets", "g1")
DEMO = routes("demo", "ml", "U0103")
GLOBEX_WORDS = ("widgets", "gadgets", "globex-secret-board", "Gina", "Gil", "Gus", "Gwen")


@pytest.mark.parametrize("method, path, body", GLOBEX, ids=[f"{m} {p}" for m, p, _ in GLOBEX])
@pytest.mark.parametrize("key", ["demo-read", "demo-write", "demo-admin"])
def test_a_key_never_reaches_another_team(client, store, method, path, body, key):
    response = call(client, method, path, body, AUTH[key])
    assert response.status_code == 403
    payload = response.json()
    assert payload == {"error": "forbidden", "message": "this key belongs to another team"}
    assert not any(word in response.text for word in GLOBEX_WORDS)
    assert store.count() == 0


@pytest.mark.parametrize("method, path, body", DEMO, ids=[f"{m} {p}" for m, p, _ in DEMO])
def test_the_other_way_round(client, store, method, path, body):
    response = call(client, method, path, body, AUTH["globex-admin"])
    assert response.status_code == 403 and set(response.json()) == {"error", "message"}
    assert store.count() == 0


def test_a_key_for_a_team_that_does_not_exist_here_is_403_not_404(client):
    # A key learns nothing about which other teams exist.
    response = client.get("/api/v1/teams/initech/model", headers=AUTH["demo-admin"])
    assert response.status_code == 403


def test_scopes(client, store):
    t = "/api/v1/teams/demo"
    assert client.post(f"{t}/events", json=EVENT, headers=AUTH["demo-read"]).status_code == 403
    assert client.post(f"{t}/events", json=EVENT, headers=AUTH["demo-write"]).status_code == 201
    assert client.post(f"{t}/model/retrain", headers=AUTH["demo-write"]).status_code == 403
    assert client.post(f"{t}/model/retrain", headers=AUTH["demo-admin"]).status_code == 200
    assert client.post(f"{t}/events", json=EVENT, headers=AUTH["demo-admin"]).status_code == 201
    for key in ("demo-read", "demo-write", "demo-admin"):
        assert client.get(f"{t}/model", headers=AUTH[key]).status_code == 200
    assert store.count("demo") == 2


def test_writing_and_admin_need_a_key(client, store):
    t = "/api/v1/teams/demo"
    for method, path, body in (("POST", f"{t}/events", EVENT), ("POST", f"{t}/model/retrain", None)):
        response = call(client, method, path, body)
        assert response.status_code == 401
        assert response.json()["error"] == "unauthorized"
        assert response.headers["www-authenticate"].startswith("Bearer")
    assert store.count() == 0


def test_a_wrong_key_is_401_even_where_reading_is_open(client):
    response = client.get("/api/v1/teams/demo/model", headers={"X-API-Key": KEYS["demo-read"] + "x"})
    assert response.status_code == 401 and response.json()["message"] == "invalid API key"
    assert client.get("/api/v1/teams/demo/model", headers={"X-API-Key": ""}).status_code == 200  # no key


def test_bearer_tokens_work_too(client):
    headers = {"Authorization": f"Bearer {KEYS['demo-admin']}"}
    assert client.post("/api/v1/teams/demo/model/retrain", headers=headers).status_code == 200
    headers = {"Authorization": f"Bearer {KEYS['globex-admin']}"}
    assert client.get("/api/v1/teams/demo/model", headers=headers).status_code == 403


def test_keys_are_never_in_responses_or_logs(client, caplog):
    for key in KEYS.values():
        response = client.get("/api/v1/teams/demo/model", headers={"X-API-Key": key})
        assert key not in response.text
    assert not any(key in caplog.text for key in KEYS.values())


def test_team_list_with_a_key_shows_only_its_team(client):
    assert [t["name"] for t in client.get("/api/v1/teams", headers=AUTH["globex-admin"]).json()["teams"]] == ["globex"]
    assert [t["name"] for t in client.get("/api/v1/teams", headers=AUTH["demo-read"]).json()["teams"]] == ["demo"]


class TestReadKeys:
    """With ``read_keys`` on, reading needs the team's key as well."""

    @pytest.fixture
    def keyed(self, globex_dir):
        app = create_app(make_settings(globex_dir, read_keys=True), store=MemoryEventStore())
        with TestClient(app) as client:
            yield client

    @pytest.mark.parametrize("method, path, body", DEMO[:9], ids=[f"{m} {p}" for m, p, _ in DEMO[:9]])
    def test_reading_without_a_key_is_401(self, keyed, method, path, body):
        response = call(keyed, method, path, body)
        assert response.status_code == 401
        assert "Hana" not in response.text and "#ml" not in response.text

    @pytest.mark.parametrize("method, path, body", DEMO[:9], ids=[f"{m} {p}" for m, p, _ in DEMO[:9]])
    def test_reading_with_the_teams_key(self, keyed, method, path, body):
        assert call(keyed, method, path, body, AUTH["demo-read"]).status_code == 200
        assert call(keyed, method, path, body, AUTH["globex-admin"]).status_code == 403

    def test_team_list_and_health(self, keyed):
        assert keyed.get("/api/v1/teams").status_code == 401
        assert keyed.get("/health").json()["status"] == "ok"  # health names no team
        assert json.loads(keyed.get("/health").text)["teams"] == 2
