"""Pure per-team functions: one team's events in, its fitted model or served lists out.

These are what a batch engine calls once per team (``applyInPandas`` in the Spark job): they
read nothing and write nothing, so the same code runs embedded, in a test, or on a cluster.
They are built on the one team builder (:func:`teamrec.spec.build_team`) and the one
recommendation policy (:mod:`teamrec.policy`), so a batch job writes exactly what the service
serves:

* :func:`fit_team` -- the team's :class:`~teamrec.recommender.TeamModel`;
* :func:`recommend_team` -- top-N per person ``(team, user, rank, item, score, fallback)``;
* :func:`similar_items_team` -- items like each public item ``(team, item, rank, other, score)``;
* :func:`similar_people_team` -- people like each person ``(team, user, rank, other, score)``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from teamrec.data.dataset import Dataset
from teamrec.errors import DataError, UnsupportedError
from teamrec.recommender import TeamModel
from teamrec.spec import TeamSpec, build_team


def fit_team(
    events: pd.DataFrame,
    spec: TeamSpec | None = None,
    *,
    items: pd.DataFrame | None = None,
    users: pd.DataFrame | None = None,
) -> TeamModel:
    """Fit one team's model from its events (and optional item/user metadata) with ``spec``'s
    matrix settings and algorithm (its source fields are not read: the events are the data)."""
    spec = spec or TeamSpec()
    dataset = Dataset(events=events, items=items, users=users, info={"format": spec.format} if spec.format else {})
    teams = dataset.events["team"].unique()
    if len(teams) != 1:
        raise DataError(f"fit_team takes one team's events; got {len(teams)} teams", field="team")
    return build_team(spec, team=str(teams[0]), dataset=dataset)


def recommend_team(events: pd.DataFrame, spec: TeamSpec | None = None, k: int = 10, **meta: Any) -> pd.DataFrame:
    """Top-``k`` for every person of one team, as served (policy, privacy, fill): rows
    ``(team, user, rank, item, score, fallback)``."""
    return fit_team(events, spec, **meta).recommend_many(k=k)


def similar_items_frame(model: TeamModel, k: int = 10) -> pd.DataFrame:
    """Items like each public item, public items only and never an archived one (what any
    reader is served), as rows ``(team, item, rank, other, score)``."""
    data = model.data
    public = np.flatnonzero(~data.private)
    unlisted = data.hidden_row(None)  # private and archived
    want = min(data.n_items, k + int(unlisted.sum()))
    try:
        items, scores = model.algorithm.similar_items(public, want)
    except UnsupportedError:
        items, scores = model._helper("item-knn").similar_items(public, want)
    keep = (items >= 0) & ~unlisted[np.maximum(items, 0)]
    # The first k kept per row, in order (vectorised: a running count of kept entries).
    rank = np.cumsum(keep, axis=1)
    keep &= rank <= k
    rows, cols = np.nonzero(keep)
    return pd.DataFrame(
        {
            "team": model.team,
            "item": data.items.id_of(public[rows]),
            "rank": rank[rows, cols],
            "other": data.items.id_of(items[rows, cols]),
            "score": scores[rows, cols],
        }
    )


def similar_people_frame(model: TeamModel, k: int = 10) -> pd.DataFrame:
    """People like each person, as rows ``(team, user, rank, other, score)``."""
    data = model.data
    users = np.arange(data.n_users)
    try:
        others, scores = model.algorithm.similar_users(users, k)
    except UnsupportedError:
        others, scores = model._helper("user-knn").similar_users(users, k)
    rows, ranks = np.nonzero(others >= 0)
    return pd.DataFrame(
        {
            "team": model.team,
            "user": data.users.id_of(users[rows]),
            "rank": ranks + 1,
            "other": data.users.id_of(others[rows, ranks]),
            "score": scores[rows, ranks],
        }
    )


def similar_items_team(events: pd.DataFrame, spec: TeamSpec | None = None, k: int = 10, **meta: Any) -> pd.DataFrame:
    """:func:`similar_items_frame` of the team fitted from ``events``."""
    return similar_items_frame(fit_team(events, spec, **meta), k)


def similar_people_team(events: pd.DataFrame, spec: TeamSpec | None = None, k: int = 10, **meta: Any) -> pd.DataFrame:
    """:func:`similar_people_frame` of the team fitted from ``events``."""
    return similar_people_frame(fit_team(events, spec, **meta), k)
