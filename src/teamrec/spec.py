"""One team spec, one team builder: the only way a team's data becomes its model.

A :class:`TeamSpec` says everything about a team's model, in one typed, validated object:

* where the data comes from: ``source`` read with ``format`` and the reader's ``options``
  (``columns`` mapping, ``sep``, ``encoding``, ...), ``skip_bad_rows``, the ``source_team``
  inside a multi-team source, and ``kind_values`` (every event of a kind gets that value);
* how events become the matrix: ``matrix`` overrides over the format's defaults
  (:class:`~teamrec.data.matrix.MatrixConfig` fields: kinds, kind weights, aggregation, ...);
* what is fitted: ``algorithm`` (a registry name) and its ``params``.

:func:`build_team` turns a spec (plus extra events, e.g. those ingested through the service)
into a :class:`~teamrec.recommender.TeamModel`. The CLI (``recommend``, ``serve``), the
service's settings file (each ``[teams.NAME]`` table *is* a spec), the batch pipeline
(:func:`teamrec.pipeline.fit_team`) and evaluation all go through here, so a reader option
that works in one works in all of them.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from teamrec.data.dataset import Dataset
from teamrec.data.matrix import InteractionMatrix, MatrixConfig, build_matrix, default_config
from teamrec.errors import ConfigError
from teamrec.recommender import TeamModel

log = logging.getLogger(__name__)

#: The generated demo workspace's format name (no file to read).
DEMO_FORMAT = "demo"


class TeamSpec(BaseModel):
    """What a team's model is made of: its source, how it is read, the matrix and the algorithm."""

    model_config = ConfigDict(extra="forbid")

    source: str | None = Field(None, description="data file or folder (read with `format`)")
    format: str | None = Field(None, description="source format; 'demo' for the generated workspace")
    source_team: str | None = Field(None, description="the team inside the source, when it holds several")
    options: dict[str, Any] = Field(
        default_factory=dict,
        description="reader options, e.g. columns = { user = 'personId', item = 'contentId' }, sep, encoding",
    )
    skip_bad_rows: bool = Field(False, description="skip and count bad rows instead of failing")
    kind_values: dict[str, float] = Field(
        default_factory=dict, description="every event of a kind gets this value (e.g. Deskdrop strengths)"
    )
    algorithm: str = "item-knn"
    params: dict[str, Any] = Field(default_factory=dict)
    matrix: dict[str, Any] = Field(default_factory=dict, description="MatrixConfig fields over the format's defaults")

    def matrix_config(self, fmt: str | None = None) -> MatrixConfig:
        """The format's matrix defaults (``fmt``, as the reader names it; the demo's for the
        demo) with this spec's ``matrix`` overrides; :class:`ConfigError` for a bad setting."""
        if self.format == DEMO_FORMAT:
            from teamrec.demo import DEMO_MATRIX

            base = DEMO_MATRIX
        try:
            if self.format != DEMO_FORMAT:
                return default_config(fmt or self.format, self.matrix)
            return MatrixConfig(**{**base.model_dump(), **self.matrix})
        except ValueError as exc:
            raise ConfigError(f"bad matrix settings: {exc}") from None

    def read(self, team: str | None = None) -> Dataset:
        """The spec's source as a dataset of one team (renamed ``team`` when given, so a
        service's team is keyed by its URL name and no other team's rows slip in)."""
        if self.format == DEMO_FORMAT:
            from teamrec.demo import demo_dataset

            data = demo_dataset()
        elif self.source is not None:
            from teamrec.data.sources import read_source

            data = read_source(self.source, self.format, skip_bad_rows=self.skip_bad_rows, **self.options)
        else:
            raise ConfigError("the team spec has no source to read (give source and format, or format = 'demo')")
        data = apply_kind_values(data, self.kind_values)
        teams = data.teams()
        if self.source_team is not None:
            data = data.team(self.source_team)
        elif len(teams) > 1 and team is not None:
            raise ConfigError(
                f"team {team!r}: the source holds {len(teams)} teams; set source_team "
                f"(one of {', '.join(teams[:10])})"
            )
        if team is None:
            return data
        return Dataset(
            events=data.events.assign(team=team),
            items=data.items.assign(team=team),
            users=data.users.assign(team=team),
            info=dict(data.info),
        )

    @property
    def source_name(self) -> str:
        """How the source is named in the service's model description."""
        if self.format == DEMO_FORMAT:
            return "demo workspace"
        return Path(self.source).name if self.source else ""


def apply_kind_values(dataset: Dataset, kind_values: dict[str, float]) -> Dataset:
    """Every event of a kind in ``kind_values`` gets that value (other kinds keep theirs)."""
    if not kind_values:
        return dataset
    events = dataset.events.copy()
    mapped = events["kind"].map(kind_values)
    events["value"] = mapped.fillna(events["value"]).to_numpy(dtype=float)
    return Dataset(events=events, items=dataset.items, users=dataset.users, info=dict(dataset.info))


def team_matrix(
    spec: TeamSpec,
    dataset: Dataset,
    *,
    team: str | None = None,
    extra_events: pd.DataFrame | None = None,
) -> InteractionMatrix:
    """``dataset`` (plus ``extra_events`` of the same team, appended after it) as the team's
    matrix, with the spec's matrix settings over the defaults of the dataset's format."""
    if extra_events is not None and len(extra_events):
        events = pd.concat([dataset.events, extra_events], ignore_index=True)
        dataset = Dataset(events=events, items=dataset.items, users=dataset.users, info=dict(dataset.info))
    config = spec.matrix_config(dataset.info.get("format") or spec.format)
    return build_matrix(dataset, team=team, config=config)


def build_team(
    spec: TeamSpec,
    *,
    team: str | None = None,
    dataset: Dataset | None = None,
    extra_events: pd.DataFrame | None = None,
) -> TeamModel:
    """The one team builder: the spec's data (``dataset`` when already read, else the spec's
    source), plus ``extra_events``, into a fitted, warmed :class:`TeamModel`."""
    if dataset is None:
        dataset = spec.read(team)
    matrix = team_matrix(spec, dataset, team=team, extra_events=extra_events)
    model = TeamModel.fit(matrix, spec.algorithm, spec.params)
    model.algorithm.warm()  # before it serves: no request pays for a first computation
    return model
