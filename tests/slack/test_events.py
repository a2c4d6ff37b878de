"""Events API payloads (as Slack documents them) -> teamrec events and metadata."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from teamrec.integrations.slack.events import translate, translate_many

T = "acme"


def one(event):
    out = translate(event, T)
    assert len(out.events) == 1 and out.items is None
    return out.events.iloc[0].to_dict()


@pytest.mark.parametrize("kind, expected", [("member_joined_channel", "member"), ("member_left_channel", "leave")])
def test_membership(kind, expected):
    row = one({"type": kind, "user": "W06GH7XHN", "channel": "C0698JE0H", "channel_type": "C",
               "team": "T024BE7LD", "inviter": "U123456789", "event_ts": "1700000000.000100"})
    assert row == {"team": T, "user": "W06GH7XHN", "item": "C0698JE0H", "kind": expected, "value": 1.0,
                   "timestamp": 1700000000.0001}


def test_messages_replies_and_broadcasts():
    base = {"type": "message", "channel": "C2147483705", "user": "U2147483697", "text": "Hello world",
            "channel_type": "channel"}
    assert one({**base, "ts": "1355517523.000005"})["kind"] == "message"
    assert one({**base, "ts": "1355517524.000001", "thread_ts": "1355517523.000005",
                "parent_user_id": "U1"})["kind"] == "reply"
    assert one({**base, "ts": "1355517525.000001", "thread_ts": "1355517523.000005",
                "subtype": "thread_broadcast"})["kind"] == "message"
    assert one({**base, "ts": "1355517523.000005", "thread_ts": "1355517523.000005"})["kind"] == "message"


@pytest.mark.parametrize("event", [
    {"type": "message", "subtype": "message_changed", "channel": "C1", "ts": "1.0",
     "message": {"user": "U1", "text": "edited"}},
    {"type": "message", "subtype": "message_deleted", "channel": "C1", "ts": "1.0", "deleted_ts": "0.5"},
    {"type": "message", "subtype": "channel_join", "channel": "C1", "user": "U1", "ts": "1.0"},
    {"type": "message", "subtype": "bot_message", "channel": "C1", "bot_id": "B1", "ts": "1.0"},
    {"type": "message", "channel": "C1", "user": "U1", "bot_id": "B1", "ts": "1.0"},
    {"type": "message", "channel": "C1", "user": "USLACKBOT", "ts": "1.0"},
    {"type": "message", "channel": "D1", "user": "U1", "ts": "1.0", "channel_type": "im"},
    {"type": "reaction_added", "user": "U1", "reaction": "x", "item": {"type": "file", "file": "F1"},
     "event_ts": "1.0"},
    {"type": "member_joined_channel", "channel": "C1", "event_ts": "1.0"},
    {"type": "team_join", "user": {"id": "U1"}},
])
def test_what_is_not_activity(event):
    assert translate(event, T).empty


def test_bots_by_id_are_left_out():
    event = {"type": "member_joined_channel", "user": "UBOT", "channel": "C1", "event_ts": "1.0"}
    assert translate(event, T, bots=frozenset({"UBOT"})).empty


def test_reaction_added():
    row = one({"type": "reaction_added", "user": "U024BE7LH", "reaction": "thumbsup", "item_user": "U0G9QF9C6",
               "item": {"type": "message", "channel": "C0G9QF9GZ", "ts": "1360782400.498405"},
               "event_ts": "1360782804.083113"})
    assert (row["user"], row["item"], row["kind"], row["timestamp"]) == (
        "U024BE7LH", "C0G9QF9GZ", "reaction", 1360782804.083113)


def test_a_malformed_channel_is_not_a_crash():
    out = translate({"type": "channel_created", "channel": {"id": "C1", "name": ["x"], "created": "soon"}}, T)
    assert out.items.iloc[0]["name"] == "['x']" and np.isnan(out.items.iloc[0]["created"])


def test_channel_lifecycle_is_metadata():
    out = translate_many([
        {"type": "channel_created", "channel": {"id": "C024BE91L", "name": "fun", "created": 1360782804,
                                                "creator": "U024BE7LH"}},
        {"type": "channel_rename", "channel": {"id": "C024BE91L", "name": "more-fun", "created": 1360782804}},
        {"type": "channel_archive", "channel": "C024BE91L", "user": "U024BE7LH"},
        {"type": "member_joined_channel", "user": "U1", "channel": "C024BE91L", "event_ts": "2.0"},
    ], T)
    assert len(out.events) == 1
    item = out.items.iloc[0].to_dict()
    assert item | {"created": 0} == {"team": T, "item": "C024BE91L", "name": "more-fun", "private": False,
                                     "archived": True, "created": 0, "creator": "U024BE7LH"}
    unarchived = translate({"type": "channel_unarchive", "channel": "C024BE91L", "user": "U1"}, T)
    assert unarchived.items.to_dict("records") == [{"team": T, "item": "C024BE91L", "archived": False}]


JSON = st.recursive(st.none() | st.booleans() | st.floats(allow_nan=False) | st.text(max_size=8),
                    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
                    max_leaves=12)
FIELDS = st.fixed_dictionaries({}, optional={
    "type": st.sampled_from(["message", "reaction_added", "member_joined_channel", "member_left_channel",
                             "channel_created", "channel_rename", "channel_archive", "channel_unarchive"]),
    "user": JSON | st.text(min_size=1, max_size=5), "channel": JSON | st.text(min_size=1, max_size=5),
    "ts": JSON | st.text(max_size=12), "event_ts": JSON, "thread_ts": JSON, "subtype": JSON, "item": JSON,
    "channel_type": JSON, "bot_id": JSON, "parent_user_id": JSON,
})


@settings(max_examples=300, deadline=None)
@given(FIELDS)
def test_any_payload_translates_or_is_ignored(event):
    out = translate(event, T)  # never a stray exception: Slack payloads are outside input
    assert list(out.events.columns) == ["team", "user", "item", "kind", "value", "timestamp"]
    assert len(out.events) <= 1 and set(out.events["team"]) <= {T}
