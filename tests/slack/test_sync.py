"""``sync_workspace`` against the mock over the real export: the same events as the export
reader, incremental with state from the store, idempotent, private and bot rules."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from teamrec.data.sources.slack_export import read_slack_export
from teamrec.integrations.slack.sync import read_metadata, sync_workspace
from teamrec.store import open_store

from .conftest import TEAM
from .mock_slack import BOT_USER

KEY = ["user", "item", "kind"]


@pytest.fixture(scope="module")
def export(slack_export_dir):
    return read_slack_export(slack_export_dir)


def _sorted(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.sort_values(KEY).reset_index(drop=True)


def test_sync_reads_what_the_export_reader_reads(synced_once, export, export_workspace):
    db, meta = synced_once
    store = open_store(db)
    synced = store.events(TEAM)
    store.close()
    hidden = export_workspace.channel_by_name("all-resources")["id"]  # private, bot not in it
    archived = set(export.items.loc[export.items["archived"], "item"])  # no history without the bot in it
    expected = export.events.loc[export.events["item"] != hidden]
    members = _sorted(expected.loc[expected["kind"] == "member"])
    got_members = _sorted(synced.loc[synced["kind"] == "member"])
    assert got_members[["user", "item"]].equals(members[["user", "item"]])
    read = ~members["item"].isin(archived)
    np.testing.assert_array_equal(got_members["timestamp"][read], members["timestamp"][read])
    activity = _sorted(expected.loc[(expected["kind"] != "member") & ~expected["item"].isin(archived)])
    got = _sorted(synced.loc[synced["kind"] != "member"])
    assert len(got) == len(activity) > 1500
    for col in KEY + ["value", "timestamp"]:
        np.testing.assert_array_equal(got[col].to_numpy(), activity[col].to_numpy(), err_msg=col)
    # metadata: the reader's columns and values for the channels the app may see
    data = read_metadata(meta)
    assert data.info["format"] == "slack-export" and len(data.events) == 0
    items = data.items.set_index("item")
    assert hidden not in items.index
    ideas = export_workspace.channel_by_name("all-ideas")["id"]
    assert items.loc[ideas, "private"] and not items.drop(index=ideas)["private"].any()
    theirs = export.items.set_index("item").drop(index=hidden)
    for col in ("name", "description", "archived", "topic", "creator", "is_general"):
        assert items.loc[theirs.index, col].tolist() == theirs[col].tolist(), col
    users = data.users.set_index("user")
    assert sorted(users.index) == sorted(export.users["user"])  # bots and deleted left out
    assert BOT_USER not in users.index and users["tz_offset"].notna().all()


def test_a_second_sync_stores_nothing_and_a_third_reads_only_new(mock_slack, client, workspace, synced):
    db, _ = synced
    store = open_store(db)
    before = store.count(TEAM)
    report = sync_workspace(client, store, TEAM, replies=False)
    assert report.events_stored == 0 and store.count(TEAM) == before
    channel = workspace.channel_by_name("all-community-building")["id"]
    newest = store.events(TEAM).query("item == @channel and kind in ['message', 'reaction']")["timestamp"].max()
    history = [c for c in mock_slack.calls_to("conversations.history") if c.params["channel"] == channel]
    assert float(history[-1].params["oldest"]) == pytest.approx(newest, abs=1e-6)
    poster, reactor = workspace.channels[channel]["members"][:2]
    workspace.post(channel, {"type": "message", "user": poster, "text": "hello", "ts": f"{newest + 60:.6f}",
                             "reactions": [{"name": "tada", "users": [reactor], "count": 1}]})
    workspace.post(channel, {"type": "message", "subtype": "channel_join", "user": BOT_USER,
                             "ts": f"{newest + 61:.6f}"})
    report = sync_workspace(client, store, TEAM, replies=False)
    new = store.events(TEAM).iloc[before:]
    assert report.events_stored == 2
    assert sorted(new["kind"]) == ["message", "reaction"]
    assert set(new["user"]) == {poster, reactor} and set(new["value"]) == {1.0}
    again = sync_workspace(client, store, TEAM, replies=False)
    assert again.events_stored == 0
    store.close()


def test_departures_become_leave_events(mock_slack, client, workspace, synced):
    db, _ = synced
    store = open_store(db)
    channel = workspace.channel_by_name("all-community-building")
    gone = channel["members"].pop(0)
    sync_workspace(client, store, TEAM, replies=False, now=2_000_000_000.0)
    leave = store.events(TEAM).query("kind == 'leave'")
    assert leave[["user", "item", "timestamp"]].values.tolist() == [[gone, channel["id"], 2_000_000_000.0]]
    channel["members"].append(gone)  # back again: a new member event
    sync_workspace(client, store, TEAM, replies=False, now=2_000_000_100.0)
    last = store.events(TEAM).iloc[-1]
    assert (last["user"], last["kind"]) == (gone, "member")
    store.close()


def test_join_public_off_skips_activity_of_channels_the_bot_is_not_in(mock_slack, client, tmp_path):
    store = open_store("memory:")
    report = sync_workspace(client, store, TEAM, join_public=False, since=1_700_000_000.0)
    assert not mock_slack.calls_to("conversations.join")
    assert set(report.skipped.values()) == {"not_in_channel"}
    ideas = mock_slack.workspace.channel_by_name("all-ideas")["id"]
    assert ideas not in report.skipped  # the private channel the bot is in is read
    assert set(store.events(TEAM)["kind"]) == {"member"}
    hidden = mock_slack.workspace.channel_by_name("all-resources")["id"]
    assert not [c for c in mock_slack.calls if c.params.get("channel") == hidden]
