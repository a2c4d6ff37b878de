"""Pure per-team functions: one team's events in, its fitted model or recommendations out.

These are what a batch engine calls once per team (``applyInPandas`` in the Spark job): they
read nothing and write nothing, so the same code runs embedded, in a test, or on a cluster.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from teamrec.data.dataset import Dataset
from teamrec.data.matrix import MatrixConfig, build_matrix
from teamrec.recommender import TeamModel


class TeamConfig(BaseModel):
    """What to fit for a team: the algorithm, its parameters and how events become values."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    algorithm: str = "item-knn"
    params: dict[str, Any] = Field(default_factory=dict)
    matrix: MatrixConfig = Field(default_factory=MatrixConfig)


def fit_team(
    events: pd.DataFrame,
    config: TeamConfig | None = None,
    *,
    items: pd.DataFrame | None = None,
    users: pd.DataFrame | None = None,
) -> TeamModel:
    """Fit one team's model from its events (and optional item/user metadata)."""
    config = config or TeamConfig()
    dataset = Dataset(events=events, items=items, users=users)
    teams = dataset.events["team"].unique()
    if len(teams) != 1:
        raise ValueError(f"fit_team takes one team's events; got {len(teams)} teams")
    matrix = build_matrix(dataset, team=str(teams[0]), config=config.matrix)
    return TeamModel.fit(matrix, config.algorithm, config.params)


def recommend_team(events: pd.DataFrame, config: TeamConfig | None = None, k: int = 10, **meta: Any) -> pd.DataFrame:
    """Top-``k`` for every person of one team: rows ``(team, user, rank, item, score)``."""
    return fit_team(events, config, **meta).recommend_many(k=k)
