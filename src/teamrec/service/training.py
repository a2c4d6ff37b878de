"""Building one team's model for the service: its spec's source + stored events -> TeamModel.

The data of a team is its configured source (a file, a folder, the generated demo) with the
events ingested through the API appended (the event store), so a retrain learns from both;
the model is built by the one team builder (:func:`teamrec.spec.build_team`). The source's
team is renamed to the service's team name, so every team's data is keyed by the name in its
URLs and no other team's rows can slip in.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from teamrec.errors import ConfigError
from teamrec.recommender import TeamModel
from teamrec.service.settings import TeamSettings
from teamrec.spec import build_team
from teamrec.store.base import EventStore

log = logging.getLogger(__name__)


@dataclass
class Trained:
    """A freshly built model, where its data came from, and the event store's sequence number
    it has seen up to (what the online updater reads on from, with ``store.since``)."""

    model: TeamModel
    seconds: float
    info: dict[str, Any] = field(default_factory=dict)
    sequence: int = 0


def train(name: str, team: TeamSettings, store: EventStore) -> Trained:
    """Fit the team's spec on its source events plus every event stored for it (the one team
    builder, :func:`teamrec.spec.build_team`)."""
    start = time.perf_counter()
    spec = team.spec
    if spec.source is None and spec.format != "demo":
        raise ConfigError(f"team {name!r} has no source to train from (only a saved model)")
    base = spec.read(name)
    stored, sequence = store.since(name, 0)
    model = build_team(spec, team=name, dataset=base, extra_events=stored)
    seconds = time.perf_counter() - start
    info = {
        "format": base.info.get("format", team.format),
        "source": spec.source_name,
        "source_events": int(len(base.events)),
        "store_events": int(len(stored)),
    }
    log.info("trained %s for team %s in %.2fs (%d source + %d stored events)",
             team.algorithm, name, seconds, info["source_events"], info["store_events"])
    return Trained(model=model, seconds=seconds, info=info, sequence=sequence)


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
