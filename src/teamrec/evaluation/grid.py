"""A simple grid search, scored on a validation split carved from the training data.

The candidates are the cartesian product of the listed values (``--grid A.name=v1,v2``); each
is fitted on the validation split's training part and measured on its held-out part with the
protocol's own metric (``select_by``). The best wins (lowest error, highest otherwise; ties go
to the earlier candidate). The test split is never looked at: the validation split comes from
:meth:`Protocol.validation`, which draws only from the training data and avoids every test cell.
"""

from __future__ import annotations

import itertools
import json
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from teamrec.algorithms.base import Algorithm
from teamrec.errors import ConfigError
from teamrec.evaluation.protocols import Protocol, lower_is_better
from teamrec.evaluation.split import Split


def parse_value(text: str) -> Any:
    """A command-line value: JSON when it parses (``3``, ``0.5``, ``true``, ``null``, ``[1,2]``),
    ``True``/``False``/``None`` spelt the Python way, else the string itself."""
    text = text.strip()
    python = {"True": True, "False": False, "None": None}
    if text in python:
        return python[text]
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def parse_values(text: str) -> list[Any]:
    """``"v1,v2,v3"`` -> the parsed values (a JSON list is accepted too)."""
    text = text.strip()
    if text.startswith("["):
        try:
            values = json.loads(text)
        except json.JSONDecodeError:
            values = None
        if isinstance(values, list):
            return values
    values = [parse_value(v) for v in text.split(",") if v.strip()]
    if not values:
        raise ConfigError(f"a grid needs at least one value, got {text!r}")
    return values


def expand(grid: dict[str, list[Any]]) -> list[dict[str, Any]]:
    """Every combination of the grid's values, parameters in sorted order (deterministic)."""
    names = sorted(grid)
    return [dict(zip(names, combo, strict=True)) for combo in itertools.product(*(grid[n] for n in names))]


def is_better(metric: str, candidate: float, best: float | None) -> bool:
    """Whether ``candidate`` beats ``best`` on ``metric`` (NaN never wins)."""
    if candidate is None or math.isnan(candidate):
        return False
    if best is None or math.isnan(best):
        return True
    return candidate < best if lower_is_better(metric) else candidate > best


@dataclass
class Trial:
    params: dict[str, Any]
    score: float
    fit_seconds: float


def search(
    make: Callable[[dict[str, Any]], Algorithm],
    base_params: dict[str, Any],
    grid: dict[str, list[Any]],
    protocol: Protocol,
    validation: Split,
    k: int,
    select_by: str,
) -> tuple[dict[str, Any], list[Trial]]:
    """Fit ``make(params)`` for every grid candidate on ``validation`` and keep the best.

    Returns the chosen parameters (``base_params`` updated with the winning combination) and
    every trial, in order.
    """
    trials: list[Trial] = []
    best: Trial | None = None
    for combo in expand(grid):
        params = {**base_params, **combo}
        algorithm = make(params)
        start = time.perf_counter()
        algorithm.fit(validation.train)
        fit_seconds = time.perf_counter() - start
        outcome = protocol.evaluate(algorithm, validation, k)
        if select_by not in outcome.metrics:
            raise ConfigError(
                f"--select-by {select_by!r} is not measured by protocol {protocol.name} "
                f"(known: {', '.join(outcome.metrics)})"
            )
        trial = Trial(combo, outcome.metrics[select_by], fit_seconds)
        trials.append(trial)
        if best is None or is_better(select_by, trial.score, best.score):
            best = trial
    assert best is not None
    return {**base_params, **best.params}, trials
