"""Building one team's model for the service: source events + stored events -> TeamModel.

The data of a team is its configured source (a file, a folder, the generated demo) with the
events ingested through the API appended (the event store), so a retrain learns from both.
The source's team is renamed to the service's team name, so every team's data is keyed by
the name in its URLs and no other team's rows can slip in.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from teamrec.data.dataset import Dataset
from teamrec.data.matrix import MatrixConfig, build_matrix, default_config
from teamrec.data.sources import read_source
from teamrec.errors import ConfigError
from teamrec.recommender import TeamModel
from teamrec.service.settings import TeamSettings
from teamrec.store.base import EventStore

log = logging.getLogger(__name__)


@dataclass
class Trained:
    """A freshly built model and where its data came from."""

    model: TeamModel
    seconds: float
    info: dict[str, Any] = field(default_factory=dict)


def source_dataset(name: str, team: TeamSettings) -> Dataset | None:
    """The team's source as a dataset whose team is ``name`` (None: the team has no source)."""
    if team.format == "demo":
        from teamrec.demo import demo_dataset

        data = demo_dataset()
    elif team.source is not None:
        data = read_source(team.source, team.format)
    else:
        return None
    teams = data.teams()
    if team.source_team is not None:
        data = data.team(team.source_team)
    elif len(teams) > 1:
        raise ConfigError(
            f"team {name!r}: the source holds {len(teams)} teams; set source_team (one of {', '.join(teams[:10])})"
        )
    return Dataset(
        events=data.events.assign(team=name),
        items=data.items.assign(team=name),
        users=data.users.assign(team=name),
        info=dict(data.info),
    )


def matrix_config(team: TeamSettings, fmt: str | None) -> MatrixConfig:
    """The format's matrix defaults (the demo's for the demo) with the team's overrides."""
    if team.format == "demo":
        from teamrec.demo import DEMO_MATRIX

        base = DEMO_MATRIX
    else:
        base = default_config(fmt)
    try:
        return MatrixConfig(**{**base.model_dump(), **team.matrix})
    except ValueError as exc:
        raise ConfigError(f"bad matrix settings: {exc}") from None


def train(name: str, team: TeamSettings, store: EventStore) -> Trained:
    """Fit the team's configured algorithm on its source events plus its stored events."""
    start = time.perf_counter()
    base = source_dataset(name, team)
    if base is None:
        raise ConfigError(f"team {name!r} has no source to train from (only a saved model)")
    stored = store.events(name)
    events = pd.concat([base.events, stored], ignore_index=True) if len(stored) else base.events
    data = Dataset(events=events, items=base.items, users=base.users, info=dict(base.info))
    matrix = build_matrix(data, team=name, config=matrix_config(team, base.info.get("format", team.format)))
    model = TeamModel.fit(matrix, team.algorithm, team.params)
    model.algorithm.warm()  # before it serves: no request pays for a first computation
    seconds = time.perf_counter() - start
    info = {
        "format": base.info.get("format", team.format),
        "source": _source_name(team),
        "source_events": int(len(base.events)),
        "store_events": int(len(stored)),
    }
    log.info("trained %s for team %s in %.2fs (%d source + %d stored events)",
             team.algorithm, name, seconds, info["source_events"], info["store_events"])
    return Trained(model=model, seconds=seconds, info=info)


def load(name: str, team: TeamSettings) -> Trained:
    """The team's saved model (``model_dir``)."""
    assert team.model_dir is not None
    start = time.perf_counter()
    model = TeamModel.load(team.model_dir)
    model.algorithm.warm()
    return Trained(
        model=model,
        seconds=time.perf_counter() - start,
        info={
            "format": "saved model",
            "source": Path(team.model_dir).name,
            "source_events": None,
            "store_events": None,
        },
    )


def has_saved_model(team: TeamSettings) -> bool:
    return team.model_dir is not None and (Path(team.model_dir) / "team.json").exists()


def _source_name(team: TeamSettings) -> str:
    if team.format == "demo":
        return "demo workspace"
    return Path(team.source).name if team.source else ""
