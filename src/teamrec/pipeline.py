"""Pure per-team functions: one team's events in, its fitted model or served lists out.

These are what a batch engine calls once per team (``applyInPandas`` in the Spark job): they
read nothing and write nothing, so the same code runs embedded, in a test, or on a cluster.
They are built on the one team builder (:func:`teamrec.spec.build_team`) and the one
recommendation policy (:mod:`teamrec.policy`), so a batch job writes exactly what the service
serves:

* :func:`fit_team` -- the team's :class:`~teamrec.recommender.TeamModel`;
* :func:`recommend_team` -- top-N per person ``(team, user, rank, item, score, fallback)``;
* :func:`similar_items_team` -- items like each public item ``(team, item, rank, similar, score)``;
* :func:`similar_people_team` -- people like each person ``(team, user, rank, similar, score)``.

The batch job (:mod:`teamrec.batch.job`) writes its similar-items/people tables with
:func:`similar_items_frame` and :func:`similar_people_frame`: one computation, blocked so a
big team's memory stays bounded, private items never in a list.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from teamrec.algorithms.base import Algorithm
from teamrec.algorithms.registry import create
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


#: Rows of similar-item/people queries scored at once (bounds the memory on big teams).
SIMILAR_BLOCK = 256


def similar_items_frame(model: TeamModel, k: int = 10, *, threads: int = 1) -> pd.DataFrame:
    """Items like each public item, public items only, neither as the query nor as an answer
    (a list with no viewer: what any reader is served), never an archived one as an answer, as
    rows ``(team, item, rank, similar, score)``."""
    return _similar(model, "item", k, threads)


def similar_people_frame(model: TeamModel, k: int = 10, *, threads: int = 1) -> pd.DataFrame:
    """People like each person, as rows ``(team, user, rank, similar, score)``."""
    return _similar(model, "user", k, threads)


def _similar(model: TeamModel, kind: str, k: int, threads: int) -> pd.DataFrame:
    """Every item's (or person's) ``k`` most similar, vectorised over all of them, in blocks of
    :data:`SIMILAR_BLOCK` queries so memory stays bounded however big the team is. Algorithms
    without similarities fall back to cosine k-NN keeping only the best neighbours per row
    (the same top-k as the service's all-pairs helper, in far less memory and time)."""
    data = model.data
    n = data.n_items if kind == "item" else data.n_users
    hidden = data.private if kind == "item" else np.zeros(n, dtype=bool)
    # Never listed: private items (the output is public) and archived ones.
    unlisted = data.hidden_row(None) if kind == "item" else hidden
    want = min(max(n - 1, 0), k + int(unlisted.sum()))
    queries = np.flatnonzero(~hidden)
    columns = ["team", kind, "rank", "similar", "score"]
    if want == 0 or len(queries) == 0:
        return pd.DataFrame({c: pd.Series(dtype=np.int32 if c == "rank" else np.float64 if c == "score" else object)
                             for c in columns})
    method = "similar_items" if kind == "item" else "similar_users"
    algorithm: Algorithm = model.algorithm
    try:
        getattr(algorithm, method)(queries[:1], want)
    except UnsupportedError:
        algorithm = create("item-knn" if kind == "item" else "user-knn", {"neighbors": want, "threads": threads})
        algorithm.fit(data.matrix)
    # A block's scores are dense (block x n): memory is bounded by the block, not the team.
    parts = [getattr(algorithm, method)(queries[s : s + SIMILAR_BLOCK], want)
             for s in range(0, len(queries), SIMILAR_BLOCK)]
    found = np.concatenate([p[0] for p in parts])
    scores = np.concatenate([p[1] for p in parts])
    keep = (found >= 0) & ~unlisted[np.maximum(found, 0)]
    # The first k kept per row, in order (vectorised: a running count of kept entries).
    rank = np.cumsum(keep, axis=1)
    keep &= rank <= k
    rows, cols = np.nonzero(keep)
    vocab = data.items if kind == "item" else data.users
    return pd.DataFrame(
        {
            "team": data.team,
            kind: vocab.id_of(queries[rows]),
            "rank": rank[rows, cols].astype(np.int32),
            "similar": vocab.id_of(found[rows, cols]),
            "score": scores[rows, cols].astype(np.float64),
        },
        columns=columns,
    )


def similar_items_team(events: pd.DataFrame, spec: TeamSpec | None = None, k: int = 10, **meta: Any) -> pd.DataFrame:
    """:func:`similar_items_frame` of the team fitted from ``events``."""
    return similar_items_frame(fit_team(events, spec, **meta), k)


def similar_people_team(events: pd.DataFrame, spec: TeamSpec | None = None, k: int = 10, **meta: Any) -> pd.DataFrame:
    """:func:`similar_people_frame` of the team fitted from ``events``."""
    return similar_people_frame(fit_team(events, spec, **meta), k)
