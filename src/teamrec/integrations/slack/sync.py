"""``teamrec slack sync``: read a live workspace through the Web API into the event store.

What is read, and what it becomes (the same kinds and metadata as the export reader,
:mod:`teamrec.data.sources.slack_export`, so one team spec fits an export and a live
workspace):

* ``users.list`` -> user metadata (name, handle, tz, tz_offset); bots, Slackbot and deleted
  accounts are left out of the metadata and of every event.
* ``conversations.list`` (public channels, and the private ones the app is in) -> item
  metadata: name, description (purpose), private, archived, topic, created, creator,
  member_count, is_general.
* ``conversations.members`` -> ``member`` events for people the store does not yet hold as
  members, and ``leave`` events for stored members who are no longer in the channel.
* ``conversations.history`` (+ ``conversations.replies`` for threads) -> ``message``,
  ``reply`` and ``reaction`` events aggregated per (person, channel, kind) exactly as the export
  reader does: the count as value, the latest message time as timestamp.

**Incremental per channel, with no state file**: a channel's newest stored ``message`` time is
the ``oldest`` of the next history read, and stored memberships are compared with the live
member list; both come from the store. Each channel is one batch whose id is a hash of its
content (``slack-sync:CHANNEL:SHA``), so a re-run or a retry after a crash stores nothing twice
and a crash leaves every channel either wholly synced or untouched.

**Metadata**: the event store keeps events only; names, privacy and archive flags are written
as a ``teamrec`` dataset folder (no events, :meth:`Dataset.save`), which a team spec uses as
its source with ``format: teamrec`` while its events come from the store.

Public channels the bot is not in answer ``not_in_channel``; with ``join_public`` the bot joins
them (``conversations.join``, scope ``channels:join``) and reads on, otherwise their activity is
skipped (memberships are still read).
"""

from __future__ import annotations

import hashlib
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from slack_sdk import WebClient

from teamrec.data.dataset import Dataset
from teamrec.data.events import EVENT_COLUMNS, empty_events
from teamrec.data.sources.slack_export import SLACKBOT, _activity, _frame
from teamrec.integrations.slack.client import SlackError, call, paginate
from teamrec.integrations.slack.membership import LEAVE, MEMBER, current_members
from teamrec.store.base import EventStore

log = logging.getLogger(__name__)

#: The format recorded in the metadata folder: the export's, so the matrix defaults match.
METADATA_FORMAT = "slack-export"


@dataclass
class SyncReport:
    """What one sync did."""

    team: str
    people: int = 0
    channels: int = 0
    channels_read: int = 0
    events_stored: int = 0
    batches_stored: int = 0
    batches_duplicate: int = 0
    skipped: dict[str, str] = field(default_factory=dict)  # channel id -> Slack error
    metadata_dir: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def read_people(client: WebClient, team: str) -> pd.DataFrame:
    """Every account of ``users.list``, with ``kept`` = neither bot, Slackbot nor deleted."""
    rows = []
    for u in paginate(client, "users.list", "members"):
        profile = u.get("profile") if isinstance(u.get("profile"), dict) else {}
        rows.append((
            u["id"],
            u.get("real_name") or profile.get("real_name") or u.get("name") or u["id"],
            u.get("name") or "",
            bool(u.get("is_bot", False)) or bool(u.get("is_app_user", False)),
            bool(u.get("deleted", False)),
            u.get("tz") or "",
            float(u["tz_offset"]) if isinstance(u.get("tz_offset"), (int, float)) else np.nan,
        ))
    users = pd.DataFrame.from_records(
        rows, columns=["user", "name", "handle", "is_bot", "deleted", "tz", "tz_offset"]
    ).astype({"is_bot": bool, "deleted": bool, "tz_offset": np.float64})
    users.insert(0, "team", team)
    users["kept"] = ~(users["is_bot"] | users["deleted"] | (users["user"] == SLACKBOT))
    return users.drop_duplicates("user", keep="last").reset_index(drop=True)


def read_channels(client: WebClient, team: str) -> pd.DataFrame:
    """Public channels and the private ones the app is in, as item metadata (+ ``is_member``)."""
    rows = []
    for c in paginate(client, "conversations.list", "channels", types="public_channel,private_channel",
                      exclude_archived="false"):
        rows.append((
            c["id"], c.get("name") or c["id"], _text(c.get("purpose")),
            bool(c.get("is_private", False)), bool(c.get("is_archived", False)), _text(c.get("topic")),
            float(c.get("created") or np.nan), c.get("creator") or "", int(c.get("num_members") or 0),
            bool(c.get("is_general", False)), bool(c.get("is_member", False)),
        ))
    channels = pd.DataFrame.from_records(rows, columns=[
        "item", "name", "description", "private", "archived", "topic", "created", "creator",
        "member_count", "is_general", "is_member",
    ]).astype({"created": np.float64, "member_count": np.int64, "private": bool, "archived": bool})
    channels.insert(0, "team", team)
    return channels.drop_duplicates("item", keep="last").reset_index(drop=True)


def _text(field: Any) -> str:
    if isinstance(field, dict):
        return str(field.get("value") or "")
    return str(field or "")


def newest_message_times(stored: pd.DataFrame) -> dict[str, float]:
    """Per channel, the newest stored message time: the next history read starts after it.

    ``message`` and ``reaction`` events carry the time of a channel message (a reaction the
    time of the message reacted to, possibly a bot's); ``reply`` times are left out, as a
    thread can get a reply after newer channel messages that were not read yet.
    """
    timed = stored["kind"].isin(["message", "reaction"]).to_numpy() & stored["timestamp"].notna().to_numpy()
    msgs = stored.loc[timed]
    return {str(k): float(v) for k, v in msgs.groupby("item")["timestamp"].max().items()}


def read_messages(client: WebClient, channel: str, oldest: float | None, *, replies: bool = True) -> list[dict]:
    """The channel's messages after ``oldest`` (exclusive), with the replies of their threads."""
    params: dict[str, Any] = {"channel": channel}
    if oldest is not None:
        params["oldest"] = f"{oldest:.6f}"
    history = list(paginate(client, "conversations.history", "messages", **params))
    seen = {m.get("ts") for m in history}  # a thread_broadcast is in the history and in its thread
    out = list(history)
    if replies:
        for m in history:
            if m.get("reply_count") and m.get("thread_ts") == m.get("ts"):
                for r in paginate(client, "conversations.replies", "messages", channel=channel, ts=m["ts"]):
                    if r.get("ts") not in seen:
                        seen.add(r.get("ts"))
                        out.append(r)
    return out


def channel_events(
    channel: str,
    messages: list[dict],
    members: list[str],
    stored_members: set[str],
    kept: pd.Series,
    now: float,
) -> pd.DataFrame:
    """One channel's batch: new memberships, departures and aggregated activity (no team column).

    A new member's time is their ``channel_join`` message when the read holds one (NaN
    otherwise, as in the export); a departure is timed ``now``.
    """
    posts = [(channel, m.get("user"), m.get("subtype"), m.get("ts"), m.get("thread_ts"), m.get("parent_user_id"))
             for m in messages]
    reactions = [(channel, user, m.get("ts")) for m in messages for r in (m.get("reactions") or [])
                 if isinstance(r, dict) for user in (r.get("users") or [])]
    msgs = _frame(posts, ["item", "user", "subtype", "ts", "thread_ts", "parent_user_id"])
    reacts = _frame(reactions, ["item", "user", "ts"])
    activity, _ = _activity(msgs, reacts, kept)
    kept_set = set(kept)
    live = {u for u in members if u in kept_set}
    joins = msgs.loc[(msgs["subtype"] == "channel_join").to_numpy()]
    join_time = pd.to_numeric(joins["ts"], errors="coerce").groupby(joins["user"].to_numpy()).min()
    new = sorted(live - stored_members)
    gone = sorted(stored_members - live)
    member_rows = pd.DataFrame({
        "user": new + gone,
        "item": channel,
        "kind": [MEMBER] * len(new) + [LEAVE] * len(gone),
        "value": 1.0,
        "timestamp": np.concatenate([join_time.reindex(new).to_numpy(dtype=np.float64),
                                     np.full(len(gone), now)]) if new or gone else np.empty(0),
    })
    return pd.concat([member_rows, activity], ignore_index=True)[list(EVENT_COLUMNS[1:])]


def batch_id(channel: str, events: pd.DataFrame) -> str:
    """A content hash: the same batch (a re-run, a retry) always gets the same id."""
    digest = hashlib.sha256(pd.util.hash_pandas_object(events, index=False).to_numpy().tobytes()).hexdigest()
    return f"slack-sync:{channel}:{digest[:24]}"


def sync_workspace(
    client: WebClient,
    store: EventStore,
    team: str,
    *,
    metadata_dir: str | Path | None = None,
    replies: bool = True,
    join_public: bool = True,
    since: float | None = None,
    now: float | None = None,
) -> SyncReport:
    """Read people, channels, memberships and new activity of the workspace into ``store``.

    ``since`` bounds the first read of a channel with nothing stored (seconds since the epoch;
    None reads its whole history); later reads start after the newest stored message.
    """
    now = time.time() if now is None else now
    report = SyncReport(team=team)
    people = read_people(client, team)
    channels = read_channels(client, team)
    kept = people["user"][people["kept"]]
    report.people = int(len(kept))
    report.channels = int(len(channels))
    stored = store.events(team)
    oldest_by_channel = newest_message_times(stored)
    members_now = current_members(stored)
    stored_members = members_now.groupby("item")["user"].agg(set).to_dict() if len(members_now) else {}
    for row in channels.itertuples(index=False):
        channel = str(row.item)
        try:
            members = list(paginate(client, "conversations.members", "members", channel=channel))
        except SlackError as exc:
            report.skipped[channel] = exc.error
            log.warning("channel %s skipped: %s", channel, exc)
            continue
        messages: list[dict] = []
        oldest = oldest_by_channel.get(channel, since)
        try:
            messages = read_messages(client, channel, oldest, replies=replies)
            report.channels_read += 1
        except SlackError as exc:
            if exc.error == "not_in_channel" and join_public and not row.private and not row.archived:
                call(client, "conversations.join", channel=channel)
                messages = read_messages(client, channel, oldest, replies=replies)
                report.channels_read += 1
            else:
                report.skipped[channel] = exc.error
                log.info("no activity read from %s: %s", channel, exc.error)
        events = channel_events(channel, messages, members, stored_members.get(channel, set()), kept, now)
        if not len(events):
            continue
        result = store.append(team, events.assign(team=team), batch_id=batch_id(channel, events))
        if result.duplicate:
            report.batches_duplicate += 1
        else:
            report.batches_stored += 1
            report.events_stored += result.stored
    if metadata_dir is not None:
        report.metadata_dir = str(write_metadata(metadata_dir, team, people, channels))
    log.info("slack sync of %s: %d people, %d channels, %d events stored in %d batches",
             team, report.people, report.channels, report.events_stored, report.batches_stored)
    return report


def write_metadata(directory: str | Path, team: str, people: pd.DataFrame, channels: pd.DataFrame) -> Path:
    """The workspace's names, privacy and archive flags as a ``teamrec`` dataset folder (no events)."""
    users = people.loc[people["kept"]].drop(columns=["kept", "is_bot", "deleted"]).reset_index(drop=True)
    items = channels.drop(columns=["is_member"])
    dataset = Dataset(events=empty_events(), items=items, users=users,
                      info={"format": METADATA_FORMAT, "source": f"slack-api:{team}", "item_kind": "channel",
                            "synced_at": time.time()})
    return dataset.save(directory)


def read_metadata(directory: str | Path) -> Dataset:
    """The folder :func:`write_metadata` wrote."""
    return Dataset.load(directory)
