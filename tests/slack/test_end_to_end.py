"""The whole loop through the real service: the mock workspace (from the real export) ->
``teamrec slack sync`` -> the service (create_app with settings naming that store and
metadata folder, the Slack app mounted) -> App Home published with the expected channels ->
a signed Join click -> feedback stored -> that person's next App Home has changed."""

from __future__ import annotations

import json

from teamrec.cli import main
from teamrec.data.dataset import Dataset
from teamrec.integrations.slack import blocks
from teamrec.service.app import create_app
from teamrec.service.teams import Caller

from .conftest import (
    PERSON,
    PRIVATE,
    TEAM,
    TestClient,
    action_body,
    command_body,
    event_body,
    post,
    service_settings,
    wait_for,
)
from .mock_slack import TOKEN

HOME = {"type": "app_home_opened", "user": PERSON, "channel": "D1", "tab": "home", "event_ts": "1700000000.000100"}


def _view(call) -> dict:
    view = call.params["view"]
    return view if isinstance(view, dict) else json.loads(view)


def _home_items(view: dict) -> list[str]:
    return [blocks.parse_button_value(b["elements"][0]["value"])[1]
            for b in view["blocks"] if b["type"] == "actions" and b["block_id"].startswith("act_")]


def _published(mock, n: int) -> list[dict]:
    calls = wait_for(lambda: (c := mock.calls_to("views.publish")) and len(c) >= n and c)
    assert all(c.params["user_id"] == PERSON for c in calls)
    return [_view(c) for c in calls]


def test_sync_serve_home_join_click_changes_the_next_home(mock_slack, tmp_path, capsys, monkeypatch):
    db, meta = tmp_path / "events.sqlite3", tmp_path / "meta"
    monkeypatch.setenv("SLACK_BOT_TOKEN", TOKEN)
    sync = ["slack", "sync", "--team", TEAM, "--store", str(db), "--metadata", str(meta),
            "--base-url", mock_slack.base_url]
    assert main(sync) == 0
    assert json.loads(capsys.readouterr().out)["events_stored"] > 1000

    app = create_app(service_settings(db, meta, api_url=mock_slack.base_url))
    with TestClient(app) as http:
        service = app.state.service.team(TEAM)
        assert post(http, event_body(HOME), "application/json").status_code == 200
        first = _published(mock_slack, 1)[0]
        items = _home_items(first)
        # the service's own list for that person, as a member sees it: the expected channels
        expected = service.recommend(Caller(trusted=True, viewer=PERSON), PERSON, 5)
        assert len(items) == 5 and items == [r.id for r in expected.results]
        text = json.dumps(first)
        assert f"<#{items[0]}>" in text and "<@" in text  # channels and people mentioned as Slack does
        channels = Dataset.load(meta).items
        private = set(channels.loc[channels["name"].isin(list(PRIVATE)), "item"])
        # the app is in one of the two private channels: the other is never even listed
        assert len(private) == 1 and channels.set_index("item").loc[list(private), "private"].all()
        mine = set(service.store.events(TEAM).query("user == @PERSON and kind == 'member'")["item"])
        assert not (private - mine) & set(items)  # never a private channel they are not in

        rid, item, surface = blocks.parse_button_value(
            next(b for b in first["blocks"] if b["type"] == "actions")["elements"][0]["value"])
        assert (item, surface) == (items[0], "slack_home")
        click = action_body(PERSON, blocks.JOIN, blocks.button_value(rid, item, surface))
        assert post(http, click, "application/x-www-form-urlencoded").status_code == 200
        second = _published(mock_slack, 2)[1]

        stored = service.store.events(TEAM)
        joined = stored[(stored["user"] == PERSON) & (stored["item"] == item) & (stored["kind"] == "member")]
        assert len(joined) == 1  # the join is a learning event in the service's store
        assert item not in _home_items(second) and _home_items(second) != items
        assert rid not in json.dumps(second)  # a new recommendation id for the new answer


def test_not_interested_is_never_shown_again(stack):
    http, team, mock, store = stack
    answer = team.recommend(PERSON, 5, surface="slack_home")
    first = answer.results[0].id
    body = action_body(PERSON, blocks.DISMISS, blocks.button_value(answer.recommendation_id, first, "slack_home"))
    assert post(http, body, "application/x-www-form-urlencoded").status_code == 200
    assert first not in _home_items(_published(mock, 1)[0])
    events = store.events(TEAM)
    assert ((events["user"] == PERSON) & (events["item"] == first) & (events["kind"] == "dismiss")).sum() == 1


def test_slash_command_answers_only_the_asker(stack):
    http, team, mock, _ = stack
    response = post(http, command_body(PERSON, mock.response_url()), "application/x-www-form-urlencoded",
                    path="/slack/commands")
    assert response.status_code == 200
    sent = wait_for(lambda: mock.calls_to("response_url"))[0].params
    assert sent["response_type"] == "ephemeral"
    assert "<#" in sent["text"]
    value = next(b for b in sent["blocks"] if b["type"] == "actions")["elements"][0]["value"]
    assert blocks.parse_button_value(value)[2] == "slack_command"
    assert not mock.calls_to("chat.postMessage")


def test_a_left_channel_is_never_recommended_back_and_home_is_refreshed(stack):
    http, team, mock, store = stack
    channel = "C03T0APHX63"
    events = store.events(TEAM)
    assert ((events["user"] == PERSON) & (events["item"] == channel) & (events["kind"] == "member")).any()
    post(http, event_body(HOME), "application/json")
    _published(mock, 1)
    left = event_body({"type": "member_left_channel", "user": PERSON, "channel": channel, "channel_type": "C",
                       "event_ts": "1900000000.000100"})
    assert post(http, left, "application/json").status_code == 200
    refreshed = _published(mock, 2)[1]  # without opening Home again
    assert (store.events(TEAM)["kind"] == "leave").any()
    assert channel not in _home_items(refreshed)
    assert channel not in [r.id for r in team.recommend(PERSON, 40, surface="slack_home").results]


def test_a_new_person_gets_personal_channels_from_their_first_join(stack):
    http, team, mock, _ = stack
    newcomer = "U0NEWPERSON"
    before = [r.id for r in team.recommend(newcomer, 5, surface="slack_home").results]
    join = event_body({"type": "member_joined_channel", "user": newcomer, "channel": "C03T0APHX63",
                       "channel_type": "C", "event_ts": "1900000000.000300"})
    assert post(http, join, "application/json").status_code == 200
    after = wait_for(lambda: (r := [x.id for x in team.recommend(newcomer, 5, surface="slack_home").results])
                     != before and r)
    assert "C03T0APHX63" not in after
