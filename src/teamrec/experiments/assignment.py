"""Who gets which arm: a salted hash of (experiment, team, person), with no state to lose.

Two independent uniform draws come from the hash (:mod:`teamrec.experiments._hash`):

* ``u_team = U(hash(salt, experiment, "rollout"; team))``: a team is in the experiment when
  ``u_team < rollout``. Raising the rollout from 10% to 20% keeps every team that was in.
* ``u_unit = U(hash(salt, experiment, "arm"; team, person))`` (or of the team alone when the
  unit is ``team``): the arm is the first whose cumulative weight exceeds ``u_unit``.

Outside ``[start, end)`` or outside the rollout, nobody is assigned (arm index ``-1``, name
``None``): the service then serves its default policy, and nothing is logged as the experiment.
The same ids give the same arms in every process and after every restart or retrain.
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


def rollout_draw(experiment: Experiment, teams: Sequence[Any] | np.ndarray) -> np.ndarray:
    """Each team's uniform draw in ``[0, 1)`` for the rollout (in when below ``experiment.rollout``)."""
    teams = _ids(teams, "team")
    return to_unit(hash_ids(teams, seed_of(experiment.salt, experiment.name, "rollout")))


def unit_draw(experiment: Experiment, teams: Any, persons: Any = None) -> np.ndarray:
    """Each unit's uniform draw in ``[0, 1)`` that picks its arm."""
    teams = _ids(teams, "team")
    seed = seed_of(experiment.salt, experiment.name, "arm")
    h = hash_ids(teams, seed)
    if experiment.unit == "person":
        if persons is None:
            raise DataError("the experiment's unit is 'person' but no person ids were given", field="person")
        h = combine(h, hash_ids(_ids(persons, "person", len(teams)), seed))
    return to_unit(h)


def assign(experiment: Experiment, teams: Any, persons: Any = None, at: datetime | None = None) -> np.ndarray:
    """The arm index of each ``(team, person)`` row, or ``-1`` when not in the experiment.

    ``teams`` may be one team (broadcast) or one per person. ``at`` (timezone-aware, default:
    the experiment is taken as running) outside ``[start, end)`` gives ``-1`` for everybody.
    Vectorised: 100,000 ids take a few tens of milliseconds.
    """
    n = None if persons is None else len(np.asarray(persons, dtype=object).ravel())
    teams = _ids(teams, "team", n)
    if at is not None and not experiment.is_running(at):
        return np.full(len(teams), NOT_ASSIGNED, dtype=np.int64)
    cumulative = np.cumsum(np.asarray(experiment.weights))
    cumulative[-1] = 1.0  # rounding must never leave a draw past the last arm
    arms = np.searchsorted(cumulative, unit_draw(experiment, teams, persons), side="right").astype(np.int64)
    arms[rollout_draw(experiment, teams) >= experiment.rollout] = NOT_ASSIGNED
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
