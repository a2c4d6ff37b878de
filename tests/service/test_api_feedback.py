"""Issue 12 through HTTP, where a person sees it: recommend -> impressions logged -> feedback
-> the experiment's report counts it; feedback validation; a join learnt at once; sticky arms
across an app restart; a changed running experiment refused at start."""

from __future__ import annotations

import pytest

from teamrec.errors import ConfigError
from teamrec.service import create_app
from teamrec.service.settings import ImpressionLogSettings
from teamrec.store.buffered_feedback import BufferedFeedbackLog
from teamrec.store.feedback import SQLiteFeedbackLog

from .conftest import AUTH, TestClient, make_settings

D = "/api/v1/teams/demo"
ADMIN = AUTH["demo-admin"]
WRITE = AUTH["demo-write"]

EXPERIMENT = {
    "name": "knn-vs-pop", "start": "2020-01-01T00:00:00Z", "salt": "s1",
    "arms": [{"name": "control", "algorithm": "popularity"},
             {"name": "knn", "algorithm": "item-knn", "epsilon": 0.5}],
}


def settings(globex_dir, database="memory:", experiment=EXPERIMENT):
    return make_settings(globex_dir, database=database, experiments=[experiment])


@pytest.fixture
def client(globex_dir):
    with TestClient(create_app(settings(globex_dir))) as c:
        yield c


def people(client, n=12):
    return [str(u) for u in client.app.state.service.registry.get("demo").model.data.users.ids[:n]]


def recommend(client, user, **params):
    response = client.get(f"{D}/people/{user}/recommendations", params={"k": 5, **params}, headers=ADMIN)
    assert response.status_code == 200, response.text
    return response.json()


def feedback(client, body, headers=WRITE):
    return client.post(f"{D}/feedback", json=body, headers=headers)


def report(client):
    response = client.get(f"{D}/experiments/knn-vs-pop/report", headers=ADMIN)
    assert response.status_code == 200, response.text
    return response.json()


def test_the_whole_loop(client):
    answers = [recommend(client, u, surface="web") for u in people(client)]
    assert len({a["recommendation_id"] for a in answers}) == len(answers)
    assert {a["arm"] for a in answers} == {"control", "knn"} and {a["experiment"] for a in answers} == {"knn-vs-pop"}
    for a in answers:
        assert [r["position"] for r in a["results"]] == list(range(1, len(a["results"]) + 1))
        assert all(0 < r["propensity"] <= 1 for r in a["results"])
        if a["arm"] == "control":
            assert not any(r["explored"] for r in a["results"])
    assert any(r["explored"] for a in answers if a["arm"] == "knn" for r in a["results"])
    before = report(client)
    shown = sum(len(a["results"]) for a in answers)
    assert sum(arm["impressions"] for arm in before["arms"]) == shown
    assert sum(arm["clicks"] for arm in before["arms"]) == 0

    first = answers[0]
    out = feedback(client, {"recommendation_id": first["recommendation_id"], "user": first["user"],
                            "item": first["results"][1]["id"], "action": "click", "surface": "web"})
    assert out.status_code == 201, out.text
    assert out.json()["event_kind"] is None  # a click on a channel is not a learning event
    after = report(client)
    clicks = {arm["arm"]: arm["clicks"] for arm in after["arms"]}
    assert clicks[first["arm"]] == 1 and sum(clicks.values()) == 1
    chart = client.get(f"{D}/experiments/knn-vs-pop/report", params={"format": "png"}, headers=ADMIN)
    assert chart.headers["content-type"] == "image/png" and chart.content[:4] == b"\x89PNG"
    svg = client.get(f"{D}/experiments/knn-vs-pop/report", params={"format": "svg"}, headers=ADMIN)
    assert svg.headers["content-type"].startswith("image/svg+xml")


def test_a_join_is_learnt_at_once(client):
    user = people(client)[3]
    answer = recommend(client, user)
    item = answer["results"][0]["id"]
    out = feedback(client, {"recommendation_id": answer["recommendation_id"], "user": user, "item": item,
                            "action": "join"})
    assert out.status_code == 201 and out.json()["event_kind"] == "member" and out.json()["stored"] == 1
    assert item not in [r["id"] for r in recommend(client, user)["results"]]  # a member now: not recommended


def test_bad_feedback_is_refused_and_stores_nothing(client):
    alice, bob = people(client)[:2]
    answer = recommend(client, alice)
    rid, item = answer["recommendation_id"], answer["results"][0]["id"]
    ok = {"recommendation_id": rid, "user": alice, "item": item, "action": "join"}
    service = client.app.state.service
    events_before = service.store.count("demo")
    cases = [
        ({**ok, "recommendation_id": "nope"}, 404, "recommendation"),
        ({**ok, "user": bob}, 404, "recommendation"),  # another person's: never confirmed to exist
        ({**ok, "item": "not-shown"}, 422, "not in recommendation"),
        ({**ok, "action": "love"}, 422, "action"),
    ]
    for body, status, words in cases:
        response = feedback(client, body)
        assert response.status_code == status, (body, response.text)
        assert words in response.text
    assert feedback(client, ok).status_code == 201
    replay = feedback(client, ok)
    assert replay.status_code == 422 and "already given" in replay.text
    assert service.store.count("demo") == events_before + 1  # only the one accepted join
    assert len(service.feedback_log.feedback("demo")) == 1
    assert feedback(client, ok, headers=AUTH["demo-read"]).status_code == 403  # writing needs write
    other_team = client.post("/api/v1/teams/globex/feedback", json=ok, headers=AUTH["globex-admin"])
    assert other_team.status_code == 404  # recommendation ids never cross teams


def test_reports_need_the_admin_key_and_a_declared_experiment(client):
    assert client.get(f"{D}/experiments/knn-vs-pop/report", headers=WRITE).status_code == 403
    assert client.get(f"{D}/experiments/nope/report", headers=ADMIN).status_code == 404
    listed = client.get(f"{D}/experiments", headers=ADMIN).json()["experiments"]
    assert listed[0]["name"] == "knn-vs-pop" and listed[0]["serving"] is True


def test_impressions_are_not_learning_events_unless_the_team_says_so(globex_dir):
    with TestClient(create_app(settings(globex_dir))) as c:
        recommend(c, people(c)[0])
        assert c.app.state.service.store.count("demo") == 0
    s = settings(globex_dir)
    s.teams["demo"] = s.teams["demo"].model_copy(update={"impression_kind": "impression"})
    with TestClient(create_app(s)) as c:
        answer = recommend(c, people(c)[0])
        assert c.app.state.service.store.count("demo") == len(answer["results"])


def test_arms_are_sticky_across_a_restart(globex_dir, tmp_path):
    db = str(tmp_path / "events.sqlite3")
    with TestClient(create_app(settings(globex_dir, db))) as c:
        users = people(c)
        first = {u: recommend(c, u)["arm"] for u in users}
        rid = recommend(c, users[0])
    with TestClient(create_app(settings(globex_dir, db))) as c:
        assert {u: recommend(c, u)["arm"] for u in users} == first
        # the log survived too: feedback on an answer of the previous process is accepted
        body = {"recommendation_id": rid["recommendation_id"], "user": users[0],
                "item": rid["results"][0]["id"], "action": "click"}
        assert feedback(c, body).status_code == 201


def test_a_changed_running_experiment_is_refused_at_start(globex_dir, tmp_path):
    db = str(tmp_path / "events.sqlite3")
    with TestClient(create_app(settings(globex_dir, db))):
        pass
    changed = {**EXPERIMENT, "arms": [EXPERIMENT["arms"][0], {**EXPERIMENT["arms"][1], "epsilon": 0.2}]}
    with pytest.raises(ConfigError, match="experiment 'knn-vs-pop' is running with fingerprint .* give the new "
                                          "settings a new name"):
        with TestClient(create_app(settings(globex_dir, db, changed))):
            pass
    renamed = {**changed, "name": "knn-vs-pop-2"}
    with TestClient(create_app(settings(globex_dir, db, renamed))) as c:
        assert recommend(c, "nobody-known")["experiment"] in ("knn-vs-pop-2", None)


def test_each_arm_is_its_own_snapshot_and_arms_survive_a_retrain(client):
    registry = client.app.state.service.registry
    assert registry.get("demo", "knn-vs-pop/control").model.algorithm.name == "popularity"
    assert registry.get("demo", "knn-vs-pop/knn").model.algorithm.name == "item-knn"
    assert registry.get("demo").model.algorithm.name == "item-knn"  # the team's own model, apart
    users = people(client)
    before = {u: recommend(client, u)["arm"] for u in users}
    assert client.post(f"{D}/model/retrain", headers=ADMIN).status_code in (200, 202)
    assert registry.get("demo", "knn-vs-pop/knn").version == 2
    assert {u: recommend(client, u)["arm"] for u in users} == before


def test_feedback_right_after_a_recommendation_on_a_durable_log(globex_dir, tmp_path):
    """On SQLite the impressions are buffered (a long flush interval here): a feedback right
    after its recommendation still validates, the report counts both, and close writes them."""
    db = str(tmp_path / "events.sqlite3")
    config = settings(globex_dir, database=db).model_copy(
        update={"impressions": ImpressionLogSettings(flush_ms=60_000)})
    with TestClient(create_app(config)) as c:
        log = c.app.state.service.feedback_log
        assert isinstance(log, BufferedFeedbackLog)
        user = people(c)[0]
        answer = recommend(c, user)
        assert log.buffered_rows == len(answer["results"])
        out = feedback(c, {"recommendation_id": answer["recommendation_id"], "user": user,
                           "item": answer["results"][0]["id"], "action": "click"})
        assert out.status_code == 201, out.text
        other = recommend(c, user)  # still buffered at close
        assert sum(arm["clicks"] for arm in report(c)["arms"]) == 1
    stored = SQLiteFeedbackLog(db)
    assert len(stored.find("demo", other["recommendation_id"])) == len(other["results"])
    stored.close()
