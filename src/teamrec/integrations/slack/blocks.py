"""Block Kit for the three surfaces: the App Home tab, the slash command's answer, the digest.

Reasons arrive structured (:class:`~teamrec.integrations.slack.protocol.Reason`) and are
written here the Slack way: channels as ``<#C123>`` and people as ``<@U123>``, which Slack
shows with their current names and only as far as the reader may see them. Every button's
``value`` carries the recommendation id and the item (``{"r": ..., "i": ...}``), so a press
becomes feedback on that very answer.
"""

from __future__ import annotations

import json
from typing import Any

from teamrec.integrations.slack.protocol import Answer, Colleague, Reason, Recommended

JOIN = "teamrec_join"
DISMISS = "teamrec_dismiss"
SNOOZE = "teamrec_snooze"
OPT_OUT = "teamrec_opt_out"
#: Every action id the app handles.
ACTIONS = (JOIN, DISMISS, SNOOZE, OPT_OUT)
#: Most mentions a reason lists before "and N more".
MAX_MENTIONS = 3


def channel(item: str) -> str:
    return f"<#{item}>"


def person(user: str) -> str:
    return f"<@{user}>"


def _mentions(ids: tuple[str, ...], render) -> str:
    shown = ", ".join(render(i) for i in ids[:MAX_MENTIONS])
    more = len(ids) - MAX_MENTIONS
    return shown + (f" and {more} more" if more > 0 else "")


def reason_text(reason: Reason) -> str:
    """One reason in Slack mrkdwn."""
    if reason.kind == "channels" and reason.items:
        return "Because you are in " + _mentions(reason.items, channel)
    if reason.kind == "people" and reason.people:
        return "People like you are here: " + _mentions(reason.people, person)
    if reason.kind == "overlap" and reason.items and reason.count is not None:
        return f"{reason.count} of the {reason.total} members of {channel(reason.items[0])} are here"
    if reason.kind == "new":
        return "Popular with people who are new here"
    return "Popular in this team"


def button_value(recommendation_id: str, item: str) -> str:
    return json.dumps({"r": recommendation_id, "i": item}, separators=(",", ":"))


def parse_button_value(value: str) -> tuple[str, str]:
    """``(recommendation_id, item)`` from a button's value; ValueError if it is not ours."""
    data = json.loads(value)
    if not isinstance(data, dict) or not isinstance(data.get("r"), str) or not isinstance(data.get("i"), str):
        raise ValueError("not a teamrec button value")
    return data["r"], data["i"]


def channel_link(team_id: str | None, item: str) -> str:
    """Slack's redirect that opens (and offers to join) a channel in the person's client."""
    return f"https://slack.com/app_redirect?channel={item}" + (f"&team={team_id}" if team_id else "")


def _item_blocks(answer: Answer, rec: Recommended, team_id: str | None) -> list[dict[str, Any]]:
    why = "\n".join(reason_text(r) for r in rec.reasons) or reason_text(Reason("popular"))
    value = button_value(answer.recommendation_id, rec.item)
    return [
        {"type": "section", "block_id": f"rec_{rec.position}",
         "text": {"type": "mrkdwn", "text": f"*{channel(rec.item)}*\n{why}"}},
        {"type": "actions", "block_id": f"act_{rec.position}", "elements": [
            {"type": "button", "action_id": JOIN, "style": "primary", "value": value,
             "text": {"type": "plain_text", "text": "Join"}, "url": channel_link(team_id, rec.item)},
            {"type": "button", "action_id": DISMISS, "value": value,
             "text": {"type": "plain_text", "text": "Not interested"}},
        ]},
    ]


def _recommendation_blocks(answer: Answer, team_id: str | None) -> list[dict[str, Any]]:
    if not answer.items:
        return [{"type": "section", "text": {"type": "mrkdwn",
                 "text": "No channel suggestions for you right now: you are in all the ones that fit."}}]
    blocks: list[dict[str, Any]] = []
    for rec in answer.items:
        blocks.extend(_item_blocks(answer, rec, team_id))
    return blocks


def _colleague_text(c: Colleague) -> str:
    text = person(c.user)
    if c.shared_count:
        noun = "channel" if c.shared_count == 1 else "channels"
        text += f": you share {c.shared_count} {noun}"
        if c.shared:
            text += " (" + _mentions(c.shared, channel) + ")"
    return text


def home_view(answer: Answer, colleagues: list[Colleague], *, team_id: str | None = None) -> dict[str, Any]:
    """The App Home tab: channels for you (Join / Not interested), then people like you."""
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": "Channels for you"}},
        *_recommendation_blocks(answer, team_id),
        {"type": "divider"},
        {"type": "header", "text": {"type": "plain_text", "text": "People like you"}},
    ]
    if colleagues:
        blocks.append({"type": "section", "text": {"type": "mrkdwn",
                       "text": "\n".join(f"• {_colleague_text(c)}" for c in colleagues)}})
    else:
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": "Nobody yet: join a few channels first."}})
    blocks.append({"type": "context", "elements": [{"type": "mrkdwn",
                   "text": f"Suggestions by teamrec · {answer.recommendation_id}"}]})
    return {"type": "home", "blocks": blocks}


def command_message(answer: Answer, *, team_id: str | None = None) -> dict[str, Any]:
    """The slash command's answer (sent ephemeral: only the asker sees it)."""
    return {
        "response_type": "ephemeral",
        "text": _fallback(answer),
        "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "*Channels you might like*"}},
                   *_recommendation_blocks(answer, team_id)],
    }


def digest_message(answer: Answer, *, team_id: str | None = None, snooze_days: int = 30) -> dict[str, Any]:
    """The digest sent as a direct message, with snooze and opt-out buttons."""
    value = button_value(answer.recommendation_id, "")
    return {
        "text": _fallback(answer),
        "blocks": [
            {"type": "section", "text": {"type": "mrkdwn", "text": "*A few channels you might like*"}},
            *_recommendation_blocks(answer, team_id),
            {"type": "actions", "block_id": "digest_controls", "elements": [
                {"type": "button", "action_id": SNOOZE, "value": value,
                 "text": {"type": "plain_text", "text": f"Snooze for {snooze_days} days"}},
                {"type": "button", "action_id": OPT_OUT, "value": value, "style": "danger",
                 "text": {"type": "plain_text", "text": "Stop these messages"}},
            ]},
        ],
    }


def _fallback(answer: Answer) -> str:
    """The notification text (no blocks): the channels, mentioned."""
    if not answer.items:
        return "No channel suggestions right now."
    return "Channels you might like: " + ", ".join(channel(r.item) for r in answer.items)


def notice(text: str) -> dict[str, Any]:
    """A one-line ephemeral reply (snoozed, opted out, an error in words)."""
    return {"response_type": "ephemeral", "replace_original": False, "text": text}
