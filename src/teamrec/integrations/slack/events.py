"""Slack Events API payloads -> teamrec events and channel metadata changes (pure functions).

=========================  ==============================================================
Slack event                what it becomes
=========================  ==============================================================
member_joined_channel      a ``member`` event (value 1, the event's time)
member_left_channel        a ``leave`` event: the membership ended; never recommended back
message                    a ``message`` event (top-level or ``thread_broadcast``) or a
                           ``reply`` (in a thread); edits, deletions, joins and bot posts
                           are not activity
reaction_added             a ``reaction`` event by the reacting person on the channel
                           (message reactions only)
channel_created            a new item row (name, creator, created; public)
channel_rename             the item's new name
channel_archive/unarchive  the item's ``archived`` flag
=========================  ==============================================================

The kinds and values are those of the export reader and of ``teamrec slack sync`` (one event
per action, value 1: the sync aggregates counts, which sum to the same matrix). The event's
``event_ts`` (else ``ts``) is the time. Bots (``bot_id``, ``bot_message``, ids in ``bots``)
and Slackbot produce nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from teamrec.data.events import EVENT_COLUMNS, empty_events, normalize_events
from teamrec.data.sources.slack_export import POSTING_SUBTYPES, SLACKBOT, _number
from teamrec.integrations.slack.membership import LEAVE, MEMBER

#: The Events API types the app subscribes to (the manifest lists the same).
EVENT_TYPES: tuple[str, ...] = (
    "app_home_opened", "member_joined_channel", "member_left_channel", "message", "reaction_added",
    "channel_created", "channel_rename", "channel_archive", "channel_unarchive",
)


@dataclass
class Translation:
    """What one Slack event changes: events to ingest and/or item metadata to upsert."""

    events: pd.DataFrame
    items: pd.DataFrame | None = None

    @property
    def empty(self) -> bool:
        return not len(self.events) and self.items is None


def _time(event: dict[str, Any]) -> float:
    for key in ("event_ts", "ts"):
        try:
            return float(event[key])
        except (KeyError, TypeError, ValueError):
            continue
    return np.nan


def _events(team: str, user: str, item: str, kind: str, timestamp: float) -> pd.DataFrame:
    return normalize_events(pd.DataFrame({
        "team": [team], "user": [user], "item": [item], "kind": [kind], "value": [1.0], "timestamp": [timestamp],
    }), source="<slack event>")


def _nothing() -> Translation:
    return Translation(events=empty_events())


def _is_bot(event: dict[str, Any], user: Any, bots: frozenset[str]) -> bool:
    return (not isinstance(user, str) or not user or user == SLACKBOT or user in bots
            or bool(event.get("bot_id")) or event.get("subtype") == "bot_message")


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _item_row(team: str, channel: str, **fields: Any) -> pd.DataFrame:
    return pd.DataFrame([{"team": team, "item": channel, **fields}])


def translate(event: dict[str, Any], team: str, *, bots: frozenset[str] = frozenset()) -> Translation:
    """The teamrec change one Events API ``event`` (the inner object) makes; nothing for the rest."""
    kind = event.get("type")
    user = event.get("user")
    if kind in ("member_joined_channel", "member_left_channel"):
        channel = event.get("channel")
        if _is_bot(event, user, bots) or not isinstance(channel, str) or not isinstance(user, str):
            return _nothing()
        what = MEMBER if kind == "member_joined_channel" else LEAVE
        return Translation(events=_events(team, user, channel, what, _time(event)))
    if kind == "message":
        subtype = event.get("subtype")
        channel = event.get("channel")
        if subtype is not None and subtype not in POSTING_SUBTYPES:
            return _nothing()
        if (_is_bot(event, user, bots) or not isinstance(user, str) or not isinstance(channel, str)
                or event.get("channel_type") == "im"):
            return _nothing()
        thread_ts, ts = event.get("thread_ts"), event.get("ts")
        in_thread = subtype is None and (event.get("parent_user_id") is not None
                                         or (thread_ts is not None and str(thread_ts) != str(ts)))
        return Translation(events=_events(team, user, channel, "reply" if in_thread else "message", _time(event)))
    if kind == "reaction_added":
        item = _dict(event.get("item"))
        channel = item.get("channel")
        if (item.get("type") != "message" or not isinstance(channel, str) or _is_bot(event, user, bots)
                or not isinstance(user, str)):
            return _nothing()
        return Translation(events=_events(team, user, channel, "reaction", _time(event)))
    if kind in ("channel_created", "channel_rename"):
        info = _dict(event.get("channel"))
        channel_id = info.get("id")
        if not isinstance(channel_id, str):
            return _nothing()
        fields: dict[str, Any] = {"name": str(info.get("name") or channel_id)}
        if kind == "channel_created":
            fields.update(private=bool(info.get("is_private", False)), archived=False,
                          created=_number(info.get("created")), creator=str(info.get("creator") or ""))
        return Translation(events=empty_events(), items=_item_row(team, channel_id, **fields))
    if kind in ("channel_archive", "channel_unarchive"):
        archived_id = event.get("channel")
        if not isinstance(archived_id, str):
            return _nothing()
        return Translation(events=empty_events(),
                           items=_item_row(team, archived_id, archived=kind == "channel_archive"))
    return _nothing()


def translate_many(events: list[dict[str, Any]], team: str, *, bots: frozenset[str] = frozenset()) -> Translation:
    """Several events at once (a replay, a test): events concatenated, item rows upserted in order."""
    parts = [translate(e, team, bots=bots) for e in events]
    frames = [p.events for p in parts if len(p.events)]
    items = [p.items for p in parts if p.items is not None]
    merged = pd.concat(frames, ignore_index=True)[list(EVENT_COLUMNS)] if frames else empty_events()
    return Translation(events=merged, items=merge_items(items) if items else None)


def merge_items(rows: list[pd.DataFrame]) -> pd.DataFrame:
    """Item upserts in order: later rows override the fields they set, per item."""
    out: dict[str, dict[str, Any]] = {}
    for frame in rows:
        for record in frame.to_dict("records"):
            out.setdefault(record["item"], {}).update(record)
    return pd.DataFrame(list(out.values()))
