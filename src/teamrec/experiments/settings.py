"""An experiment as settings: a name, arms with weights and exploration, a unit, a rollout, a window.

In the settings file (round two wires it into ``[teams.NAME]``)::

    [[experiments]]
    name = "knn-vs-popularity-2026-12"
    unit = "person"                # or "team": every person of a team gets the team's arm
    rollout = 0.10                 # share of teams in the experiment (the rest get the default)
    start = 2026-12-01T00:00:00Z
    end = 2026-12-15T00:00:00Z
    salt = "s1"                    # change it to reshuffle who gets which arm

    [[experiments.arms]]
    name = "control"               # the first arm is the control the others are compared with
    algorithm = "popularity"
    weight = 1

    [[experiments.arms]]
    name = "knn"
    algorithm = "item-knn"
    params = { neighbors = 50 }
    weight = 1
    epsilon = 0.33                 # a third of the slots filled with random eligible items

A running experiment is immutable: :func:`fingerprint` hashes what decides who sees what
(arms, parameters, weights, exploration, unit, rollout, salt), and :func:`check_unchanged`
refuses a changed experiment that keeps its name, with the message the service shows.
"""

from __future__ import annotations

import hashlib
import json
import re
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from teamrec.errors import ConfigError

NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
Unit = Literal["person", "team"]


class Arm(BaseModel):
    """One arm: an algorithm with its parameters, a relative weight, an exploration rate."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    algorithm: str
    params: dict[str, Any] = Field(default_factory=dict)
    weight: float = Field(default=1.0, gt=0, allow_inf_nan=False)
    epsilon: float = Field(default=0.0, ge=0, le=1, allow_inf_nan=False)

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not NAME.match(value):
            raise ValueError(f"{value!r} is not a valid arm name (letters, digits, _ . -; at most 64)")
        return value

    @field_validator("algorithm")
    @classmethod
    def _algorithm(cls, value: str) -> str:
        # Imported here so that reading settings does not import every algorithm module.
        from teamrec.algorithms.registry import ALGORITHMS

        if value not in ALGORITHMS:
            raise ValueError(f"unknown algorithm {value!r} (known: {', '.join(sorted(ALGORITHMS))})")
        return value

    @model_validator(mode="after")
    def _params(self) -> Arm:
        """The parameters must suit the algorithm now, not when the arm's model is first built."""
        from teamrec.algorithms.registry import get_algorithm

        try:
            get_algorithm(self.algorithm).Config(**self.params)
        except ValidationError as exc:
            raise ValueError(f"params for {self.algorithm}: {describe(exc)}") from None
        return self


class Experiment(BaseModel):
    """A declared experiment; see the module docstring for the settings it reads."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    arms: tuple[Arm, ...]
    unit: Unit = "person"
    rollout: float = Field(default=1.0, ge=0, le=1, allow_inf_nan=False)
    start: datetime
    end: datetime | None = None
    salt: str = ""

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not NAME.match(value):
            raise ValueError(f"{value!r} is not a valid experiment name (letters, digits, _ . -; at most 64)")
        return value

    @field_validator("arms")
    @classmethod
    def _two_arms(cls, value: tuple[Arm, ...]) -> tuple[Arm, ...]:
        if len(value) < 2:
            raise ValueError(f"an experiment needs at least 2 arms (a control and a treatment), got {len(value)}")
        return value

    @field_validator("start", "end")
    @classmethod
    def _utc(cls, value: datetime | None) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"{value.isoformat()} has no time zone (write it in UTC, e.g. 2026-12-01T00:00:00Z)")
        return value.astimezone(UTC)

    @model_validator(mode="after")
    def _consistent(self) -> Experiment:
        names = [arm.name for arm in self.arms]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"arm names must be unique; repeated: {', '.join(duplicates)}")
        if self.end is not None and self.end <= self.start:
            raise ValueError(f"end {self.end.isoformat()} is not after start {self.start.isoformat()}")
        return self

    @property
    def arm_names(self) -> tuple[str, ...]:
        """The arms' names in declared order (the first is the control)."""
        return tuple(arm.name for arm in self.arms)

    @property
    def weights(self) -> tuple[float, ...]:
        """The arms' weights normalised to sum to 1."""
        total = sum(arm.weight for arm in self.arms)
        return tuple(arm.weight / total for arm in self.arms)

    def is_running(self, at: datetime) -> bool:
        """Whether ``at`` (timezone-aware) is in ``[start, end)``."""
        at = _aware(at)
        return self.start <= at and (self.end is None or at < self.end)

    def arm(self, name: str) -> Arm:
        """The arm called ``name``."""
        for arm in self.arms:
            if arm.name == name:
                return arm
        raise ConfigError(f"experiment {self.name!r} has no arm {name!r} (arms: {', '.join(self.arm_names)})")


def _aware(at: datetime) -> datetime:
    if at.tzinfo is None or at.utcoffset() is None:
        raise ConfigError(f"time {at.isoformat()} has no time zone; experiments compare times in UTC")
    return at.astimezone(UTC)


def describe(exc: ValidationError) -> str:
    """A pydantic error as one line: ``arms.1.epsilon: Input should be less than or equal to 1``."""
    parts = []
    for err in exc.errors():
        loc = ".".join(str(x) for x in err["loc"])
        msg = err["msg"].removeprefix("Value error, ")
        parts.append(f"{loc}: {msg}" if loc else msg)
    return "; ".join(parts)


def parse_experiment(data: dict[str, Any], where: str = "experiment") -> Experiment:
    """Validate one experiment's settings, or raise :class:`ConfigError` in one line naming the field."""
    if isinstance(data, dict) and isinstance(data.get("name"), str) and where == "experiment":
        where = f"experiment {data['name']!r}"
    try:
        return Experiment.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(f"{where}: {describe(exc)}") from None


def parse_experiments(items: list[dict[str, Any]], where: str = "experiments") -> tuple[Experiment, ...]:
    """Validate a list of experiments (``[[experiments]]``); names must be unique."""
    experiments = tuple(parse_experiment(item, f"{where}[{i}]") for i, item in enumerate(items))
    names = [e.name for e in experiments]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise ConfigError(f"{where}: experiment names must be unique; repeated: {', '.join(repeated)}")
    return experiments


def fingerprint(experiment: Experiment) -> str:
    """A stable hash of what decides who sees what: arms (algorithm, params, weight, epsilon), unit, rollout, salt.

    Start and end are left out: extending a running experiment's window is allowed. Weights are
    hashed normalised, so ``1:1`` and ``2:2`` are the same experiment. The JSON is canonical
    (sorted keys, no spaces), so the value is the same in every process and version.
    """
    payload = {
        "arms": [
            {"name": a.name, "algorithm": a.algorithm, "params": a.params, "weight": round(w, 12), "epsilon": a.epsilon}
            for a, w in zip(experiment.arms, experiment.weights, strict=True)
        ],
        "unit": experiment.unit,
        "rollout": experiment.rollout,
        "salt": experiment.salt,
    }
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def changed_message(name: str, running: str, new: str) -> str:
    """The one-line refusal the service gives when a running experiment's settings change."""
    return (
        f"experiment {name!r} is running with fingerprint {running} and its arms, weights, unit, rollout "
        f"or salt changed (now {new}); a running experiment cannot change: give the new settings a new name"
    )


def check_unchanged(experiment: Experiment, running_fingerprint: str | None, at: datetime) -> None:
    """Refuse (``ConfigError``) a changed experiment that has started, keeping its name.

    ``running_fingerprint`` is the fingerprint stored when the experiment first ran (``None``:
    never ran). Before ``start`` any change is allowed: nobody has been assigned yet.
    """
    if running_fingerprint is None or _aware(at) < experiment.start:
        return
    new = fingerprint(experiment)
    if new != running_fingerprint:
        raise ConfigError(changed_message(experiment.name, running_fingerprint, new))
