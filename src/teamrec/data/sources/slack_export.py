"""A Slack workspace export (the folder, or the ``.zip`` Slack hands out): channels as items.

Layout read (the standard export)::

    users.json                 people: id, team_id, name, real_name, profile, is_bot, deleted
    channels.json              public channels: id, name, created, members, purpose, topic...
    groups.json                private channels, when the export has them (optional)
    CHANNEL/YYYY-MM-DD.json    one list of messages per channel and day; any other ``.json``
                               in a channel folder (e.g. a stray ``tss.json``) is read too

What becomes what:

* **items**: one row per channel (public, ``is_private`` or from ``groups.json``) with
  ``name``, ``description`` (the purpose), ``private``, ``archived`` and the extra columns
  ``topic``, ``created``, ``creator``, ``member_count`` and ``is_general``.
* **users**: the people of ``users.json``; ``name`` is ``real_name``, else
  ``profile.real_name``, else the handle; extra columns ``handle``, ``is_bot``, ``deleted``,
  ``tz``. Bots (``is_bot`` and ``USLACKBOT``) and deleted accounts are *left out*, of the
  users and of every event: recommending a channel to a bot, or a deleted person as a
  colleague, helps nobody. ``info["users_in_export"]`` still counts everyone listed.
* **events** (team = the most common ``team_id`` in ``users.json``, else the export's name):

  - ``member``: one per channel membership listed in ``channels.json``/``groups.json``,
    value 1, timestamp the person's ``channel_join`` message in that channel (NaN if none).
    The member lists are the export's *current* state, so a join message from someone who
    has since left adds nothing.
  - ``message``: top-level messages (no subtype) and ``thread_broadcast`` replies, which
    are shown in the channel itself.
  - ``reply``: thread replies (``parent_user_id`` set, or ``thread_ts`` differs from ``ts``).
  - ``reaction``: each person listed in each reaction of each message (by the reacting
    person, at the message's time: the export keeps no reaction times).

  Other subtypes (joins, topic changes, tombstones, bot notices) are not activity. Activity
  is **aggregated per (user, channel, kind)**: one event whose value is the count and whose
  timestamp is the latest message time, so a workspace with millions of messages still gives
  a frame of (people x channels x 3) rows at most. Messages and reactions by people left out
  (or missing from ``users.json``) are counted in ``info["messages_left_out"]`` and
  ``info["reactions_left_out"]``.

Fields of the wrong JSON type (a ``tz`` that is a number, a ``creator`` that is an object)
are read as absent, so every metadata column holds one type and can be stored as Parquet.

A zip is inflated with limits (:data:`MAX_UNZIPPED_BYTES` in all, reader option
``max_unzipped_bytes``; and no member over 1 MiB may inflate more than :data:`MAX_RATIO` times):
a few hundred kilobytes that inflate to gigabytes (a "zip bomb") are refused with a clear
message instead of filling the memory.

Reading JSON is per file and per message (the format forces it); every frame is built once
from collected tuples and classified with column operations. A day file that is not valid
JSON is a :class:`DataError` naming the file and line; with ``skip_bad_rows`` it is skipped
and counted in ``info["files_skipped"]`` (and ``rows_skipped``). ``info["rows_read"]`` is the
number of events produced.
"""

from __future__ import annotations

import json
import zipfile
import zlib
from collections import Counter
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np
import pandas as pd

from teamrec.data.dataset import Dataset
from teamrec.data.events import EVENT_COLUMNS, timestamps_out_of_range
from teamrec.data.sources._common import Progress, make_dataset, reject_unknown_options
from teamrec.errors import ConfigError, DataError

SLACKBOT = "USLACKBOT"
#: The most bytes a zipped export may inflate to, all files together (a real export of a
#: large workspace stays well under it; raise it with ``max_unzipped_bytes``).
MAX_UNZIPPED_BYTES = 4 << 30
#: The most a member larger than :data:`_RATIO_FROM` may inflate, per compressed byte: Slack's
#: JSON compresses about 5-20 times; a zip bomb a thousand times or more.
MAX_RATIO = 200
_RATIO_FROM = 1 << 20
#: What zipfile raises for a damaged or unsupported archive (an encrypted member is a
#: RuntimeError, an unknown compression method NotImplementedError).
_ZIP_ERRORS = (zipfile.BadZipFile, zlib.error, OSError, EOFError, NotImplementedError, RuntimeError, ValueError)
#: Message subtypes that count as someone posting in the channel.
POSTING_SUBTYPES = ("thread_broadcast",)


# -- the export as a set of files --------------------------------------------------------------
class _Export:
    """The ``.json`` files of an export, by path relative to its root, from a folder or a zip."""

    def __init__(self, path: Path, max_unzipped_bytes: int = MAX_UNZIPPED_BYTES) -> None:
        self.path = path
        self.budget = max_unzipped_bytes
        self._zip: zipfile.ZipFile | None = None
        self._root = ""
        self._sizes: dict[str, int] = {}
        if path.is_dir():
            self.name = path.resolve().name
            for file in path.glob("*.json"):
                self._sizes[file.name] = file.stat().st_size
            for file in path.glob("*/*.json"):
                self._sizes[f"{file.parent.name}/{file.name}"] = file.stat().st_size
        else:
            self.name = path.stem
            self._open_zip()

    def _open_zip(self) -> None:
        try:
            self._zip = zipfile.ZipFile(self.path)
            # a member without a name (a damaged directory) is nothing to read
            members = [m for m in self._zip.infolist() if m.filename and not m.is_dir()]
        except _ZIP_ERRORS as exc:
            raise DataError(f"not a readable zip file ({exc})", file=str(self.path)) from None
        members = [m for m in members if not m.filename.startswith("__MACOSX/")]
        roots = sorted(
            (PurePosixPath(m.filename).parent for m in members
             if PurePosixPath(m.filename).name in ("channels.json", "users.json")),
            key=lambda p: len(p.parts),
        )
        if roots and roots[0].parts:
            self._root = roots[0].as_posix() + "/"
            self.name = roots[0].name
        for m in members:
            if m.filename.startswith(self._root) and m.filename.endswith(".json"):
                rel = m.filename[len(self._root):]
                if rel.count("/") <= 1:
                    self._sizes[rel] = m.file_size
                    self._check_ratio(m)
        declared = sum(self._sizes.values())
        if declared > self.budget:
            raise DataError(self._too_big(f"its files inflate to {declared:,} bytes"), file=str(self.path))

    def _too_big(self, what: str) -> str:
        return (f"refusing to unzip: {what}, over the limit of {self.budget:,} bytes "
                "(a zip bomb? raise max_unzipped_bytes to read a larger export)")

    def _check_ratio(self, member: zipfile.ZipInfo) -> None:
        if member.file_size > _RATIO_FROM and member.file_size > MAX_RATIO * max(member.compress_size, 1):
            raise DataError(
                f"refusing to unzip: {member.file_size:,} bytes from {member.compress_size:,} compressed, more "
                f"than {MAX_RATIO} times (a zip bomb?)", file=self.label(member.filename[len(self._root):]))

    def close(self) -> None:
        if self._zip is not None:
            self._zip.close()

    def label(self, rel: str) -> str:
        """How errors name one file of the export."""
        return f"{self.path}:{rel}" if self._zip is not None else str(self.path / rel)

    def names(self) -> list[str]:
        return sorted(self._sizes)

    def size(self, rel: str) -> int:
        return self._sizes[rel]

    def has(self, rel: str) -> bool:
        return rel in self._sizes

    def load(self, rel: str) -> Any:
        """Parse one file; broken JSON is a :class:`DataError` naming file and line."""
        try:
            if self._zip is not None:
                # The sizes a zip declares can lie: read at most what is left of the budget.
                with self._zip.open(self._root + rel) as fh:
                    data = fh.read(self.budget + 1)
                if len(data) > self.budget:
                    raise DataError(self._too_big("it inflates to more than it declares"), file=self.label(rel))
                self.budget -= len(data)
            else:
                data = (self.path / rel).read_bytes()
        except _ZIP_ERRORS as exc:
            raise DataError(f"unreadable ({exc})", file=self.label(rel)) from None
        try:
            return json.loads(data)
        except RecursionError:
            raise DataError("JSON nested too deeply to read", file=self.label(rel)) from None
        except json.JSONDecodeError as exc:
            raise DataError(f"broken JSON: {exc.msg} (column {exc.colno})",
                            file=self.label(rel), line=exc.lineno) from None
        except UnicodeDecodeError as exc:
            raise DataError(f"not UTF-8 text ({exc.reason})", file=self.label(rel)) from None


def _list_of_objects(data: Any, file: str, what: str) -> list[dict[str, Any]]:
    if not isinstance(data, list):
        raise DataError(f"expected a JSON list of {what}", file=file, line=1)
    for i, entry in enumerate(data):
        if not isinstance(entry, dict) or not isinstance(entry.get("id"), str):
            raise DataError(f"{what} entry {i + 1} has no text id", file=file, field="id")
    return data


# -- the reader --------------------------------------------------------------------------------
def read_slack_export(
    path: Path,
    *,
    skip_bad_rows: bool = False,
    progress: Progress | None = None,
    team: str | None = None,
    max_unzipped_bytes: int = MAX_UNZIPPED_BYTES,
    **options: Any,
) -> Dataset:
    """Read a Slack export folder or ``.zip`` into channel items, people and activity events.

    ``team`` overrides the team id taken from ``users.json``; ``max_unzipped_bytes`` caps
    what a zip may inflate to.
    """
    reject_unknown_options("slack-export", options)
    if not isinstance(max_unzipped_bytes, int) or max_unzipped_bytes < 1:
        raise ConfigError(f"max_unzipped_bytes must be a positive whole number, got {max_unzipped_bytes!r}")
    path = Path(path)
    export = _Export(path, max_unzipped_bytes)
    try:
        return _read(export, skip_bad_rows=skip_bad_rows, progress=progress, team=team)
    finally:
        export.close()


def _read(export: _Export, *, skip_bad_rows: bool, progress: Progress | None,
          team: str | None) -> Dataset:
    for required in ("users.json", "channels.json"):
        if not export.has(required):
            raise DataError(f"not a Slack export: no {required}", file=str(export.path))
    users_raw = _list_of_objects(export.load("users.json"), export.label("users.json"), "users")
    team_ids = Counter(u["team_id"] for u in users_raw if isinstance(u.get("team_id"), str))
    team = team or (team_ids.most_common(1)[0][0] if team_ids else export.name)
    users = _users(users_raw, team)
    kept = users["user"][users["kept"]]
    channels = _channels(export, team)
    by_folder = dict(zip(channels["name"], channels["item"], strict=True))

    posts, reactions, files = _read_channel_files(export, by_folder, skip_bad_rows, progress)
    msgs = _frame(posts, ["item", "user", "subtype", "ts", "thread_ts", "parent_user_id"])
    reacts = _frame(reactions, ["item", "user", "ts"])
    activity, left_out = _activity(msgs, reacts, kept)
    members = _memberships(channels, msgs, kept)
    events = pd.concat([members, activity], ignore_index=True)
    events.insert(0, "team", team)
    users_out = users.loc[users["kept"]].drop(columns="kept").reset_index(drop=True)
    return make_dataset(
        events[list(EVENT_COLUMNS)],
        format="slack-export",
        path=export.path,
        item_kind="channel",
        rows_skipped=files["skipped"] + files["messages_skipped"],
        items=channels.drop(columns="members"),
        users=users_out,
        team=team,
        users_in_export=len(users),
        users_kept=int(users["kept"].sum()),
        bots_left_out=int((users["is_bot"] | (users["user"] == SLACKBOT)).sum()),
        deleted_left_out=int(users["deleted"].sum()),
        channels=len(channels),
        files_read=files["read"],
        files_skipped=files["skipped"],
        messages_read=len(posts),
        messages_left_out=left_out["messages"],
        reactions_left_out=left_out["reactions"],
        unknown_folders=files["unknown_folders"],
    )


def _read_channel_files(
    export: _Export, by_folder: dict[str, str], skip_bad_rows: bool, progress: Progress | None
) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]], dict[str, Any]]:
    """Every ``.json`` file in a channel folder, as message and reaction tuples.

    Folders that name no known channel are listed in ``unknown_folders`` and not read.
    """
    day_files = [n for n in export.names() if "/" in n]
    total = sum(export.size(n) for n in day_files)
    done = 0
    posts: list[tuple[Any, ...]] = []
    reactions: list[tuple[Any, ...]] = []
    counts: dict[str, Any] = {"read": 0, "skipped": 0, "messages_skipped": 0}
    unknown: set[str] = set()
    for name in day_files:
        folder = name.split("/", 1)[0]
        channel = by_folder.get(folder)
        done += export.size(name)
        if channel is None:
            unknown.add(folder)
            continue
        try:
            messages = export.load(name)
            if not isinstance(messages, list):
                raise DataError("expected a JSON list of messages", file=export.label(name),
                                line=1)
        except DataError:
            if not skip_bad_rows:
                raise
            counts["skipped"] += 1
            continue
        counts["read"] += 1
        counts["messages_skipped"] += _collect(messages, channel, posts, reactions,
                                               file=export.label(name),
                                               skip_bad_rows=skip_bad_rows)
        if progress is not None:
            progress(done, total)
    if progress is not None:
        progress(total, total)
    counts["unknown_folders"] = sorted(unknown)
    return posts, reactions, counts


def _users(raw: list[dict[str, Any]], team: str) -> pd.DataFrame:
    """One row per entry of ``users.json``, with ``kept`` = neither bot nor deleted."""
    rows = []
    for u in raw:
        profile = u["profile"] if isinstance(u.get("profile"), dict) else {}
        rows.append((
            u["id"],
            _str(u.get("real_name")) or _str(profile.get("real_name")) or _str(u.get("name")) or u["id"],
            _str(u.get("name")),
            u.get("is_bot") is True,
            u.get("deleted") is True,
            _str(u.get("tz")),
        ))
    users = pd.DataFrame.from_records(
        rows, columns=["user", "name", "handle", "is_bot", "deleted", "tz"]
    ).astype({"is_bot": bool, "deleted": bool})
    users.insert(0, "team", team)
    users["kept"] = ~(users["is_bot"] | users["deleted"] | (users["user"] == SLACKBOT))
    return users.drop_duplicates("user", keep="last").reset_index(drop=True)


def _channels(export: _Export, team: str) -> pd.DataFrame:
    """Channels from ``channels.json`` and, as private, ``groups.json``."""
    rows = []
    for file, private in (("channels.json", False), ("groups.json", True)):
        if not export.has(file):
            continue
        for c in _list_of_objects(export.load(file), export.label(file), "channels"):
            if not isinstance(c.get("name"), str):
                raise DataError(f"channel {c['id']} has no name", file=export.label(file),
                                field="name")
            listed = c["members"] if isinstance(c.get("members"), list) else []
            members = [m for m in listed if type(m) is str]
            rows.append((
                c["id"],
                c["name"],
                _text(c.get("purpose")),
                private or c.get("is_private") is True,
                c.get("is_archived") is True,
                _text(c.get("topic")),
                _number(c.get("created")),
                _str(c.get("creator")),
                len(members),
                c.get("is_general") is True,
                members,
            ))
    channels = pd.DataFrame.from_records(rows, columns=[
        "item", "name", "description", "private", "archived", "topic", "created", "creator",
        "member_count", "is_general", "members",
    ]).astype({"created": np.float64, "member_count": np.int64})
    channels.insert(0, "team", team)
    return channels.drop_duplicates("item", keep="last").reset_index(drop=True)


def _number(value: Any) -> float:
    """A finite number from a number or numeric text (not true/false); NaN otherwise."""
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        return np.nan
    try:
        number = float(value)
    except (ValueError, OverflowError):
        return np.nan
    return number if np.isfinite(number) else np.nan


def _str(value: Any) -> str:
    """A text field as text; a value of another JSON type (a number, an object) as absent."""
    return value if isinstance(value, str) else ""


def _text(field: Any) -> str:
    """``purpose`` / ``topic`` are ``{"value": ...}`` objects in exports (or plain text)."""
    if isinstance(field, dict):
        field = field.get("value")
    return _str(field)


def _collect(
    messages: list[Any],
    channel: str,
    posts: list[tuple[Any, ...]],
    reactions: list[tuple[Any, ...]],
    *,
    file: str,
    skip_bad_rows: bool,
) -> int:
    """Append one tuple per message and per reacting person; return messages skipped."""
    skipped = 0
    for i, m in enumerate(messages):
        if type(m) is not dict:
            if not skip_bad_rows:
                raise DataError(f"message {i + 1} is not a JSON object", file=file)
            skipped += 1
            continue
        get = m.get
        ts = get("ts")
        posts.append((channel, get("user"), get("subtype"), ts, get("thread_ts"),
                      get("parent_user_id")))
        listed = get("reactions")
        if type(listed) is list:
            for reaction in listed:
                users = reaction.get("users") if type(reaction) is dict else None
                if type(users) is list:
                    reactions.extend([(channel, user, ts) for user in users])
    return skipped


def _frame(records: list[tuple[Any, ...]], columns: list[str]) -> pd.DataFrame:
    """Collected tuples as one object frame; values of the wrong JSON type become null.

    Ids and subtypes must be text, times text or numbers (Slack writes ``"1662120957.649"``);
    anything else (a list where an id should be) is treated as absent rather than crash.
    """
    frame = pd.DataFrame.from_records(records, columns=columns).astype(object)
    for col in columns:
        allowed = (str, int, float) if col in ("ts", "thread_ts") else (str,)
        ok = frame[col].map(type).isin(allowed).to_numpy()
        if not ok.all():
            frame[col] = frame[col].where(ok, None)
    return frame


def _activity(
    msgs: pd.DataFrame, reacts: pd.DataFrame, kept: pd.Series
) -> tuple[pd.DataFrame, dict[str, int]]:
    """Classify messages, then aggregate per (user, channel, kind): count and latest time."""
    subtype = msgs["subtype"]
    plain = subtype.isna().to_numpy()
    posting = plain | subtype.isin(POSTING_SUBTYPES).to_numpy()
    in_thread = msgs["parent_user_id"].notna().to_numpy() | (
        msgs["thread_ts"].notna() & (msgs["thread_ts"].astype(str) != msgs["ts"].astype(str))
    ).to_numpy()
    kinds = np.where(plain & in_thread, "reply", "message")
    both = pd.concat([
        pd.DataFrame({
            "user": msgs["user"].to_numpy()[posting],
            "item": msgs["item"].to_numpy()[posting],
            "kind": kinds[posting],
            "timestamp": _seconds(msgs["ts"])[posting],
        }),
        pd.DataFrame({
            "user": reacts["user"].to_numpy(),
            "item": reacts["item"].to_numpy(),
            "kind": np.full(len(reacts), "reaction", dtype=object),
            "timestamp": _seconds(reacts["ts"]),
        }),
    ], ignore_index=True)
    ok = both["user"].isin(kept).to_numpy()
    is_reaction = (both["kind"] == "reaction").to_numpy()
    left_out = {"messages": int((~ok & ~is_reaction).sum()),
                "reactions": int((~ok & is_reaction).sum())}
    grouped = both.loc[ok].groupby(["user", "item", "kind"], sort=True)["timestamp"]
    out = grouped.agg(["size", "max"]).reset_index()
    out = out.rename(columns={"size": "value", "max": "timestamp"})
    out["value"] = out["value"].astype(np.float64)
    return out[["user", "item", "kind", "value", "timestamp"]], left_out


def _seconds(ts: pd.Series) -> np.ndarray:
    """Slack ``ts`` strings (``"1662120957.649119"``) as float seconds; NaN when unusable,
    including times outside 1970 .. 2100 (a garbled ``ts`` must not skew time decay)."""
    seconds = pd.to_numeric(ts, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan, copy=True)
    seconds[timestamps_out_of_range(seconds)] = np.nan
    return seconds


def _memberships(channels: pd.DataFrame, msgs: pd.DataFrame, kept: pd.Series) -> pd.DataFrame:
    """``member`` events from the channel member lists, timed by ``channel_join`` messages."""
    members = channels[["item", "members"]].explode("members").dropna()
    members = members.rename(columns={"members": "user"}).astype(object)
    members = members.loc[members["user"].isin(kept).to_numpy()].drop_duplicates()
    is_join = (msgs["subtype"] == "channel_join").to_numpy()
    joins = pd.DataFrame({
        "user": msgs["user"].to_numpy()[is_join],
        "item": msgs["item"].to_numpy()[is_join],
        "timestamp": _seconds(msgs["ts"])[is_join],
    })
    first_join = joins.groupby(["user", "item"], sort=False)["timestamp"].min().reset_index()
    out = members.merge(first_join.astype({"user": object, "item": object}),
                        on=["user", "item"], how="left")
    out["kind"] = "member"
    out["value"] = 1.0
    out["timestamp"] = out["timestamp"].astype(np.float64)
    return out[["user", "item", "kind", "value", "timestamp"]].reset_index(drop=True)
