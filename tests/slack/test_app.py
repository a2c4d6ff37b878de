"""The Bolt app mounted in the teamrec service: signatures (valid, forged, stale) against the
mounted endpoints, ack within 3 s, events ingested once, channel metadata reaching the model,
snooze and opt-out, digests through the mock (rollout by the experiment assignment), Socket
Mode builds, and the service without the Slack table or package."""

from __future__ import annotations

import gc
import json
import logging
import time
import warnings

import pytest

from teamrec.data.dataset import Dataset
from teamrec.errors import ConfigError
from teamrec.integrations.slack import blocks
from teamrec.integrations.slack.app import create_slack_app, send_digests
from teamrec.integrations.slack.digest import DigestSettings, DigestState
from teamrec.integrations.slack.http import PATHS, socket_mode_handler
from teamrec.integrations.slack.settings import SlackSettings
from teamrec.integrations.slack.team import SlackTeam
from teamrec.service.app import create_app
from teamrec.service.teams import Caller

from .conftest import (
    PERSON,
    SIGNING_SECRET,
    TEAM,
    TestClient,
    action_body,
    command_body,
    event_body,
    is_closed,
    post,
    service_settings,
    sign,
    wait_for,
)
from .mock_slack import TOKEN

HOME = {"type": "app_home_opened", "user": PERSON, "channel": "D1", "tab": "home", "event_ts": "1700000000.1"}


def test_signed_request_is_served_and_no_secret_is_logged(stack, caplog):
    caplog.set_level(logging.DEBUG)
    http, team, mock, _ = stack
    assert isinstance(team, SlackTeam)
    assert post(http, event_body(HOME), "application/json").status_code == 200
    wait_for(lambda: mock.calls_to("views.publish"))
    assert "views.publish" in caplog.text
    assert TOKEN not in caplog.text and SIGNING_SECRET not in caplog.text


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("how", ["forged", "stale", "unsigned", "tampered"])
def test_bad_requests_are_refused_by_the_mounted_endpoints(stack, how, path):
    http, _, mock, _ = stack
    body = event_body(HOME)
    if how == "forged":
        headers = sign(body, secret="not-the-signing-secret")
    elif how == "stale":
        headers = sign(body, timestamp=int(time.time()) - 301)
    elif how == "unsigned":
        headers = {}
    else:
        headers = sign(body)
        body = body.replace(PERSON, "U000000000")
    response = http.post(path, content=body, headers={"Content-Type": "application/json", **headers})
    assert response.status_code == 401
    time.sleep(0.3)
    assert not mock.calls_to("views.publish")


def test_url_verification_challenge(stack):
    http = stack[0]
    body = json.dumps({"type": "url_verification", "token": "x", "challenge": "abc123"})
    response = post(http, body, "application/json")
    assert response.status_code == 200 and "abc123" in response.text
    # a fresh, validly signed request is served by the mounted endpoint
    assert post(http, body, "application/json", timestamp=int(time.time()) - 60).status_code == 200


def test_ack_comes_before_the_work(stack, monkeypatch):
    http, team, mock, _ = stack
    slow = team.recommend

    def recommend(*args, **kwargs):  # the service taking 2 s (a cold model)
        time.sleep(2.0)
        return slow(*args, **kwargs)

    monkeypatch.setattr(team, "recommend", recommend)
    start = time.monotonic()
    response = post(http, command_body(PERSON, mock.response_url()), "application/x-www-form-urlencoded")
    assert response.status_code == 200 and time.monotonic() - start < 1.5
    assert not mock.calls_to("response_url")
    wait_for(lambda: mock.calls_to("response_url"))


def test_workspace_events_are_ingested_once(stack):
    http, team, _, store = stack
    before = store.count(TEAM)
    join = event_body({"type": "member_joined_channel", "user": PERSON, "channel": "C0NEWCHAN1", "channel_type": "C",
                       "event_ts": "1800000000.000200"})
    for _ in range(2):  # Slack redelivers when it thinks it was not acknowledged
        assert post(http, join, "application/json").status_code == 200
    wait_for(lambda: store.count(TEAM) > before)
    time.sleep(0.3)
    assert store.count(TEAM) == before + 1


def _home_channels(mock, n: int) -> list[str]:
    """The channels of the ``n``-th Home view published (waits for it)."""
    calls = wait_for(lambda: (c := mock.calls_to("views.publish")) and len(c) >= n and c)
    view = calls[n - 1].params["view"]
    view = view if isinstance(view, dict) else json.loads(view)
    return [blocks.parse_button_value(b["elements"][0]["value"])[1]
            for b in view["blocks"] if b["type"] == "actions" and b["block_id"].startswith("act_")]


def _everywhere(http, mock, n_home: int, near: str) -> tuple[list[str], list[str], list[str]]:
    """``PERSON``'s channels on App Home (an app_home_opened event, the ``n_home``-th view), in
    the service's HTTP answer, and the channels the HTTP API lists as similar to ``near``."""
    assert post(http, event_body(HOME), "application/json").status_code == 200
    home = _home_channels(mock, n_home)
    api = f"/api/v1/teams/{TEAM}"
    served = http.get(f"{api}/people/{PERSON}/recommendations", params={"k": 200, "explain": True})
    similar = http.get(f"{api}/items/{near}/similar", params={"k": 200})
    assert served.status_code == similar.status_code == 200
    return home, [r["id"] for r in served.json()["results"]], [r["id"] for r in similar.json()["results"]]


def test_channel_metadata_reaches_the_model_and_an_archived_channel_disappears_everywhere(stack):
    http, team, mock, _ = stack
    top = team.recommend(PERSON, 3, surface="slack_home").results[0].id
    version = team.service.state.version
    rename = event_body({"type": "channel_rename", "channel": {"id": top, "name": "brand-new-name"}})
    assert post(http, rename, "application/json").status_code == 200
    wait_for(lambda: team.service.state.version > version)
    assert Dataset.load(team.metadata_dir).items.set_index("item").loc[top, "name"] == "brand-new-name"
    assert team.service.item(Caller(trusted=True, viewer=PERSON), top)["name"] == "brand-new-name"
    near = team.service.similar_items(Caller(), top, 1).results[0].id
    home, served, similar = _everywhere(http, mock, 1, near)
    assert top == home[0] and top in served and top in similar  # before: on every surface

    version = team.service.state.version
    archive = event_body({"type": "channel_archive", "channel": top, "user": PERSON, "event_ts": "1800000000.1"})
    assert post(http, archive, "application/json").status_code == 200
    wait_for(lambda: team.service.state.version > version)
    assert http.get(f"/api/v1/teams/{TEAM}/items/{top}").json()["archived"] is True
    home, served, similar = _everywhere(http, mock, 2, near)
    assert home and served and similar
    assert top not in home and top not in served and top not in similar  # the service's rule, no Slack exclude
    assert top not in [r.id for r in team.recommend(PERSON, 200, surface="slack_home").results]

    unarchive = event_body({"type": "channel_unarchive", "channel": top, "user": PERSON, "event_ts": "1800000000.2"})
    version = team.service.state.version
    post(http, unarchive, "application/json")
    wait_for(lambda: team.service.state.version > version)
    home, served, similar = _everywhere(http, mock, 3, near)
    assert top == home[0] and top in served and top in similar
    version = team.service.state.version
    created = event_body({"type": "channel_created", "channel": {"id": "C0LAUNCH01", "name": "launch",
                          "created": 1800000000, "creator": PERSON}})
    post(http, created, "application/json")
    wait_for(lambda: team.service.state.version > version)
    row = Dataset.load(team.metadata_dir).items.set_index("item").loc["C0LAUNCH01"]
    assert (row["name"], bool(row["private"]), bool(row["archived"])) == ("launch", False, False)


def test_feedback_on_an_unknown_recommendation_is_refused(stack):
    http, team, mock, store = stack
    before = store.count(TEAM)
    body = action_body(PERSON, blocks.DISMISS, blocks.button_value("nosuchid", "C03T0APHX63", "digest"), home=False,
                       response_url=mock.response_url())
    post(http, body, "application/x-www-form-urlencoded")
    notice = wait_for(lambda: mock.calls_to("response_url"))[0].params
    assert "unknown recommendation" in notice["text"] and store.count(TEAM) == before


def test_another_persons_recommendation_is_refused(stack):
    http, team, mock, store = stack
    answer = team.recommend(PERSON, 3, surface="slack_home")
    before = store.count(TEAM)
    body = action_body("U03UJGP0C68", blocks.JOIN, blocks.button_value(answer.recommendation_id,
                       answer.results[0].id, "slack_home"), home=False, response_url=mock.response_url())
    post(http, body, "application/x-www-form-urlencoded")
    wait_for(lambda: mock.calls_to("response_url"))
    assert store.count(TEAM) == before


DIGEST = DigestSettings(max_channels=100, min_tenure_days=0, weekdays_only=False, work_start_hour=0, work_end_hour=24)


def test_snooze_and_opt_out_buttons_are_respected(stack, client):
    http, team, mock, _ = stack
    state = DigestState()
    settings = SlackSettings(team=TEAM, bot_token=TOKEN, signing_secret=SIGNING_SECRET, digest=DIGEST)
    people = ["U03U1FNPEUX", "U03UJGP0C68", "U03UD5B7C3X"]
    outcome = send_digests(client, team, settings, state, people)
    assert list(outcome.values()) == ["sent"] * 3
    sent = mock.calls_to("chat.postMessage")
    assert [c.params["channel"] for c in sent] == people
    message = sent[0].params["blocks"]
    join = next(b for b in message if b["type"] == "actions")["elements"][0]
    assert blocks.parse_button_value(join["value"])[2] == "digest"  # digest presses carry their surface
    controls = message[-1]["elements"]
    assert [c["action_id"] for c in controls] == [blocks.SNOOZE, blocks.OPT_OUT]
    # at most one per 14 days
    assert set(send_digests(client, team, settings, state, people).values()) == {"too_soon"}
    # the buttons, through an app over the same team, set the state the rules read
    bolt = create_slack_app(settings, team, client, digest_state=state)
    from fastapi import FastAPI

    from teamrec.integrations.slack.http import slack_router

    web = FastAPI()
    web.include_router(slack_router(bolt))
    with TestClient(web) as app_http:
        for user, action in ((people[0], blocks.SNOOZE), (people[1], blocks.OPT_OUT)):
            body = action_body(user, action, controls[0]["value"], home=False, response_url=mock.response_url(user))
            assert post(app_http, body, "application/x-www-form-urlencoded").status_code == 200
        wait_for(lambda: len(mock.calls_to("response_url")) >= 2)
    later = time.time() + 15 * 86_400
    outcome = send_digests(client, team, settings, state, people, now=later)
    assert outcome == {people[0]: "snoozed", people[1]: "opted_out", people[2]: "sent"}


def test_digest_join_is_feedback_with_the_digest_surface(stack, client, monkeypatch):
    http, team, mock, store = stack
    calls = []
    feedback = team.service.feedback

    def spy(caller, user, item, action, **kwargs):  # what reaches TeamService.feedback (the contract)
        calls.append((caller, user, item, action, kwargs))
        return feedback(caller, user, item, action, **kwargs)

    monkeypatch.setattr(team.service, "feedback", spy)
    settings = SlackSettings(team=TEAM, bot_token=TOKEN, signing_secret=SIGNING_SECRET, digest=DIGEST)
    assert send_digests(client, team, settings, DigestState(), [PERSON]) == {PERSON: "sent"}
    message = mock.calls_to("chat.postMessage")[0].params["blocks"]
    value = next(b for b in message if b["type"] == "actions")["elements"][0]["value"]
    rid, item, surface = blocks.parse_button_value(value)
    body = action_body(PERSON, blocks.JOIN, value, home=False, response_url=mock.response_url())
    assert post(http, body, "application/x-www-form-urlencoded").status_code == 200
    wait_for(lambda: ((store.events(TEAM)["item"] == item) & (store.events(TEAM)["user"] == PERSON)
                      & (store.events(TEAM)["kind"] == "member")).any())
    assert item not in [r.id for r in team.recommend(PERSON, 10, surface="slack_home").results]
    assert [c[3] for c in calls] == ["click", "join"]
    assert all(c[0] == Caller(trusted=True, viewer=PERSON) and c[1:3] == (PERSON, item)
               and c[4] == {"recommendation_id": rid, "surface": "digest"} for c in calls)


def test_digest_rollout_is_the_experiment_assignment(stack, client):
    _, team, mock, _ = stack
    from teamrec.experiments.assignment import team_draws

    for share in (0.0, 1.0):
        rules = DIGEST.model_copy(update={"rollout_share": share})
        settings = SlackSettings(team=TEAM, bot_token=TOKEN, signing_secret=SIGNING_SECRET, digest=rules)
        outcome = send_digests(client, team, settings, DigestState(), [PERSON])
        assert outcome == {PERSON: "sent" if share else "rollout"}
    draw = float(team_draws(DIGEST.rollout_name, [TEAM], DIGEST.rollout_salt)[0])
    below = DIGEST.model_copy(update={"rollout_share": draw * 0.99})
    above = DIGEST.model_copy(update={"rollout_share": min(1.0, draw * 1.01 + 1e-9)})
    for rules, expected in ((below, "rollout"), (above, "sent")):
        settings = SlackSettings(team=TEAM, bot_token=TOKEN, signing_secret=SIGNING_SECRET, digest=rules)
        assert send_digests(client, team, settings, DigestState(), [PERSON]) == {PERSON: expected}


def test_socket_mode_builds(stack, client):
    _, team, _, _ = stack
    settings = SlackSettings.from_env(TEAM, {"SLACK_BOT_TOKEN": TOKEN, "SLACK_SIGNING_SECRET": SIGNING_SECRET,
                                             "SLACK_APP_TOKEN": "xapp-1-A0-1-abc"})
    bolt = create_slack_app(settings, team, client)
    handler = socket_mode_handler(bolt, settings)
    assert handler.app is bolt and handler.client.app_token == "xapp-1-A0-1-abc"
    with pytest.raises(ConfigError, match="SLACK_APP_TOKEN"):
        socket_mode_handler(bolt, settings.model_copy(update={"app_token": None}))
    with pytest.raises(ConfigError, match="SLACK_SIGNING_SECRET"):
        SlackSettings.from_env(TEAM, {"SLACK_BOT_TOKEN": TOKEN})
    assert TOKEN not in repr(settings) and SIGNING_SECRET not in str(settings)


def test_the_digest_state_is_closed_when_the_service_shuts_down(synced, mock_slack, tmp_path, digest_states):
    db, meta = synced
    path = tmp_path / "digest.sqlite3"
    app = create_app(service_settings(db, meta, api_url=mock_slack.base_url, digest_state=str(path)))
    state = app.state.slack._teamrec["digest_state"]
    assert digest_states == [state]
    with TestClient(app):
        state.opt_out(TEAM, PERSON)  # open and in use while the service runs
        assert not is_closed(state)
    assert is_closed(state)  # the lifespan's shutdown closed it with the service
    with warnings.catch_warnings():
        warnings.simplefilter("error", ResourceWarning)  # (Python >= 3.13 warns on an unclosed one)
        del state, app
        gc.collect()
    again = DigestState(path)  # what it stored is on disk
    assert again.get(TEAM, [PERSON])["opted_out"].tolist() == [True]
    again.close()


def test_no_slack_table_no_endpoints_and_a_hint_without_the_package(synced, monkeypatch, caplog):
    db, meta = synced
    settings = service_settings(db, meta).model_copy(update={"slack": None})
    app = create_app(settings)
    assert not [r for r in app.routes if getattr(r, "path", "").startswith("/slack")]
    import builtins

    real_import = builtins.__import__

    def no_slack(name, *args, **kwargs):
        if name.startswith(("slack_bolt", "slack_sdk")):
            raise ImportError(f"No module named {name!r}")
        return real_import(name, *args, **kwargs)

    import sys

    for name in [m for m in sys.modules if m.startswith("teamrec.integrations.slack.http")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setattr(builtins, "__import__", no_slack)
    with caplog.at_level(logging.WARNING):
        app = create_app(service_settings(db, meta))
    assert not [r for r in app.routes if getattr(r, "path", "").startswith("/slack")]
    assert "pip install 'teamrec[slack]'" in caplog.text
