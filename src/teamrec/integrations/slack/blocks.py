"""Block Kit for the three surfaces: the App Home tab, the slash command's answer, the digest.

They render the service's answers (:class:`~teamrec.service.teams.Answer`) as they come: each
result's structured reason (``details["why"]``) is written by :func:`teamrec.reasons.render`
for the ``"slack"`` surface, with channels as ``<#C123>`` and people as ``<@U123>``, which
Slack shows with their current names and only as far as the reader may see them. Every
button's ``value`` carries the recommendation id, the item and the surface
(``{"r": ..., "i": ..., "s": ...}``), so a press becomes feedback on that very answer.
"""

from __future__ import annotations

import json
from typing import Any

from teamrec.reasons import render
from teamrec.recommender import NEW_HERE, Result
from teamrec.service.teams import Answer

JOIN = "teamrec_join"
DISMISS = "teamrec_dismiss"
SNOOZE = "teamrec_snooze"
OPT_OUT = "teamrec_opt_out"
#: Every action id the app handles.
ACTIONS = (JOIN, DISMISS, SNOOZE, OPT_OUT)


def channel(item: str) -> str:
    return f"<#{item}>"


def person(user: str) -> str:
    return f"<@{user}>"


def why(result: Result) -> dict[str, Any]:
    """The result's structured reason (a popularity fill or a newcomer's list has none: say so)."""
    reason = result.details.get("why")
    if reason:
        return {"item_kind": "channel", **reason}
    return {"kind": "new_here" if result.reason == NEW_HERE else "popular"}


def reason_text(result: Result) -> str:
    """The result's reason in Slack mrkdwn, first letter capitalised."""
    text = render(why(result), "slack") or "popular in this team"
    return text[:1].upper() + text[1:]


def button_value(recommendation_id: str, item: str, surface: str) -> str:
    return json.dumps({"r": recommendation_id, "i": item, "s": surface}, separators=(",", ":"))


def parse_button_value(value: str) -> tuple[str, str, str]:
    """``(recommendation_id, item, surface)`` from a button's value; ValueError if it is not ours."""
    data = json.loads(value)
    if not isinstance(data, dict) or not all(isinstance(data.get(k), str) for k in "ris"):
        raise ValueError("not a teamrec button value")
    return data["r"], data["i"], data["s"]


def channel_link(team_id: str | None, item: str) -> str:
    """Slack's redirect that opens (and offers to join) a channel in the person's client."""
    return f"https://slack.com/app_redirect?channel={item}" + (f"&team={team_id}" if team_id else "")


def _item_blocks(answer: Answer, result: Result, surface: str, team_id: str | None) -> list[dict[str, Any]]:
    value = button_value(answer.recommendation_id or "", result.id, surface)
    position = result.position or 0
    return [
        {"type": "section", "block_id": f"rec_{position}",
         "text": {"type": "mrkdwn", "text": f"*{channel(result.id)}*\n{reason_text(result)}"}},
        {"type": "actions", "block_id": f"act_{position}", "elements": [
            {"type": "button", "action_id": JOIN, "style": "primary", "value": value,
             "text": {"type": "plain_text", "text": "Join"}, "url": channel_link(team_id, result.id)},
            {"type": "button", "action_id": DISMISS, "value": value,
             "text": {"type": "plain_text", "text": "Not interested"}},
        ]},
    ]


def _recommendation_blocks(answer: Answer, surface: str, team_id: str | None) -> list[dict[str, Any]]:
    if not answer.results:
        return [{"type": "section", "text": {"type": "mrkdwn",
                 "text": "No channel suggestions for you right now: you are in all the ones that fit."}}]
    blocks: list[dict[str, Any]] = []
    for result in answer.results:
        blocks.extend(_item_blocks(answer, result, surface, team_id))
    return blocks


def _colleague_text(result: Result) -> str:
    text = person(result.id)
    reason = result.details.get("why")
    if reason and result.details.get("shared"):
        text += ": " + (render({"item_kind": "channel", **reason}, "slack") or "")
    return text


def home_view(answer: Answer, people: Answer | None, *, surface: str = "slack_home",
              team_id: str | None = None) -> dict[str, Any]:
    """The App Home tab: channels for you (Join / Not interested), then people like you."""
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": "Channels for you"}},
        *_recommendation_blocks(answer, surface, team_id),
        {"type": "divider"},
        {"type": "header", "text": {"type": "plain_text", "text": "People like you"}},
    ]
    if people is not None and people.results:
        blocks.append({"type": "section", "text": {"type": "mrkdwn",
                       "text": "\n".join(f"• {_colleague_text(r)}" for r in people.results)}})
    else:
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": "Nobody yet: join a few channels first."}})
    blocks.append({"type": "context", "elements": [{"type": "mrkdwn",
                   "text": f"Suggestions by teamrec · {answer.recommendation_id}"}]})
    return {"type": "home", "blocks": blocks}


def command_message(answer: Answer, *, surface: str = "slack_command", team_id: str | None = None) -> dict[str, Any]:
    """The slash command's answer (sent ephemeral: only the asker sees it)."""
    return {
        "response_type": "ephemeral",
        "text": _fallback(answer),
        "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "*Channels you might like*"}},
                   *_recommendation_blocks(answer, surface, team_id)],
    }


def digest_message(answer: Answer, *, surface: str = "digest", team_id: str | None = None,
                   snooze_days: int = 30) -> dict[str, Any]:
    """The digest sent as a direct message, with snooze and opt-out buttons."""
    value = button_value(answer.recommendation_id or "", "", surface)
    return {
        "text": _fallback(answer),
        "blocks": [
            {"type": "section", "text": {"type": "mrkdwn", "text": "*A few channels you might like*"}},
            *_recommendation_blocks(answer, surface, team_id),
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
    if not answer.results:
        return "No channel suggestions right now."
    return "Channels you might like: " + ", ".join(channel(r.id) for r in answer.results)


def notice(text: str) -> dict[str, Any]:
    """A one-line ephemeral reply (snoozed, opted out, an error in words)."""
    return {"response_type": "ephemeral", "replace_original": False, "text": text}
