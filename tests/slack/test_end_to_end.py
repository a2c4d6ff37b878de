"""The whole loop without the real service layer: sync from the mock Slack -> events in a
store -> a TeamModel -> App Home published -> a signed Join click -> feedback stored -> that
person's next App Home has changed. (Round two swaps ModelService for the service layer.)"""

from __future__ import annotations

import json

from teamrec.integrations.slack import blocks

from .conftest import PERSON, TEAM, action_body, command_body, event_body, post, wait_for


def _home_items(view: dict) -> list[str]:
    items = []
    for block in view["blocks"]:
        if block["type"] == "actions" and block["block_id"].startswith("act_"):
            items.append(blocks.parse_button_value(block["elements"][0]["value"])[1])
    return items


def _published(mock, n: int) -> list[dict]:
    calls = wait_for(lambda: (c := mock.calls_to("views.publish")) and len(c) >= n and c)
    return [c.params for c in calls]


def test_home_join_click_changes_the_next_home(stack):
    http, service, mock, store = stack
    opened = event_body({"type": "app_home_opened", "user": PERSON, "channel": "D1", "tab": "home",
                         "event_ts": "1700000000.000100"})
    assert post(http, opened, "application/json").status_code == 200
    first = _published(mock, 1)[0]
    assert first["user_id"] == PERSON
    view = first["view"] if isinstance(first["view"], dict) else json.loads(first["view"])
    items = _home_items(view)
    assert len(items) == 5
    expected = [r.item for r in service.recommend(TEAM, PERSON, 5).items]
    assert items == expected  # the model's list, rendered
    texts = " ".join(b["text"]["text"] for b in view["blocks"] if b["type"] == "section")
    assert f"<#{items[0]}>" in texts and "<@" in texts  # channels and people, mentioned as Slack does
    private_ids = set(service._items.loc[service._items["private"], "item"])
    in_private = set(store.events(TEAM).query("user == @PERSON")["item"]) & private_ids
    assert not (set(items) & private_ids - in_private)

    value = blocks.parse_button_value(
        next(b for b in view["blocks"] if b["type"] == "actions")["elements"][0]["value"])
    click = action_body(PERSON, blocks.JOIN, blocks.button_value(*value))
    assert post(http, click, "application/x-www-form-urlencoded").status_code == 200
    second = _published(mock, 2)[1]
    view2 = second["view"] if isinstance(second["view"], dict) else json.loads(second["view"])
    assert [f["action"] for f in service.feedback_log] == ["click", "join"]
    assert {(f["recommendation_id"], f["surface"]) for f in service.feedback_log} == {(value[0], "slack_home")}
    joined = store.events(TEAM).query("user == @PERSON and item == @value[1] and kind == 'member'")
    assert len(joined) == 1
    assert value[1] not in _home_items(view2)  # joined: not suggested again
    assert _home_items(view2) != items


def test_not_interested_is_never_shown_again(stack):
    http, service, mock, _ = stack
    answer = service.recommend(TEAM, PERSON, 5)
    body = action_body(PERSON, blocks.DISMISS, blocks.button_value(answer.recommendation_id, answer.items[0].item))
    assert post(http, body, "application/x-www-form-urlencoded").status_code == 200
    view = _published(mock, 1)[0]["view"]
    assert answer.items[0].item not in _home_items(view)
    assert service.feedback_log[-1]["action"] == "dismiss"


def test_slash_command_answers_only_the_asker(stack):
    http, service, mock, _ = stack
    response = post(http, command_body(PERSON, mock.response_url()), "application/x-www-form-urlencoded")
    assert response.status_code == 200
    sent = wait_for(lambda: mock.calls_to("response_url"))[0].params
    assert sent["response_type"] == "ephemeral"
    assert "<#" in sent["text"]
    assert not mock.calls_to("chat.postMessage")


def test_a_left_channel_is_never_recommended_back_and_home_is_refreshed(stack):
    http, service, mock, _ = stack
    channel = "C03T0APHX63"
    events = service.store.events(TEAM)
    assert ((events["user"] == PERSON) & (events["item"] == channel) & (events["kind"] == "member")).any()
    opened = event_body({"type": "app_home_opened", "user": PERSON, "channel": "D1", "tab": "home",
                         "event_ts": "1700000000.000100"})
    post(http, opened, "application/json")
    _published(mock, 1)
    left = event_body({"type": "member_left_channel", "user": PERSON, "channel": channel, "channel_type": "C",
                       "event_ts": "1900000000.000100"})
    assert post(http, left, "application/json").status_code == 200
    wait_for(lambda: (service.store.events(TEAM)["kind"] == "leave").any())
    refreshed = _published(mock, 2)[1]  # without opening Home again
    assert channel not in _home_items(refreshed["view"])
    assert channel not in [r.item for r in service.recommend(TEAM, PERSON, 40).items]
