"""Serving teams from a ``teamrec batch`` output folder, in bounded memory.

A batch writes each team's :class:`~teamrec.recommender.TeamModel` under
``OUT/models/team=T`` (:mod:`teamrec.batch.job`). The service's :class:`ModelRegistry` serves
those teams beside its configured ones (``[batch]`` settings): a team's model is loaded on the
team's first request and kept while it is among the ``max_teams_loaded`` most recently used;
the least recently used is dropped when one more is loaded, and a request after that loads it
again. Memory is therefore bounded by the count, whatever the number of teams in the folder.

A batch team is served as the batch computed it: it has no source here to retrain or fold
events into (events are still stored, for the next batch run).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from pathlib import Path

from teamrec.service.settings import TEAM_NAME, BatchServingSettings, TeamSettings


def model_dir(batch: BatchServingSettings, team: str) -> Path:
    """Where the batch saved ``team``'s model (the team name is checked first: it comes from a URL)."""
    if not TEAM_NAME.match(team):
        raise ValueError(f"not a team name: {team!r}")
    return Path(batch.path) / "models" / f"team={team}"


def has_team(batch: BatchServingSettings, team: str) -> bool:
    """Whether the batch output holds a saved model of ``team`` (and the settings serve it)."""
    if not TEAM_NAME.match(team) or (batch.teams is not None and team not in batch.teams):
        return False
    return (model_dir(batch, team) / "team.json").is_file()


def batch_teams(batch: BatchServingSettings) -> list[str]:
    """Every team the batch output holds a model of (and the settings serve), sorted."""
    folder = Path(batch.path) / "models"
    if not folder.is_dir():
        return []
    names = (p.name.removeprefix("team=") for p in folder.iterdir() if p.name.startswith("team="))
    return sorted(t for t in names if has_team(batch, t))


def team_settings(batch: BatchServingSettings, team: str) -> TeamSettings:
    """The settings a batch team is served with: its saved model, no source."""
    return TeamSettings(model_dir=str(model_dir(batch, team)))


class RecentlyUsed:
    """Team names in order of use, at most ``capacity``: :meth:`use` returns those to drop."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._order: OrderedDict[str, None] = OrderedDict()
        self._lock = threading.Lock()

    def use(self, team: str) -> list[str]:
        """Mark ``team`` as just used; the least recently used beyond the capacity, removed."""
        with self._lock:
            self._order[team] = None
            self._order.move_to_end(team)
            dropped = []
            while len(self._order) > self.capacity:
                dropped.append(self._order.popitem(last=False)[0])
            return dropped

    def discard(self, team: str) -> None:
        with self._lock:
            self._order.pop(team, None)

    def __contains__(self, team: object) -> bool:
        with self._lock:
            return team in self._order

    def __len__(self) -> int:
        with self._lock:
            return len(self._order)

    def names(self) -> list[str]:
        """Least recently used first."""
        with self._lock:
            return list(self._order)
