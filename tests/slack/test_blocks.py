"""Block Kit: reasons rendered the Slack way, buttons carrying the recommendation id."""

from __future__ import annotations

import json

import pytest

from teamrec.integrations.slack import blocks
from teamrec.integrations.slack.protocol import Answer, Colleague, Reason, Recommended

ANSWER = Answer(recommendation_id="rec42", team="acme", person="U1", items=(
    Recommended("C1", "ml", 0.9, 1,
                (Reason("channels", items=("C7", "C8", "C9", "C10")), Reason("people", people=("U5",)))),
    Recommended("C2", "bi", 0.5, 2, (Reason("overlap", items=("C7",), count=8, total=12),)),
    Recommended("C3", "random", 0.1, 3, (Reason("popular"),)),
))


@pytest.mark.parametrize("reason, text", [
    (Reason("channels", items=("C7", "C8")), "Because you are in <#C7>, <#C8>"),
    (Reason("channels", items=("C1", "C2", "C3", "C4", "C5")), "Because you are in <#C1>, <#C2>, <#C3> and 2 more"),
    (Reason("people", people=("U5", "U6")), "People like you are here: <@U5>, <@U6>"),
    (Reason("overlap", items=("C7",), count=8, total=12), "8 of the 12 members of <#C7> are here"),
    (Reason("popular"), "Popular in this team"),
    (Reason("new"), "Popular with people who are new here"),
])
def test_reason_text(reason, text):
    assert blocks.reason_text(reason) == text


def test_home_view():
    view = blocks.home_view(ANSWER, [Colleague("U9", "Ann", 0.7, ("C7", "C8"), 5)], team_id="T1")
    assert view["type"] == "home"
    actions = [b for b in view["blocks"] if b["type"] == "actions"]
    assert len(actions) == 3
    join, dismiss = actions[0]["elements"]
    assert (join["action_id"], dismiss["action_id"]) == (blocks.JOIN, blocks.DISMISS)
    assert blocks.parse_button_value(join["value"]) == ("rec42", "C1") == blocks.parse_button_value(dismiss["value"])
    assert join["url"] == "https://slack.com/app_redirect?channel=C1&team=T1"
    text = json.dumps(view)
    assert "<#C1>" in text and "Because you are in <#C7>, <#C8>, <#C9> and 1 more" in text
    assert "<@U9>: you share 5 channels (<#C7>, <#C8>)" in text
    assert len(json.dumps(view)) < 100_000 and len(view["blocks"]) <= 100  # Slack's limits


def test_command_message_is_ephemeral_and_digest_has_controls():
    msg = blocks.command_message(ANSWER)
    assert msg["response_type"] == "ephemeral" and msg["text"] == "Channels you might like: <#C1>, <#C2>, <#C3>"
    digest = blocks.digest_message(ANSWER, snooze_days=30)
    controls = digest["blocks"][-1]["elements"]
    assert [c["action_id"] for c in controls] == [blocks.SNOOZE, blocks.OPT_OUT]
    assert controls[0]["text"]["text"] == "Snooze for 30 days"


def test_empty_answer_and_foreign_values():
    view = blocks.home_view(Answer("r", "acme", "U1"), [])
    assert "No channel suggestions" in json.dumps(view) and "Nobody yet" in json.dumps(view)
    with pytest.raises(ValueError):
        blocks.parse_button_value('{"x": 1}')
