"""A :class:`Dataset`: the events of one source plus the metadata that travels with them.

A dataset is what every reader returns and what ``teamrec ingest`` stores as a folder of
Parquet files, so that a large log is parsed once::

    DIR/events.parquet   the events (see :mod:`teamrec.data.events`)
    DIR/items.parquet    item metadata: team, item, name, description, private, archived, ...
    DIR/users.parquet    user metadata: team, user, name, ...
    DIR/dataset.json     provenance: format, source path, rows read, rows skipped, duplicates

Writes are all or nothing: the folder is built beside the target and renamed into place.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from teamrec._files import write_folder
from teamrec.data.events import ITEM_COLUMNS, USER_COLUMNS, empty_events, normalize_events
from teamrec.errors import DataError, UnknownIdError

FORMAT_VERSION = 1
_FILES = ("events.parquet", "items.parquet", "users.parquet", "dataset.json")


def _empty_items() -> pd.DataFrame:
    frame = pd.DataFrame({c: pd.Series([], dtype=object) for c in ITEM_COLUMNS})
    frame["private"] = frame["private"].astype(bool)
    frame["archived"] = frame["archived"].astype(bool)
    return frame


def _empty_users() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series([], dtype=object) for c in USER_COLUMNS})


def normalize_items(items: pd.DataFrame | None) -> pd.DataFrame:
    """Give an item-metadata frame the required columns (missing ones filled with defaults)."""
    if items is None or len(items) == 0 and not len(items.columns):
        return _empty_items()
    items = items.copy()
    for col in ("team", "item"):
        if col not in items.columns:
            raise DataError("item metadata lacks a column", field=col)
        items[col] = items[col].astype(str).astype(object)
    if "name" not in items.columns:
        items["name"] = items["item"]
    items["name"] = items["name"].fillna(items["item"]).astype(str).astype(object)
    if "description" not in items.columns:
        items["description"] = ""
    items["description"] = items["description"].fillna("").astype(str).astype(object)
    for flag in ("private", "archived"):
        items[flag] = items[flag].fillna(False).astype(bool) if flag in items.columns else False
    rest = [c for c in items.columns if c not in ITEM_COLUMNS]
    return items[list(ITEM_COLUMNS) + rest].drop_duplicates(["team", "item"], keep="last").reset_index(
        drop=True
    )


def normalize_users(users: pd.DataFrame | None) -> pd.DataFrame:
    """Give a user-metadata frame the required columns (missing ones filled with defaults)."""
    if users is None or len(users) == 0 and not len(users.columns):
        return _empty_users()
    users = users.copy()
    for col in ("team", "user"):
        if col not in users.columns:
            raise DataError("user metadata lacks a column", field=col)
        users[col] = users[col].astype(str).astype(object)
    if "name" not in users.columns:
        users["name"] = users["user"]
    users["name"] = users["name"].fillna(users["user"]).astype(str).astype(object)
    rest = [c for c in users.columns if c not in USER_COLUMNS]
    return users[list(USER_COLUMNS) + rest].drop_duplicates(["team", "user"], keep="last").reset_index(
        drop=True
    )


#: Provenance keys :meth:`Dataset.stats` reports in their own fields.
_STATS_KEYS = {"format", "source", "rows_read", "rows_skipped", "duplicates_dropped", "format_version"}


@dataclass
class Dataset:
    """Events plus item and user metadata, for one or many teams.

    ``info`` records provenance: ``format``, ``source``, ``rows_read`` (events the source held),
    ``rows_skipped`` (bad rows skipped with ``skip_bad_rows``) and ``duplicates_dropped``.
    """

    events: pd.DataFrame
    items: pd.DataFrame = field(default_factory=_empty_items)
    users: pd.DataFrame = field(default_factory=_empty_users)
    info: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.events = normalize_events(self.events, source=str(self.info.get("source", "<events>")))
        self.items = normalize_items(self.items)
        self.users = normalize_users(self.users)
        self.info.setdefault("rows_read", int(len(self.events)))
        self.info.setdefault("rows_skipped", 0)
        self.info.setdefault("duplicates_dropped", 0)

    # -- teams -----------------------------------------------------------------------------
    def teams(self) -> list[str]:
        """Every team with events or metadata, sorted."""
        names = set(self.events["team"].unique())
        names.update(self.items["team"].unique())
        names.update(self.users["team"].unique())
        return sorted(str(t) for t in names)

    def team(self, team: str) -> Dataset:
        """The part of this dataset that belongs to ``team`` (a copy; other teams never leak)."""
        if team not in self.teams():
            raise UnknownIdError("team", team, f"known: {', '.join(self.teams()[:10])}")
        info = dict(self.info)
        events = self.events[self.events["team"].to_numpy() == team].reset_index(drop=True)
        info["rows_read"] = int(len(events))
        return Dataset(
            events=events,
            items=self.items[self.items["team"].to_numpy() == team].reset_index(drop=True),
            users=self.users[self.users["team"].to_numpy() == team].reset_index(drop=True),
            info=info,
        )

    def stats(self) -> dict[str, Any]:
        """Counts per team and overall: users, items, events, density.

        ``users`` and ``items`` count the distinct ids in the events together with those that
        only appear in the metadata (a Slack member who never posted is still a user).
        """
        per_team: dict[str, dict[str, Any]] = {}
        for team in self.teams():
            ev = self.events[self.events["team"].to_numpy() == team]
            users = set(ev["user"].unique()) | set(
                self.users.loc[self.users["team"] == team, "user"]
            )
            items = set(ev["item"].unique()) | set(
                self.items.loc[self.items["team"] == team, "item"]
            )
            pairs = int(len(ev[["user", "item"]].drop_duplicates())) if len(ev) else 0
            cells = len(users) * len(items)
            per_team[team] = {
                "users": len(users),
                "items": len(items),
                "events": int(len(ev)),
                "pairs": pairs,
                "density": pairs / cells if cells else 0.0,
                "kinds": {str(k): int(v) for k, v in ev["kind"].value_counts().sort_index().items()},
            }
        totals = {
            "users": sum(t["users"] for t in per_team.values()),
            "items": sum(t["items"] for t in per_team.values()),
        }
        # Events as the source held them, before duplicates were dropped.
        events_read = int(self.info.get("rows_read", len(self.events)))
        return {
            "format": self.info.get("format"),
            "source": self.info.get("source"),
            "teams": len(per_team),
            "users": totals["users"],
            "items": totals["items"],
            "events": events_read,
            "events_kept": int(len(self.events)),
            "duplicates_dropped": int(self.info.get("duplicates_dropped", 0)),
            "rows_skipped": int(self.info.get("rows_skipped", 0)),
            "density": (
                float(np.mean([t["density"] for t in per_team.values()])) if per_team else 0.0
            ),
            "per_team": per_team,
            # What the reader noted beyond the events (e.g. a Slack export's users.json
            # count, with the bots and deleted users left out), numbers only.
            "reader": {
                k: v for k, v in sorted(self.info.items())
                if k not in _STATS_KEYS and isinstance(v, (int, float)) and not isinstance(v, bool)
            },
        }

    # -- storage ---------------------------------------------------------------------------
    def save(self, directory: str | os.PathLike[str]) -> Path:
        """Write the dataset as a Parquet folder, whole or not at all.

        The files are written into a temporary folder next to ``directory`` and renamed into
        place; an existing dataset there is replaced only once the new one is complete.
        """

        def write(tmp: Path) -> None:
            self.events.to_parquet(tmp / "events.parquet", index=False)
            self.items.to_parquet(tmp / "items.parquet", index=False)
            self.users.to_parquet(tmp / "users.parquet", index=False)
            meta = {"format_version": FORMAT_VERSION, **_jsonable(self.info)}
            (tmp / "dataset.json").write_text(json.dumps(meta, indent=2, sort_keys=True))

        return write_folder(directory, write, marker="dataset.json", what="a teamrec dataset")

    @classmethod
    def load(cls, directory: str | os.PathLike[str]) -> Dataset:
        """Read a folder written by :meth:`save`."""
        path = Path(directory)
        for name in _FILES:
            if not (path / name).exists():
                raise DataError(f"not a teamrec dataset folder (no {name})", file=str(path))
        try:
            info = json.loads((path / "dataset.json").read_text())
        except json.JSONDecodeError as exc:
            raise DataError(f"broken JSON: {exc.msg}", file=str(path / "dataset.json"), line=exc.lineno) from None
        version = info.pop("format_version", None)
        if version != FORMAT_VERSION:
            raise DataError(f"unsupported dataset format version {version!r}", file=str(path / "dataset.json"))
        try:
            events = pd.read_parquet(path / "events.parquet")
            items = pd.read_parquet(path / "items.parquet")
            users = pd.read_parquet(path / "users.parquet")
        except Exception as exc:  # pyarrow raises several unrelated types for broken files
            raise DataError(f"unreadable Parquet: {exc}", file=str(path)) from None
        return cls(events=events, items=items, users=users, info=info)


def _jsonable(info: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in info.items():
        if isinstance(value, (np.integer,)):
            value = int(value)
        elif isinstance(value, (np.floating,)):
            value = float(value)
        elif isinstance(value, Path):
            value = str(value)
        out[key] = value
    return out


def empty_dataset() -> Dataset:
    """A dataset with no events and no metadata."""
    return Dataset(events=empty_events())
