"""CI&T Deskdrop: ``users_interactions.csv``, who viewed, liked, bookmarked... which article.

Columns ``timestamp,eventType,contentId,personId,sessionId,userAgent,userRegion,userCountry``.
Each row becomes one event: user = ``personId``, item = ``contentId`` (kept as text: they are
signed 64-bit numbers), kind = ``eventType`` and value = the strength of that event type
(``event_strengths``, merged over :data:`EVENT_STRENGTHS`). An event type outside that map
(public copies of the file carry an injected ``DISLIKE``) is a bad row at its line, field
``eventType``.

Exact duplicate lines (every column equal, session and browser included) are logged twice by
the platform, not read twice by a person: they are dropped and counted in
``info["duplicates_dropped"]``; ``info["rows_read"]`` counts the events before that.

``path`` may be the file or the folder holding it. When ``shared_articles.csv`` (same Kaggle
data set) lies beside it, article titles become item names (with ``url`` and ``lang``).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

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
    read_header,
    read_table,
    reject_unknown_options,
    require_columns,
)
from teamrec.errors import ConfigError

#: Strength of each Deskdrop event type (the value of its events).
EVENT_STRENGTHS: dict[str, float] = {
    "VIEW": 1.0,
    "LIKE": 2.0,
    "BOOKMARK": 3.0,
    "FOLLOW": 4.0,
    "COMMENT CREATED": 5.0,
}
INTERACTIONS = "users_interactions.csv"
ARTICLES = "shared_articles.csv"


def read_deskdrop(
    path: Path,
    *,
    skip_bad_rows: bool = False,
    progress: Progress | None = None,
    event_strengths: Mapping[str, float] | None = None,
    team: str = DEFAULT_TEAM,
    **options: Any,
) -> Dataset:
    """Read Deskdrop's ``users_interactions.csv`` (or the folder holding it)."""
    reject_unknown_options("deskdrop", options)
    path = file_in_folder(path, INTERACTIONS)
    try:
        strengths = {**EVENT_STRENGTHS, **{str(k): float(v) for k, v in
                                          (event_strengths or {}).items()}}
    except (TypeError, ValueError):
        raise ConfigError("event_strengths must map each event type to a number") from None
    columns = EventColumns(
        sources={"user": "personId", "item": "contentId", "kind": "eventType",
                 "timestamp": "timestamp"},
        constants={"team": team},
        kind_values=strengths,
    )
    events, skipped, duplicates = read_delimited_events(
        Delimited(path), columns, skip_bad_rows=skip_bad_rows, progress=progress,
        raw_duplicates=True,
    )
    return make_dataset(events, format="deskdrop", path=path, rows_skipped=skipped,
                        duplicates_dropped=duplicates, items=_articles(path.parent, team))


def _articles(folder: Path, team: str) -> pd.DataFrame | None:
    """Titles from ``shared_articles.csv``, the latest row per article, when it is there."""
    path = folder / ARTICLES
    if not path.exists():
        return None
    spec = Delimited(path)
    wanted = {"item": "contentId", "name": "title"}
    found = read_header(spec)
    require_columns(wanted, found, file=str(path))
    table = read_table(spec)
    extra = [c for c in ("url", "lang", "timestamp") if c in found]
    items = table[["contentId", "title", *extra]].rename(
        columns={"contentId": "item", "title": "name", "timestamp": "shared"}
    )
    items = items.dropna(subset=["item"]).drop_duplicates("item", keep="last")
    items.insert(0, "team", team)
    return items.reset_index(drop=True)
