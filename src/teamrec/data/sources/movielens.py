"""MovieLens 100K: ``u.data`` ratings plus ``u.item`` movies and ``u.user`` people.

``u.data`` (and every split of it: ``u1.base`` ... ``u5.test``, ``ua``/``ub``) is
tab-separated ``user item rating timestamp`` with no header; each line becomes one event of
kind ``rating`` whose value is the rating (1-5) and whose timestamp is Unix seconds.

``path`` may be the ``ml-100k`` folder (then ``u.data`` is read) or any one ratings file.
Metadata is read from beside it when present: ``u.item`` (latin-1, ``|``-separated) gives
each movie's title as ``name`` plus ``release_date``, ``imdb_url`` and ``genres`` (names from
``u.genre`` joined with ``|``); ``u.user`` gives ``age``, ``gender``, ``occupation`` and
``zip``. Metadata lists *every* movie and person, so a split's ``stats()`` counts all 1,682
movies and 943 people; pass ``metadata=False`` to count only those with ratings in it.
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
    make_dataset,
    read_delimited_events,
    read_table,
    reject_unknown_options,
)
from teamrec.errors import DataError

RATING_COLUMNS = ("user", "item", "rating", "timestamp")
_ITEM_COLUMNS = ("item", "name", "release_date", "video_release_date", "imdb_url")


def read_movielens(
    path: Path,
    *,
    skip_bad_rows: bool = False,
    progress: Progress | None = None,
    metadata: bool = True,
    team: str = DEFAULT_TEAM,
    **options: Any,
) -> Dataset:
    """Read a MovieLens 100K ratings file (or the folder holding ``u.data``)."""
    reject_unknown_options("movielens", options)
    ratings = file_in_folder(path, "u.data")
    spec = Delimited(ratings, sep="\t", header=False, names=RATING_COLUMNS,
                     quoting=csv.QUOTE_NONE)
    columns = EventColumns(
        sources={"user": "user", "item": "item", "value": "rating", "timestamp": "timestamp"},
        constants={"kind": "rating", "team": team},
    )
    events, skipped, _ = read_delimited_events(spec, columns, skip_bad_rows=skip_bad_rows,
                                               progress=progress)
    items = users = None
    if metadata:
        items = _movies(ratings.parent, team)
        users = _people(ratings.parent, team)
    return make_dataset(events, format="movielens", path=ratings, rows_skipped=skipped,
                        items=items, users=users)


def _movies(folder: Path, team: str) -> pd.DataFrame | None:
    """``u.item``: one row per movie; the 19 genre flags become one ``genres`` text."""
    path = folder / "u.item"
    if not path.exists():
        return None
    table = read_table(Delimited(path, sep="|", header=False, encoding="latin-1",
                                 quoting=csv.QUOTE_NONE))
    if table.shape[1] < len(_ITEM_COLUMNS):
        raise DataError(f"expected at least {len(_ITEM_COLUMNS)} '|'-separated fields",
                        file=str(path), line=1)
    items = table.iloc[:, : len(_ITEM_COLUMNS)].set_axis(list(_ITEM_COLUMNS), axis=1)
    flags = table.iloc[:, len(_ITEM_COLUMNS):].to_numpy(dtype=object) == "1"
    names = _genre_names(folder, flags.shape[1])
    tagged = np.where(flags, np.array([g + "|" for g in names], dtype=object), "")
    items["genres"] = pd.DataFrame(tagged).sum(axis=1).str.rstrip("|").to_numpy(dtype=object)
    items.insert(0, "team", team)
    return items.drop(columns="video_release_date")


def _genre_names(folder: Path, count: int) -> list[str]:
    """Genre names in flag order from ``u.genre`` (``name|index``), or ``genre0``... without it."""
    path = folder / "u.genre"
    if path.exists():
        table = read_table(Delimited(path, sep="|", header=False, names=("name", "index"),
                                     encoding="latin-1", quoting=csv.QUOTE_NONE))
        names = table["name"].dropna().astype(str).tolist()
        if len(names) == count:
            return names
    return [f"genre{i}" for i in range(count)]


def _people(folder: Path, team: str) -> pd.DataFrame | None:
    """``u.user``: ``user|age|gender|occupation|zip``; MovieLens has no names (name = id)."""
    path = folder / "u.user"
    if not path.exists():
        return None
    users = read_table(Delimited(path, sep="|", header=False, encoding="latin-1",
                                 names=("user", "age", "gender", "occupation", "zip"),
                                 quoting=csv.QUOTE_NONE))
    users["age"] = pd.to_numeric(users["age"], errors="coerce")
    users.insert(0, "team", team)
    return users
