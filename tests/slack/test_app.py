"""The Bolt app over HTTP: signatures (valid, forged, stale), ack within 3 s, events ingested
once, snooze and opt-out, digests through the mock, Socket Mode builds."""

from __future__ import annotations

import json
import logging
import time

import pytest
from fastapi import FastAPI

from teamrec.errors import ConfigError
from teamrec.integrations.slack import blocks
from teamrec.integrations.slack.app import SlackSettings, create_slack_app, send_digests
from teamrec.integrations.slack.digest import DigestSettings, DigestState
from teamrec.integrations.slack.http import slack_router, socket_mode_handler
from teamrec.integrations.slack.local import ModelService
from teamrec.integrations.slack.protocol import SlackService

from .conftest import (
    PERSON,
    SIGNING_SECRET,
    TEAM,
    TestClient,
    action_body,
    command_body,
    event_body,
    post,
    sign,
    wait_for,
)
from .mock_slack import TOKEN

HOME = {"type": "app_home_opened", "user": PERSON, "channel": "D1", "tab": "home", "event_ts": "1700000000.1"}


def test_signed_request_is_served_and_no_secret_is_logged(stack, caplog):
    caplog.set_level(logging.DEBUG)
    http, service, mock, _ = stack
    assert isinstance(service, SlackService)  # the adapter implements the protocol
    assert post(http, event_body(HOME), "application/json").status_code == 200
    wait_for(lambda: mock.calls_to("views.publish"))
    assert "views.publish" in caplog.text
    assert TOKEN not in caplog.text and SIGNING_SECRET not in caplog.text


@pytest.mark.parametrize("how", ["forged", "stale", "unsigned", "tampered"])
def test_bad_requests_are_refused(stack, how):
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
    response = http.post("/slack/events", content=body, headers={"Content-Type": "application/json", **headers})
    assert response.status_code == 401
    time.sleep(0.3)
    assert not mock.calls_to("views.publish")


def test_url_verification_challenge(stack):
    http = stack[0]
    body = json.dumps({"type": "url_verification", "token": "x", "challenge": "abc123"})
    response = post(http, body, "application/json")
    assert response.status_code == 200 and "abc123" in response.text


class SlowService(ModelService):
    """The service taking 2 s (a cold model): Slack must still get its ack at once."""

    def recommend(self, team, person, k=5, *, surface="slack_home"):
        time.sleep(2.0)
        return super().recommend(team, person, k, surface=surface)


@pytest.mark.parametrize("stack", [SlowService], indirect=True)
def test_ack_comes_before_the_work(stack):
    http, _, mock, _ = stack
    start = time.monotonic()
    response = post(http, command_body(PERSON, mock.response_url()), "application/x-www-form-urlencoded")
    assert response.status_code == 200 and time.monotonic() - start < 1.5
    assert not mock.calls_to("response_url")
    wait_for(lambda: mock.calls_to("response_url"))


def test_workspace_events_are_ingested_once(stack):
    http, service, _, store = stack
    before = store.count(TEAM)
    join = event_body({"type": "member_joined_channel", "user": PERSON, "channel": "C0NEWCHAN1", "channel_type": "C",
                       "event_ts": "1800000000.000200"})
    for _ in range(2):  # Slack redelivers when it thinks it was not acknowledged
        assert post(http, join, "application/json").status_code == 200
    wait_for(lambda: store.count(TEAM) > before)
    time.sleep(0.3)
    assert store.count(TEAM) == before + 1
    rename = event_body({"type": "channel_rename", "channel": {"id": "C0NEWCHAN1", "name": "brand-new"}})
    post(http, rename, "application/json")
    wait_for(lambda: (service._items["item"] == "C0NEWCHAN1").any())
    assert service._items.set_index("item").loc["C0NEWCHAN1", "name"] == "brand-new"


def test_feedback_on_an_unknown_recommendation_is_refused(stack, caplog):
    http, service, mock, _ = stack
    body = action_body(PERSON, blocks.DISMISS, blocks.button_value("nosuchid", "C03T0APHX63"), home=False,
                       response_url=mock.response_url())
    post(http, body, "application/x-www-form-urlencoded")
    notice = wait_for(lambda: mock.calls_to("response_url"))[0].params
    assert "unknown recommendation" in notice["text"] and not service.feedback_log


def test_snooze_and_opt_out_buttons_are_respected(stack, client):
    http, service, mock, _ = stack
    state = DigestState()
    settings = SlackSettings(team=TEAM, bot_token=TOKEN, signing_secret=SIGNING_SECRET,
                             digest=DigestSettings(max_channels=100, min_tenure_days=0, weekdays_only=False,
                                                   work_start_hour=0, work_end_hour=24))
    people = ["U03U1FNPEUX", "U03UJGP0C68", "U03UD5B7C3X"]
    outcome = send_digests(client, service, settings, state, people, in_rollout=lambda team: True)
    assert list(outcome.values()) == ["sent"] * 3
    sent = mock.calls_to("chat.postMessage")
    assert [c.params["channel"] for c in sent] == people
    controls = sent[0].params["blocks"][-1]["elements"]
    assert [c["action_id"] for c in controls] == [blocks.SNOOZE, blocks.OPT_OUT]
    # at most one per 14 days
    assert set(send_digests(client, service, settings, state, people, in_rollout=lambda t: True).values()) == {
        "too_soon"}
    # the buttons, through the app, set the state the rules read
    bolt = create_slack_app(settings, service, client, digest_state=state)
    web = FastAPI()
    web.include_router(slack_router(bolt))
    with TestClient(web) as app_http:
        for user, action in ((people[0], blocks.SNOOZE), (people[1], blocks.OPT_OUT)):
            body = action_body(user, action, controls[0]["value"], home=False, response_url=mock.response_url(user))
            assert post(app_http, body, "application/x-www-form-urlencoded").status_code == 200
        wait_for(lambda: len(mock.calls_to("response_url")) >= 2)
    later = time.time() + 15 * 86_400
    outcome = send_digests(client, service, settings, state, people, now=later, in_rollout=lambda t: True)
    assert outcome == {people[0]: "snoozed", people[1]: "opted_out", people[2]: "sent"}
    assert send_digests(client, service, settings, DigestState(), people, in_rollout=lambda t: False) == {
        p: "rollout" for p in people}


def test_socket_mode_builds(synced, client):
    settings = SlackSettings.from_env(TEAM, {"SLACK_BOT_TOKEN": TOKEN, "SLACK_SIGNING_SECRET": SIGNING_SECRET,
                                             "SLACK_APP_TOKEN": "xapp-1-A0-1-abc"})
    bolt = create_slack_app(settings, ModelService.__new__(ModelService), client)
    handler = socket_mode_handler(bolt, settings)
    assert handler.app is bolt and handler.client.app_token == "xapp-1-A0-1-abc"
    with pytest.raises(ConfigError, match="SLACK_APP_TOKEN"):
        socket_mode_handler(bolt, settings.model_copy(update={"app_token": None}))
    with pytest.raises(ConfigError, match="SLACK_SIGNING_SECRET"):
        SlackSettings.from_env(TEAM, {"SLACK_BOT_TOKEN": TOKEN})
    assert TOKEN not in repr(settings) and SIGNING_SECRET not in str(settings)
