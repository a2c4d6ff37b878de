"""HetRec 2011 Last.fm 2K: how often each listener played each artist.

``user_artists.dat`` is tab-separated with the header ``userID artistID weight`` (CRLF line
ends); each line becomes one event of kind ``play`` whose value is the play count. The data
has no times (timestamp NaN). ``path`` may be that file or its folder. ``artists.dat``
beside it (``id name url pictureURL``, UTF-8) names the items and adds ``url`` and
``picture_url``. ``user_friends.dat`` and the tag files are not events and are not read.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import pandas as pd

from teamrec.data.dataset import Dataset
from teamrec.data.events import DEFAULT_TEAM
from teamrec.data.sources._common import (
    Delimited,
    EventColumns,
    Progress,
    make_dataset,
    read_delimited_events,
    read_header,
    read_table,
    reject_unknown_options,
    require_columns,
)
from teamrec.errors import DataError

PLAYS = "user_artists.dat"
ARTISTS = "artists.dat"


def read_lastfm(
    path: Path,
    *,
    skip_bad_rows: bool = False,
    progress: Progress | None = None,
    metadata: bool = True,
    team: str = DEFAULT_TEAM,
    **options: Any,
) -> Dataset:
    """Read Last.fm 2K play counts (``user_artists.dat`` or its folder)."""
    reject_unknown_options("lastfm", options)
    path = Path(path)
    if path.is_dir():
        path = path / PLAYS
        if not path.exists():
            raise DataError(f"no {PLAYS} in this folder", file=str(path.parent))
    columns = EventColumns(
        sources={"user": "userID", "item": "artistID", "value": "weight"},
        constants={"kind": "play", "team": team},
    )
    # Quotes are ordinary characters in HetRec files (artist names such as 'Guns N' Roses').
    spec = Delimited(path, sep="\t", quoting=csv.QUOTE_NONE)
    events, skipped, _ = read_delimited_events(spec, columns, skip_bad_rows=skip_bad_rows,
                                               progress=progress)
    items = _artists(path.parent, team) if metadata else None
    return make_dataset(events, format="lastfm", path=path, rows_skipped=skipped, items=items)


def _artists(folder: Path, team: str) -> pd.DataFrame | None:
    path = folder / ARTISTS
    if not path.exists():
        return None
    spec = Delimited(path, sep="\t", quoting=csv.QUOTE_NONE)
    found = read_header(spec)
    require_columns({"item": "id", "name": "name"}, found, file=str(path))
    table = read_table(spec)
    items = table.rename(columns={"id": "item", "pictureURL": "picture_url"})
    items.insert(0, "team", team)
    return items.dropna(subset=["item"]).reset_index(drop=True)
