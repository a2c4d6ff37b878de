"""Block Kit: the service's answers rendered the Slack way (reasons by teamrec.reasons),
buttons carrying the recommendation id and the surface."""

from __future__ import annotations

import json

import pytest

from teamrec.integrations.slack import blocks
from teamrec.recommender import NEW_HERE, POPULAR, Result
from teamrec.service.teams import Answer


def because(*channels):
    return {"why": {"kind": "because_in", "items": [{"id": c, "name": c.lower()} for c in channels]}}


ANSWER = Answer(team="acme", model_version=1, recommendation_id="rec42", subject={"user": "U1"}, results=[
    Result("C1", "ml", 0.9, details=because("C7", "C8", "C9"), position=1),
    Result("C2", "bi", 0.5, details={"why": {"kind": "people_like_you", "people": [{"id": "U5", "name": "Ann"}]}},
           position=2),
    Result("C3", "random", 0.1, reason=POPULAR, details={"fallback": "popularity"}, position=3),
])
PEOPLE = Answer(team="acme", model_version=1, results=[
    Result("U9", "Ann", 0.7, details={"shared": 5, "why": {"kind": "shared", "items": [
        {"id": "C7", "name": "ml"}, {"id": "C8", "name": "bi"}], "counts": {"shared": 5}, "item_kind": "channel"}}),
])


@pytest.mark.parametrize("result, text", [
    (ANSWER.results[0], "Because you are in <#C7>, <#C8>, <#C9>"),
    (ANSWER.results[1], "People like you are here: <@U5>"),
    (ANSWER.results[2], "Popular in this team"),
    (Result("C4", "x", 0.1, reason=NEW_HERE), "New here: popular in this team"),
])
def test_reason_text_is_teamrec_reasons_for_slack(result, text):
    assert blocks.reason_text(result) == text


def test_home_view():
    view = blocks.home_view(ANSWER, PEOPLE, team_id="T1")
    assert view["type"] == "home"
    actions = [b for b in view["blocks"] if b["type"] == "actions"]
    assert len(actions) == 3
    join, dismiss = actions[0]["elements"]
    assert (join["action_id"], dismiss["action_id"]) == (blocks.JOIN, blocks.DISMISS)
    assert (blocks.parse_button_value(join["value"]) == ("rec42", "C1", "slack_home")
            == blocks.parse_button_value(dismiss["value"]))
    assert join["url"] == "https://slack.com/app_redirect?channel=C1&team=T1"
    text = json.dumps(view)
    assert "*<#C1>*" in text and "Because you are in <#C7>, <#C8>, <#C9>" in text
    assert "<@U9>: you share 5 channels: <#C7>, <#C8> ..." in text
    assert len(json.dumps(view)) < 100_000 and len(view["blocks"]) <= 100  # Slack's limits


def test_command_message_is_ephemeral_and_digest_has_controls():
    msg = blocks.command_message(ANSWER)
    assert msg["response_type"] == "ephemeral" and msg["text"] == "Channels you might like: <#C1>, <#C2>, <#C3>"
    digest = blocks.digest_message(ANSWER, snooze_days=30)
    join = next(b for b in digest["blocks"] if b["type"] == "actions")["elements"][0]
    assert blocks.parse_button_value(join["value"])[2] == "digest"
    controls = digest["blocks"][-1]["elements"]
    assert [c["action_id"] for c in controls] == [blocks.SNOOZE, blocks.OPT_OUT]
    assert controls[0]["text"]["text"] == "Snooze for 30 days"


def test_empty_answer_and_foreign_values():
    view = blocks.home_view(Answer("acme", 1, [], recommendation_id="r"), None)
    assert "No channel suggestions" in json.dumps(view) and "Nobody yet" in json.dumps(view)
    with pytest.raises(ValueError):
        blocks.parse_button_value('{"x": 1}')
    with pytest.raises(ValueError):
        blocks.parse_button_value('{"r": "a", "i": "b"}')
