"""HetRec 2011 Last.fm 2K: how often each listener played each artist.

``user_artists.dat`` is tab-separated with the header ``userID artistID weight`` (CRLF line
ends); each line becomes one event of kind ``play`` whose value is the play count. The data
has no times (timestamp NaN). ``path`` may be that file or its folder. ``artists.dat``
beside it (``id name url pictureURL``, UTF-8) names the items and adds ``url`` and
``picture_url``. The tag files are not events and are not read.

``user_friends.dat`` (``userID friendID``, one line per direction of each declared
friendship) is not events either: :func:`read_friendships` reads it (or any file whose first
two tab- or comma-separated columns are person ids, under a header) for the
``people-like-you`` evaluation protocol.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from teamrec.data.dataset import Dataset
from teamrec.data.events import DEFAULT_TEAM
from teamrec.data.sources._common import (
    Delimited,
    EventColumns,
    Progress,
    file_in_folder,
    id_strings,
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
FRIENDS = "user_friends.dat"


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
    path = file_in_folder(path, PLAYS)
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


def read_friendships(path: Path) -> pd.DataFrame:
    """Declared friendships as a frame of ``user`` and ``friend`` id strings, one row per line.

    ``path`` is ``user_friends.dat``, its folder, or any delimited file (tab-separated when the
    header holds a tab, else comma-separated) whose first two columns are the two person ids.
    A row with a missing id is a :class:`DataError` naming its line; a file with no rows too.
    """
    path = Path(path)
    if path.is_dir():
        path = path / FRIENDS
    if not path.exists():
        raise DataError("no such friendships file", file=str(path))
    with open(path, encoding="utf-8", newline="") as fh:
        first = fh.readline()
    spec = Delimited(path, sep="\t" if "\t" in first else ",", quoting=csv.QUOTE_NONE)
    found = read_header(spec)
    if len(found) < 2:
        raise DataError(f"a friendships file needs two id columns (found: {', '.join(found)})", file=str(path),
                        line=1)
    table = read_table(spec)
    if table.empty:
        raise DataError("no friendships in this file", file=str(path))
    ids = []
    for column in found[:2]:
        text, missing, invalid = id_strings(table[column])
        bad = np.flatnonzero(missing | invalid)
        if len(bad):
            raise DataError("missing person id", file=str(path), line=int(bad[0]) + 2, field=str(column))
        ids.append(np.char.strip(text.astype(str)))
    return pd.DataFrame({"user": ids[0], "friend": ids[1]})
