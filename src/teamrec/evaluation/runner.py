"""Run a protocol over several algorithms: fit on each training split, time, measure, compare.

:func:`evaluate` is the library form of ``teamrec evaluate``: for every split the protocol makes
(one, or one per fold) and every algorithm, it optionally runs the grid search on a validation
split carved from that split's training data, fits the (chosen) algorithm on the training
matrix, and measures it on the held-out cells. Metrics are averaged over splits;
``fit_seconds`` and ``predict_seconds`` are the mean wall time of one fit and of one pass over
a split's held-out data.

Algorithms with a ``seed`` or ``random_state`` parameter get the evaluation's seed unless it is
given explicitly, so a whole run is reproducible from ``--seed``.
"""

from __future__ import annotations

import functools
import logging
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from teamrec.algorithms.base import Algorithm
from teamrec.algorithms.registry import create, get_algorithm
from teamrec.data.dataset import Dataset
from teamrec.data.matrix import InteractionMatrix, MatrixConfig
from teamrec.errors import ConfigError
from teamrec.evaluation import grid as G
from teamrec.evaluation.protocols import EvalData, Protocol
from teamrec.evaluation.split import cell_ids, entry_rows

log = logging.getLogger(__name__)

_SEED_PARAMS = ("seed", "random_state")


@dataclass
class AlgorithmSpec:
    """One algorithm to evaluate: a ``label`` (unique in the run), the registry ``name``,
    fixed ``params`` and an optional ``grid`` (parameter -> values to try)."""

    name: str
    label: str | None = None
    params: dict[str, Any] = field(default_factory=dict)
    grid: dict[str, list[Any]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.label is None:
            self.label = self.name


@dataclass
class AlgorithmResult:
    """What one algorithm scored (means over splits) and what it cost."""

    label: str
    algorithm: str
    params: dict[str, Any]
    metrics: dict[str, float]
    fit_seconds: float
    predict_seconds: float
    curves: dict[str, dict[int, float]] = field(default_factory=dict)
    per_split: list[dict[str, float]] = field(default_factory=list)
    selected: list[dict[str, Any]] = field(default_factory=list)
    trials: list[list[dict[str, Any]]] = field(default_factory=list)
    grid_seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "label": self.label,
            "algorithm": self.algorithm,
            "params": self.params,
            "metrics": self.metrics,
            "fit_seconds": self.fit_seconds,
            "predict_seconds": self.predict_seconds,
        }
        if len(self.per_split) > 1:
            out["per_split"] = self.per_split
        if self.curves:
            out["curves"] = {m: {str(k): v for k, v in c.items()} for m, c in self.curves.items()}
        if self.selected:
            out["grid"] = {"selected": self.selected, "trials": self.trials, "seconds": self.grid_seconds}
        return out


@dataclass
class EvaluationResult:
    """A whole run: the protocol, its settings, the data's size and each algorithm's result."""

    protocol: str
    protocol_params: dict[str, Any]
    seed: int
    k: int
    metric_names: list[str]
    select_by: str
    results: list[AlgorithmResult]
    data: dict[str, Any] = field(default_factory=dict)
    baseline: str | None = None
    command: str | None = None

    def result(self, label: str) -> AlgorithmResult:
        for r in self.results:
            if r.label == label:
                return r
        raise ConfigError(f"no algorithm labelled {label!r} in this run")

    def best(self, metric: str | None = None) -> AlgorithmResult:
        """The algorithm that did best on ``metric`` (default: the selection metric)."""
        metric = metric or self.select_by
        best = None
        for r in self.results:
            if best is None or G.is_better(metric, r.metrics.get(metric, float("nan")), best.metrics.get(metric)):
                best = r
        assert best is not None
        return best

    def changes(self) -> dict[str, dict[str, float]]:
        """Relative change of every metric against the baseline: ``(m - m_base) / m_base``.

        For an error metric a negative change is a reduction (``-0.35`` = 35 % lower RMSE).
        """
        if self.baseline is None:
            return {}
        base = self.result(self.baseline).metrics
        out = {}
        for r in self.results:
            if r.label == self.baseline:
                continue
            out[r.label] = {
                m: (v - base[m]) / base[m] if base.get(m) else float("nan")
                for m, v in r.metrics.items()
                if m in base
            }
        return out

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "protocol": self.protocol,
            "protocol_params": self.protocol_params,
            "seed": self.seed,
            "k": self.k,
            "metrics": self.metric_names,
            "select_by": self.select_by,
            "data": self.data,
            "results": [r.to_dict() for r in self.results],
            "best": self.best().label,
        }
        if self.baseline is not None:
            out["baseline"] = self.baseline
            out["changes"] = self.changes()
        if self.command:
            out["command"] = self.command
        return out


def _instantiate(name: str, params: dict[str, Any], seed: int) -> Algorithm:
    klass = get_algorithm(name)
    params = dict(params)
    fields = getattr(klass.Config, "model_fields", {})
    for key in _SEED_PARAMS:
        if key in fields and key not in params:
            params[key] = seed
    return create(name, params)


def evaluate(
    data: EvalData,
    protocol: Protocol,
    algorithms: list[AlgorithmSpec],
    *,
    k: int = 10,
    seed: int = 0,
    select_by: str | None = None,
    baseline: str | None = None,
    info: dict[str, Any] | None = None,
) -> EvaluationResult:
    """Evaluate every algorithm under ``protocol`` (see the module docstring)."""
    if not algorithms:
        raise ConfigError("name at least one algorithm")
    if k < 1:
        raise ConfigError(f"k must be at least 1, got {k}")
    labels = [spec.label or spec.name for spec in algorithms]  # __post_init__ set every label
    if len(set(labels)) != len(labels):
        raise ConfigError(f"algorithm labels must be unique, got {labels}; label them as LABEL=NAME")
    if baseline is not None and baseline not in labels:
        raise ConfigError(f"--baseline {baseline!r} is not one of the algorithms ({', '.join(labels)})")
    for spec in algorithms:
        protocol.check(get_algorithm(spec.name))
        _instantiate(spec.name, spec.params, seed)  # parameters are checked before any work
        for combo in G.expand(spec.grid) if spec.grid else []:
            _instantiate(spec.name, {**spec.params, **combo}, seed)
    names = protocol.metric_names(k)
    select_by = select_by or protocol.default_metric(k)
    if select_by not in names:
        raise ConfigError(f"--select-by {select_by!r} is not measured by {protocol.name} (known: {', '.join(names)})")

    splits = protocol.splits(data, seed)
    results = []
    for spec in algorithms:
        per_split, fit_times, predict_times, selected, trials = [], [], [], [], []
        curves_sum: dict[str, dict[int, float]] = {}
        grid_seconds = 0.0
        for index, split in enumerate(splits):
            params = dict(spec.params)
            if spec.grid:
                start = time.perf_counter()
                validation = protocol.validation(split, seed, index)
                params, tried = G.search(
                    functools.partial(_instantiate, spec.name, seed=seed), spec.params, spec.grid,
                    protocol, validation, k, select_by,
                )
                grid_seconds += time.perf_counter() - start
                selected.append({key: params[key] for key in spec.grid})
                trials.append([{"params": t.params, select_by: t.score} for t in tried])
            algorithm = _instantiate(spec.name, params, seed)
            start = time.perf_counter()
            algorithm.fit(split.train)
            fit_times.append(time.perf_counter() - start)
            outcome = protocol.evaluate(algorithm, split, k)
            predict_times.append(outcome.predict_seconds)
            per_split.append(outcome.metrics)
            for metric, curve in outcome.curves.items():
                target = curves_sum.setdefault(metric, {})
                for at, value in curve.items():
                    target[at] = target.get(at, 0.0) + value / len(splits)
            log.info("%s on %s: %s", spec.label, split.name, outcome.metrics)
        metrics = {m: float(np.mean([p[m] for p in per_split])) for m in per_split[0]}
        shown = dict(spec.params)
        if len(selected) == 1:
            shown.update(selected[0])
        results.append(
            AlgorithmResult(
                label=spec.label or spec.name, algorithm=spec.name, params=shown, metrics=metrics,
                fit_seconds=float(np.mean(fit_times)), predict_seconds=float(np.mean(predict_times)),
                curves=curves_sum, per_split=per_split if len(per_split) > 1 else [],
                selected=selected, trials=trials, grid_seconds=grid_seconds,
            )
        )
    summary = {
        "users": int(data.matrix.shape[0]),
        "items": int(data.matrix.shape[1]),
        "entries": int(data.matrix.nnz),
        "splits": len(splits),
        "test_cells": int(np.mean([s.n_test for s in splits])),
        **(info or {}),
    }
    return EvaluationResult(
        protocol=protocol.name, protocol_params=protocol.params(), seed=seed, k=k, metric_names=names,
        select_by=select_by, results=results, data=summary, baseline=baseline,
    )


def eval_data(dataset: Dataset, matrix: InteractionMatrix, config: MatrixConfig | None = None) -> EvalData:
    """The matrix plus, per entry, the latest timestamp of its events (for ``temporal``).

    Only the team's events of the kinds the matrix was built from count.
    """
    events = dataset.events[dataset.events["team"].to_numpy() == matrix.team]
    if config is not None and config.kinds is not None:
        events = events[events["kind"].isin(config.kinds).to_numpy()]
    X = sp.csr_matrix(matrix.matrix, dtype=np.float64)
    X.sort_indices()
    rows = matrix.users.lookup(events["user"].to_numpy(), missing="ignore")
    cols = matrix.items.lookup(events["item"].to_numpy(), missing="ignore")
    ok = (rows >= 0) & (cols >= 0)
    stamps = events["timestamp"].to_numpy(dtype=np.float64)[ok]
    cells = cell_ids(rows[ok], cols[ok], X.shape[1])
    latest = pd.Series(stamps).groupby(cells).max()  # NaN only when every stamp is NaN
    entry_cells = cell_ids(entry_rows(X), X.indices, X.shape[1])
    times = latest.reindex(entry_cells).to_numpy(dtype=np.float64)
    T = sp.csr_matrix((times, X.indices.copy(), X.indptr.copy()), shape=X.shape)
    return EvalData(matrix=X, times=T)


__all__ = [
    "AlgorithmResult",
    "AlgorithmSpec",
    "EvaluationResult",
    "eval_data",
    "evaluate",
]
