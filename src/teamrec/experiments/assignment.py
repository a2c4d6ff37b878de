"""Who gets which arm: a salted hash of (experiment, team, person), with no state to lose.

Two independent uniform draws come from the hash (:mod:`teamrec.experiments._hash`):

* ``u_team = U(hash(salt, experiment, "rollout"; team))``: a team is in the experiment when
  ``u_team < rollout``. Raising the rollout from 10% to 20% keeps every team that was in.
* ``u_unit = U(hash(salt, experiment, "arm"; team, person))`` (or of the team alone when the
  unit is ``team``): the arm is the first whose cumulative weight exceeds ``u_unit``.

Outside ``[start, end)`` or outside the rollout, nobody is assigned (arm index ``-1``, name
``None``): the service then serves its default policy, and nothing is logged as the experiment.
The same ids give the same arms in every process and after every restart or retrain.

The team draw needs only a name and a salt, so it is public on its own (:func:`team_draws`,
:func:`in_rollout`) for anything rolled out to a share of teams without arms (the Slack
digest): the same name, share and salt take exactly the teams an experiment's rollout takes.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd

from teamrec.errors import DataError
from teamrec.experiments._hash import combine, hash_ids, seed_of, to_unit
from teamrec.experiments.settings import Experiment

NOT_ASSIGNED = -1


def _ids(values: Any, name: str, n: int | None = None) -> np.ndarray:
    array = np.asarray(values, dtype=object)
    if array.ndim == 0:
        array = np.full(1 if n is None else n, array.item(), dtype=object)
    array = array.ravel()
    if n is not None and len(array) != n:
        raise DataError(f"{len(array)} {name} ids for {n} rows", field=name)
    blank = np.flatnonzero(pd.isna(array) | (array == ""))
    if len(blank):
        raise DataError(f"blank {name} id at row {int(blank[0])}", field=name)
    return array


def _team_hashes(teams: Any, n: int | None, *seeds: np.uint64) -> tuple[int, list[np.ndarray]]:
    """Each team's hash under each seed, per row; a single team is hashed once, not once per person."""
    if np.ndim(teams) == 0 or (n is not None and len(np.asarray(teams, dtype=object).ravel()) == 1):
        one = _ids([np.asarray(teams, dtype=object).ravel()[0]], "team")
        rows = 1 if n is None else n
        return rows, [np.repeat(hash_ids(one, seed, dedupe=False), rows) for seed in seeds]
    array = _ids(teams, "team", n)
    codes, uniques = pd.factorize(array, use_na_sentinel=False)
    distinct = np.asarray(uniques, dtype=object)
    return len(array), [hash_ids(distinct, seed, dedupe=False)[codes] for seed in seeds]


def _rollout_seed(name: str, salt: str) -> np.uint64:
    return seed_of(salt, name, "rollout")


def _seeds(experiment: Experiment) -> tuple[np.uint64, np.uint64]:
    return _rollout_seed(experiment.name, experiment.salt), seed_of(experiment.salt, experiment.name, "arm")


def _unit_hash(experiment: Experiment, team_hash: np.ndarray, persons: Any, seed: np.uint64) -> np.ndarray:
    if experiment.unit == "team":
        return team_hash
    if persons is None:
        raise DataError("the experiment's unit is 'person' but no person ids were given", field="person")
    return combine(team_hash, hash_ids(_ids(persons, "person", len(team_hash)), seed, dedupe=False))


def team_draws(name: str, teams: Sequence[Any] | np.ndarray, salt: str = "") -> np.ndarray:
    """Each team's uniform draw in ``[0, 1)`` for the rollout named ``name`` salted with ``salt``
    (a team is in a rollout of share ``s`` when its draw is below ``s``, so raising the share
    keeps every team that was in). Vectorised over ``teams``."""
    _, (h,) = _team_hashes(teams, None, _rollout_seed(name, salt))
    return to_unit(h)


def in_rollout(name: str, team: str, share: float, salt: str = "") -> bool:
    """Whether ``team`` is in the rollout ``name`` (salted with ``salt``) taking ``share`` of
    teams: what an experiment of that name, rollout and salt decides for the team."""
    return bool(team_draws(name, [team], salt)[0] < share)


def rollout_draw(experiment: Experiment, teams: Sequence[Any] | np.ndarray) -> np.ndarray:
    """Each team's uniform draw in ``[0, 1)`` for the rollout (in when below ``experiment.rollout``)."""
    return team_draws(experiment.name, teams, experiment.salt)


def unit_draw(experiment: Experiment, teams: Any, persons: Any = None) -> np.ndarray:
    """Each unit's uniform draw in ``[0, 1)`` that picks its arm."""
    n = None if persons is None else len(np.asarray(persons, dtype=object).ravel())
    seed = _seeds(experiment)[1]
    _, (h,) = _team_hashes(teams, n, seed)
    return to_unit(_unit_hash(experiment, h, persons, seed))


def assign(experiment: Experiment, teams: Any, persons: Any = None, at: datetime | None = None) -> np.ndarray:
    """The arm index of each ``(team, person)`` row, or ``-1`` when not in the experiment.

    ``teams`` may be one team (broadcast) or one per person. ``at`` (timezone-aware, default:
    the experiment is taken as running) outside ``[start, end)`` gives ``-1`` for everybody.
    Vectorised: see benchmarks/bench_assignment.py for the cost of 100,000 ids.
    """
    n = None if persons is None else len(np.asarray(persons, dtype=object).ravel())
    rollout_seed, arm_seed = _seeds(experiment)
    rows, (rollout_hash, team_hash) = _team_hashes(teams, n, rollout_seed, arm_seed)
    if at is not None and not experiment.is_running(at):
        return np.full(rows, NOT_ASSIGNED, dtype=np.int64)
    cumulative = np.cumsum(np.asarray(experiment.weights))
    cumulative[-1] = 1.0  # rounding must never leave a draw past the last arm
    draw = to_unit(_unit_hash(experiment, team_hash, persons, arm_seed))
    arms = np.searchsorted(cumulative, draw, side="right").astype(np.int64)
    arms[to_unit(rollout_hash) >= experiment.rollout] = NOT_ASSIGNED
    return arms
def assign_names(experiment: Experiment, teams: Any, persons: Any = None, at: datetime | None = None) -> np.ndarray:
    """Like :func:`assign`, as arm names (``None`` when not in the experiment), an object array."""
    index = assign(experiment, teams, persons, at)
    names = np.asarray([*experiment.arm_names, None], dtype=object)
    return names[index]


def assign_one(experiment: Experiment, team: str, person: str, at: datetime | None = None) -> str | None:
    """The arm name of one person (``None``: not in the experiment); what a request handler calls."""
    name = assign_names(experiment, [team], [person], at)[0]
    return None if name is None else str(name)
