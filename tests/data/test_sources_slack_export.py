"""Slack export reader: a generated workspace with known answers, then the real export.

The real-export checks count messages again here with plain ``json`` and an independent
rule, so the reader's aggregation is compared with a second implementation, not with itself.
"""

from __future__ import annotations

import json
import math
import zipfile
from collections import Counter
from pathlib import Path

import pandas as pd
import pytest

from teamrec.data.dataset import Dataset
from teamrec.data.sources import read_source
from teamrec.data.sources.slack_export import read_slack_export
from teamrec.errors import DataError

# -- a small generated workspace ---------------------------------------------------------------
USERS = [
    {"id": "U1", "team_id": "T1", "name": "ada", "real_name": "Ada L",
     "profile": {"real_name": "Ada L"}},
    {"id": "U2", "team_id": "T1", "name": "bob", "profile": {"real_name": "Bob B"}},
    {"id": "U3", "team_id": "T1", "name": "cy"},
    {"id": "B1", "team_id": "T1", "name": "botty", "is_bot": True},
    {"id": "U9", "team_id": "T1", "name": "gone", "deleted": True},
]
CHANNELS = [
    {"id": "C1", "name": "general", "created": 100, "creator": "U1", "is_general": True,
     "members": ["U1", "U2", "B1", "U9"], "purpose": {"value": "Everything"},
     "topic": {"value": "hi"}, "is_archived": False},
    {"id": "C2", "name": "old", "created": 200, "members": ["U1"],
     "purpose": {"value": "Old stuff"}, "topic": {"value": ""}, "is_archived": True},
    {"id": "C3", "name": "hidden", "created": 250, "members": ["U2"], "is_private": True,
     "purpose": {"value": ""}},
]
GROUPS = [
    {"id": "G1", "name": "secret", "created": 300, "members": ["U1", "U3"],
     "purpose": {"value": "Private"}, "is_archived": False},
]
DAYS = {
    "general/2022-01-01.json": [
        {"type": "message", "subtype": "channel_join", "user": "U2", "ts": "150.000100"},
        {"type": "message", "user": "U1", "ts": "160.0", "thread_ts": "160.0", "reply_count": 2,
         "reactions": [{"name": "+1", "users": ["U2", "U3", "B1"], "count": 3}]},
        {"type": "message", "user": "U2", "ts": "161.0", "thread_ts": "160.0",
         "parent_user_id": "U1"},
        {"type": "message", "user": "U2", "ts": "162.0", "thread_ts": "160.0",
         "subtype": "thread_broadcast", "parent_user_id": "U1"},
        {"type": "message", "user": "B1", "ts": "163.0", "subtype": "bot_message"},
        {"type": "message", "user": "U9", "ts": "164.0"},
        {"type": "message", "user": "USLACKBOT", "ts": "165.0"},
    ],
    "general/2022-01-02.json": [{"type": "message", "user": "U1", "ts": "170.0"}],
    "secret/2022-01-01.json": [{"type": "message", "user": "U3", "ts": "310.0"}],
    "old/notes.json": [{"type": "message", "user": "U1", "ts": "210.0"}],
}


def make_export(root: Path, days: dict[str, object] | None = None) -> Path:
    """Write a Slack export folder with the layout Slack uses."""
    root.mkdir(parents=True)
    for name, data in (("users.json", USERS), ("channels.json", CHANNELS),
                       ("groups.json", GROUPS)):
        (root / name).write_text(json.dumps(data))
    for name, data in (DAYS if days is None else days).items():
        (root / name).parent.mkdir(exist_ok=True)
        text = data if isinstance(data, str) else json.dumps(data, indent=1)
        (root / name).write_text(text)
    return root


def zip_folder(folder: Path, target: Path, prefix: str = "") -> Path:
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as zf:
        for file in sorted(folder.rglob("*")):
            if file.is_file():
                zf.write(file, prefix + file.relative_to(folder).as_posix())
    return target


def rows(events: pd.DataFrame) -> set[tuple]:
    return {(r.user, r.item, r.kind, r.value, None if math.isnan(r.timestamp) else r.timestamp)
            for r in events.itertuples()}


def test_generated_export_events(tmp_path):
    data = read_slack_export(make_export(tmp_path / "acme"))
    assert set(data.events["team"]) == {"T1"}
    assert rows(data.events) == {
        ("U1", "C1", "member", 1.0, None),
        ("U2", "C1", "member", 1.0, 150.0001),  # timed by the channel_join message
        ("U1", "C2", "member", 1.0, None),
        ("U2", "C3", "member", 1.0, None),
        ("U1", "G1", "member", 1.0, None),
        ("U3", "G1", "member", 1.0, None),
        ("U1", "C1", "message", 2.0, 170.0),
        ("U2", "C1", "message", 1.0, 162.0),  # a thread_broadcast shows in the channel
        ("U2", "C1", "reply", 1.0, 161.0),
        ("U2", "C1", "reaction", 1.0, 160.0),
        ("U3", "C1", "reaction", 1.0, 160.0),
        ("U1", "C2", "message", 1.0, 210.0),  # any .json inside a channel folder
        ("U3", "G1", "message", 1.0, 310.0),
    }
    info = data.info
    assert (info["users_in_export"], info["users_kept"]) == (5, 3)
    assert (info["bots_left_out"], info["deleted_left_out"]) == (1, 1)
    assert (info["messages_read"], info["messages_left_out"], info["reactions_left_out"]) == (
        10, 2, 1)
    assert info["rows_read"] == len(data.events) == 13 and info["format"] == "slack-export"


def test_generated_export_metadata(tmp_path):
    data = read_slack_export(make_export(tmp_path / "acme"))
    items = data.items.set_index("item")
    assert items.loc[["C1", "C2", "C3", "G1"], "private"].tolist() == [False, False, True, True]
    assert items.loc[["C1", "C2", "C3", "G1"], "archived"].tolist() == [False, True, False, False]
    assert items.loc["C1", ["name", "description", "topic", "creator"]].tolist() == [
        "general", "Everything", "hi", "U1"]
    assert items.loc["C1", "member_count"] == 4 and items.loc["C1", "created"] == 100
    users = data.users.set_index("user")
    assert users["name"].to_dict() == {"U1": "Ada L", "U2": "Bob B", "U3": "cy"}
    assert users.loc["U1", "handle"] == "ada"
    assert not users["is_bot"].any() and not users["deleted"].any()
    stats = data.stats()
    assert (stats["users"], stats["items"]) == (3, 4)
    # The dataset stores and loads as Parquet with its extra columns.
    again = Dataset.load(data.save(tmp_path / "stored"))
    pd.testing.assert_frame_equal(again.items, data.items, check_dtype=False)


def test_team_falls_back_to_the_folder_name(tmp_path):
    root = make_export(tmp_path / "acme")
    users = [{k: v for k, v in u.items() if k != "team_id"} for u in USERS]
    (root / "users.json").write_text(json.dumps(users))
    assert set(read_slack_export(root).events["team"]) == {"acme"}
    assert set(read_slack_export(root, team="other").events["team"]) == {"other"}


def test_zip_with_a_top_folder_reads_the_same(tmp_path):
    folder = make_export(tmp_path / "acme")
    packed = zip_folder(folder, tmp_path / "export.zip", prefix="acme export/")
    from_folder, from_zip = read_slack_export(folder), read_source(packed, "slack-export")
    pd.testing.assert_frame_equal(from_zip.events, from_folder.events)
    pd.testing.assert_frame_equal(from_zip.items, from_folder.items)
    assert from_zip.info["source"] == str(packed)


def test_broken_zip_names_the_file(tmp_path):
    broken = tmp_path / "export.zip"
    broken.write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(DataError) as exc:
        read_slack_export(broken)
    assert str(exc.value).startswith(f"{broken}: not a readable zip file")


def test_broken_day_file_names_file_and_line(tmp_path):
    days = dict(DAYS)
    days["general/2022-01-03.json"] = '[\n {"user": "U1", "ts": "180.0"},\n {"user": \n]'
    root = make_export(tmp_path / "acme", days)
    with pytest.raises(DataError) as exc:
        read_slack_export(root)
    assert str(exc.value).startswith(f"{root / 'general/2022-01-03.json'}, line 4: broken JSON")
    data = read_slack_export(root, skip_bad_rows=True)
    assert data.info["files_skipped"] == 1 and data.info["rows_skipped"] == 1
    assert rows(data.events) >= {("U1", "C1", "message", 2.0, 170.0)}

    packed = zip_folder(root, tmp_path / "export.zip")
    with pytest.raises(DataError) as exc:
        read_slack_export(packed)
    assert str(exc.value).startswith(f"{packed}:general/2022-01-03.json, line 4: broken JSON")


def test_not_an_export(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="no users.json"):
        read_slack_export(tmp_path / "empty")
    root = make_export(tmp_path / "acme")
    (root / "channels.json").write_text(json.dumps({"not": "a list"}))
    with pytest.raises(DataError, match="channels.json, line 1: expected a JSON list"):
        read_slack_export(root)


def test_odd_messages_unknown_folders_and_progress(tmp_path):
    days = {
        "general/2022-01-01.json": [
            "not a message",
            {"user": ["U1"], "ts": "1.0"},  # an id of the wrong type counts as nobody
            {"user": "U1", "ts": "2.0", "reactions": "+1"},
            {"user": "U1", "ts": "3.0", "reactions": [{"name": "+1", "users": "U2"}, 7]},
        ],
        "stray/2022-01-01.json": [{"user": "U1", "ts": "4.0"}],
    }
    root = make_export(tmp_path / "acme", days)
    with pytest.raises(DataError) as exc:
        read_slack_export(root)
    assert str(exc.value) == f"{root / 'general/2022-01-01.json'}: message 1 is not a JSON object"
    calls = []
    data = read_slack_export(root, skip_bad_rows=True, progress=lambda d, t: calls.append((d, t)))
    assert rows(data.events[data.events["kind"] != "member"]) == {
        ("U1", "C1", "message", 2.0, 3.0)}
    assert data.info["rows_skipped"] == 1 and data.info["messages_left_out"] == 1
    assert data.info["unknown_folders"] == ["stray"] and data.info["files_read"] == 1
    assert calls and calls[-1][0] == calls[-1][1]


def test_export_without_day_files_has_members_only(tmp_path):
    data = read_slack_export(make_export(tmp_path / "acme", days={}))
    assert set(data.events["kind"]) == {"member"} and len(data.events) == 6
    assert data.stats()["items"] == 4


# -- the real export ---------------------------------------------------------------------------
@pytest.fixture(scope="module")
def slack(slack_export_dir):
    return read_slack_export(slack_export_dir)


@pytest.fixture(scope="module")
def independent(slack_export_dir):
    """Counts made here with plain ``json``: kept people, posts and reactions per folder."""
    users = json.loads((slack_export_dir / "users.json").read_text())
    bots = {u["id"] for u in users if u.get("is_bot")}
    deleted = {u["id"] for u in users if u.get("deleted")}
    kept = {u["id"] for u in users} - bots - deleted - {"USLACKBOT"}
    posts, reactions, messages = Counter(), Counter(), 0
    for day in slack_export_dir.glob("*/*.json"):
        for m in json.loads(day.read_text()):
            messages += 1
            if m.get("subtype") in (None, "thread_broadcast") and m.get("user") in kept:
                posts[day.parent.name] += 1
            for r in m.get("reactions", []):
                reactions[day.parent.name] += sum(u in kept for u in r["users"])
    return {"users": users, "bots": bots, "deleted": deleted, "kept": kept, "posts": posts,
            "reactions": reactions, "messages": messages}


def test_real_export_counts(slack, independent):
    stats = slack.stats()
    assert stats["items"] == 39 and stats["teams"] == 1
    assert slack.info["users_in_export"] == 71 == len(independent["users"])
    assert (len(independent["bots"]), len(independent["deleted"])) == (6, 14)
    kept = 71 - 6 - 14 + len(independent["bots"] & independent["deleted"])
    assert kept == len(independent["kept"]) == 51
    assert stats["users"] == slack.info["users_kept"] == kept
    assert set(slack.users["user"]) == independent["kept"]
    assert slack.info["messages_read"] == independent["messages"] == 20011
    assert slack.info["files_read"] == 696 and slack.info["unknown_folders"] == []


def test_real_export_posts_per_channel_match_an_independent_count(slack, independent):
    names = slack.items.set_index("item")["name"]
    posted = slack.events[slack.events["kind"].isin(["message", "reply"])]
    per_channel = posted.groupby(posted["item"].map(names))["value"].sum()
    assert per_channel.astype(int).to_dict() == dict(independent["posts"])
    # Four channels hold only joins and notices (data-engineering, machine-learning, tenx-bot,
    # week2-group): they are items with members but no posts.
    assert len(per_channel) == 35
    assert per_channel.sum() == sum(independent["posts"].values())


def test_real_export_reactions_and_members(slack, independent, slack_export_dir):
    names = slack.items.set_index("item")["name"]
    reacted = slack.events[slack.events["kind"] == "reaction"]
    per_channel = reacted.groupby(reacted["item"].map(names))["value"].sum()
    assert per_channel.astype(int).to_dict() == {k: v for k, v in independent["reactions"].items()
                                                 if v}
    channels = json.loads((slack_export_dir / "channels.json").read_text())
    memberships = {(u, c["id"]) for c in channels for u in c["members"]}
    assert len(memberships) == 1188
    members = slack.events[slack.events["kind"] == "member"]
    assert set(zip(members["user"], members["item"], strict=True)) == {
        (u, c) for u, c in memberships if u in independent["kept"]}
    assert len(members) == 1187  # one membership belongs to a bot


def test_real_export_zip_gives_the_same_events(slack, slack_export_dir, tmp_path):
    packed = zip_folder(slack_export_dir, tmp_path / "workspace.zip", prefix="anonymized/")
    from_zip = read_slack_export(packed)
    pd.testing.assert_frame_equal(from_zip.events, slack.events)
    pd.testing.assert_frame_equal(from_zip.users, slack.users)
    assert from_zip.stats()["items"] == 39


# -- hostile exports (issue 11) ----------------------------------------------------------------
def test_fields_that_change_type_are_read_as_absent_and_the_dataset_saves(tmp_path):
    # tz, name and creator of the wrong JSON type broke every command that writes Parquet.
    users = [dict(USERS[0], tz=3600, name=["ada"]), dict(USERS[1], tz={"zone": "x"}, real_name=7), USERS[2]]
    channels = [dict(CHANNELS[0], creator={"id": "U1"}, created="soon", is_private="yes"),
                dict(CHANNELS[1], creator=12, name="old", topic=5)]
    root = make_export(tmp_path / "odd", days={})
    (root / "users.json").write_text(json.dumps(users))
    (root / "channels.json").write_text(json.dumps(channels))
    data = read_slack_export(root)
    assert data.users["tz"].tolist() == ["", "", ""] and data.users["handle"].tolist() == ["", "bob", "cy"]
    assert data.users["name"].tolist() == ["Ada L", "Bob B", "cy"]
    assert data.items["creator"].tolist() == ["", "", ""][: len(data.items)]
    assert not data.items["private"].iloc[0]  # "yes" is not true
    assert math.isnan(data.items["created"].iloc[0])
    saved = Dataset.load(data.save(tmp_path / "saved"))
    assert saved.users["tz"].tolist() == ["", "", ""]


def test_json_nested_too_deeply_is_a_data_error(tmp_path):
    root = make_export(tmp_path / "deep", days={"general/2022-01-01.json": "[" * 100_000 + "]" * 100_000})
    with pytest.raises(DataError, match=r"general/2022-01-01\.json: JSON nested too deeply"):
        read_slack_export(root)


def zip_bomb(target: Path, inflated: int) -> Path:
    """A valid export whose one day file is ``inflated`` bytes of spaces (compresses ~1000x)."""
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("users.json", json.dumps(USERS))
        zf.writestr("channels.json", json.dumps(CHANNELS))
        with zf.open("general/2022-01-01.json", "w") as fh:
            fh.write(b"[")
            block = b" " * (1 << 20)
            for _ in range(inflated >> 20):
                fh.write(block)
            fh.write(b"]")
    return target


def test_a_zip_bomb_is_refused_before_it_is_inflated(tmp_path):
    bomb = zip_bomb(tmp_path / "bomb.zip", 64 << 20)
    assert bomb.stat().st_size < 1 << 20  # under a megabyte on disk, 64 MB inflated
    with pytest.raises(DataError, match=r"general/2022-01-01\.json: refusing to unzip: .* more than 200 times"):
        read_slack_export(bomb)


def test_the_inflated_size_is_capped_by_a_setting(tmp_path):
    small = zip_folder(make_export(tmp_path / "ws"), tmp_path / "ws.zip")
    with pytest.raises(
        DataError, match=r"ws\.zip: refusing to unzip: its files inflate to [\d,]+ bytes, over the limit"
    ):
        read_slack_export(small, max_unzipped_bytes=100)
    assert len(read_slack_export(small).events) > 0
    assert len(read_source(small, "slack-export", max_unzipped_bytes=1 << 20).events) > 0
