"""What every batch engine shares: the spec, the per-team function, the output layout.

**The spec.** One :class:`~teamrec.spec.TeamSpec` for every team, and optional
per-team overrides, read from a TOML or JSON file::

    [default]                 # any TeamSpec field: algorithm, params, matrix
    algorithm = "item-knn"
    params = { neighbors = 50 }
    matrix = { kinds = ["read", "write"], kind_weights = { read = 1.0, write = 5.0 }, log1p = true }

    [teams.t0042]             # keys given here replace the default's; params are inherited
    algorithm = "ease"        # only when the algorithm stays the same
    params = { regularization = 200.0 }

**The per-team function.** :func:`run_team` takes one team's events and returns its
top-``k`` recommendations, similar items and people like each person, fitted with
:func:`teamrec.pipeline.fit_team` (the same team builder as the CLI and the service) inside a
thread limit, so engines running several teams at once do not oversubscribe the cores.

**The output layout** (Parquet datasets partitioned by team, readable by any Parquet reader)::

    OUT/recommendations/team=T/...   team, user, rank, item, score, fallback (popularity fill)
    OUT/similar_items/team=T/...     team, item, rank, similar, score
    OUT/similar_users/team=T/...     team, user, rank, similar, score
    OUT/models/team=T/               the team's TeamModel (TeamModel.load)
    OUT/_batch.json                  engine, spec, teams, rows and seconds

Private items never appear in similar-item lists, neither as the query nor as an answer (a
batch list has no viewer: :func:`teamrec.pipeline.similar_items_frame`, the one computation of
these lists); recommendations hide them from non-members (``recommend_many``).
"""

from __future__ import annotations

import json
import logging
import os
import re
import time
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import threadpoolctl
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from teamrec.algorithms.registry import create
from teamrec.data.events import normalize_events
from teamrec.errors import ConfigError, DataError, TeamrecError
from teamrec.pipeline import fit_team, similar_items_frame, similar_people_frame
from teamrec.recommender import TeamModel
from teamrec.spec import TeamSpec

log = logging.getLogger(__name__)

#: The three tables a batch writes, and their columns.
OUTPUTS: dict[str, tuple[str, ...]] = {
    "recommendations": ("team", "user", "rank", "item", "score", "fallback"),
    "similar_items": ("team", "item", "rank", "similar", "score"),
    "similar_users": ("team", "user", "rank", "similar", "score"),
}
_TYPES = {"rank": pa.int32(), "score": pa.float64(), "fallback": pa.bool_()}
SCHEMAS: dict[str, pa.Schema] = {
    name: pa.schema([(c, _TYPES.get(c, pa.string())) for c in cols])
    for name, cols in OUTPUTS.items()
}
#: Environment variables that bound the native thread pools of a worker process.
THREAD_ENV = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "BLIS_NUM_THREADS")

_TEAM_DIR = re.compile(r"^team=(.+)$")


class BatchSpec(BaseModel):
    """One team config for all teams, plus per-team overrides (validated on load)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    default: TeamSpec = Field(default_factory=TeamSpec)
    teams: dict[str, dict[str, Any]] = Field(default_factory=dict)

    def for_team(self, team: str) -> TeamSpec:
        """The config of ``team``: the default with the team's overrides."""
        override = self.teams.get(team)
        if not override:
            return self.default
        merged = self.default.model_dump()
        if "algorithm" in override and override["algorithm"] != self.default.algorithm and "params" not in override:
            merged["params"] = {}
        merged.update(override)
        try:
            return TeamSpec.model_validate(merged)
        except ValidationError as exc:
            raise ConfigError(f"spec for team {team!r}: {exc.errors()[0]['msg']}") from None


def load_spec(path: str | os.PathLike[str] | None) -> BatchSpec:
    """Read a spec file (``.toml`` or ``.json``); no path gives the default spec."""
    if path is None:
        return BatchSpec()
    p = Path(path)
    try:
        text = p.read_text()
    except OSError as exc:
        raise ConfigError(f"cannot read the spec: {exc.strerror}") from None
    try:
        raw = json.loads(text) if p.suffix == ".json" else tomllib.loads(text)
    except (json.JSONDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{p}: not valid {'JSON' if p.suffix == '.json' else 'TOML'}: {exc}") from None
    try:
        spec = BatchSpec.model_validate(raw)
    except ValidationError as exc:
        err = exc.errors()[0]
        raise ConfigError(f"{p}: {'.'.join(map(str, err['loc']))}: {err['msg']}") from None
    # Every team's algorithm and parameters validate now, not halfway through the job.
    for team, config in [("default", spec.default)] + [(t, spec.for_team(t)) for t in spec.teams]:
        try:
            create(config.algorithm, config.params)
            config.matrix_config()
        except TeamrecError as exc:
            raise ConfigError(f"{p}: {'[default]' if team == 'default' else f'[teams.{team}]'}: {exc}") from None
    return spec


# -- the per-team function -------------------------------------------------------------------
@dataclass
class TeamOutputs:
    """What :func:`run_team` returns for one team."""

    team: str
    recommendations: pd.DataFrame
    similar_items: pd.DataFrame
    similar_users: pd.DataFrame
    model: TeamModel
    seconds: float

    def tables(self) -> dict[str, pd.DataFrame]:
        return {name: getattr(self, name) for name in OUTPUTS}


#: Algorithm parameters that set an algorithm's own thread count (k-NN's similarity blocks,
#: implicit's ALS/BPR); 0 means one per core, which oversubscribes when tasks run side by side.
THREAD_PARAMS = ("threads", "num_threads")


def bounded(config: TeamSpec, threads: int) -> TeamSpec:
    """``config`` with the algorithm's own thread count set to ``threads`` unless the spec sets it."""
    params = create(config.algorithm).get_params()
    extra = {p: threads for p in THREAD_PARAMS if p in params and p not in config.params}
    return config.model_copy(update={"params": {**config.params, **extra}}) if extra else config


def run_team(
    events: pd.DataFrame,
    config: TeamSpec,
    *,
    k: int = 10,
    threads: int = 1,
    items: pd.DataFrame | None = None,
    users: pd.DataFrame | None = None,
) -> TeamOutputs:
    """Fit one team (its events only) and compute its three output tables.

    Runs with at most ``threads`` BLAS/OpenMP threads, whatever the engine.
    """
    start = time.perf_counter()
    with threadpoolctl.threadpool_limits(threads):
        model = fit_team(events, bounded(config, threads), items=items, users=users)
        recs = model.recommend_many(k=k)
        recs["rank"] = recs["rank"].astype(np.int32)
        similar_items = similar_items_frame(model, k, threads=threads)
        similar_users = similar_people_frame(model, k, threads=threads)
    return TeamOutputs(model.team, recs, similar_items, similar_users, model, time.perf_counter() - start)


# -- memory of a task ------------------------------------------------------------------------
def reset_peak_memory() -> None:
    """Start measuring a task's peak memory afresh (Linux: resets the process's VmHWM)."""
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
    except OSError:  # not Linux, or not allowed: the process-wide peak is reported instead
        pass


def peak_memory_mb() -> float:
    """Peak resident memory since :func:`reset_peak_memory` (MB).

    Not ``getrusage``'s ``ru_maxrss``: Linux keeps that across ``exec``, so a spawned worker
    would report its parent's peak (a benchmark holding ten million generated events)."""
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


# -- reading the input -------------------------------------------------------------------------
def team_partitions(source: Path) -> dict[str, Path] | None:
    """``team -> folder`` when ``source`` is a Parquet dataset partitioned by team (hive style)."""
    if not source.is_dir():
        return None
    found = {}
    for child in sorted(source.iterdir()):
        match = _TEAM_DIR.match(child.name)
        if match and child.is_dir():
            found[match.group(1)] = child
    return found or None


def read_partition(team: str, folder: Path) -> pd.DataFrame:
    """One team's events from its partition folder, in the project's schema."""
    files = sorted(p for p in folder.rglob("*") if p.is_file() and not p.name.startswith(("_", ".")))
    try:
        table = pa.concat_tables([pq.read_table(f, partitioning=None) for f in files]) if files else None
    except (pa.ArrowInvalid, OSError) as exc:
        raise DataError(f"not a readable Parquet partition: {exc}", file=str(folder)) from None
    if table is None:
        raise DataError("an empty team partition", file=str(folder))
    # Dictionary-encoded ids (what the generator and Spark write) become plain strings in Arrow.
    for i, field in enumerate(table.schema):
        if pa.types.is_dictionary(field.type):
            table = table.set_column(i, field.name, table.column(i).cast(field.type.value_type))
    frame = table.to_pandas()
    frame["team"] = team
    return normalize_events(frame, source=str(folder))


def iter_teams(
    source: str | os.PathLike[str], fmt: str | None = None, **options: Any
) -> Iterator[tuple[str, pd.DataFrame, pd.DataFrame | None, pd.DataFrame | None]]:
    """``(team, events, items, users)`` for every team of ``source``, one team in memory at a
    time for a partitioned Parquet dataset; any other source goes through teamrec's readers."""
    path = Path(source)
    parts = team_partitions(path) if fmt in (None, "parquet") else None
    if parts:
        for team, folder in parts.items():
            yield team, read_partition(team, folder), None, None
        return
    from teamrec.data.sources import read_source

    dataset = read_source(path, fmt, **options)
    # One grouping pass per table, not one scan of every table per team.
    events = dataset.events.groupby("team", sort=True).indices
    items = dataset.items.groupby("team").indices
    users = dataset.users.groupby("team").indices
    for team, rows in events.items():  # a team with metadata but no events has nothing to fit
        yield (
            str(team),
            dataset.events.iloc[rows].reset_index(drop=True),
            dataset.items.iloc[items.get(team, [])].reset_index(drop=True),
            dataset.users.iloc[users.get(team, [])].reset_index(drop=True),
        )


# -- writing the output ------------------------------------------------------------------------
def write_team(out: Path, outputs: TeamOutputs, *, models: bool = True) -> None:
    """Write one team's tables (and model) into the output layout."""
    for name, frame in outputs.tables().items():
        folder = out / name / f"team={outputs.team}"
        folder.mkdir(parents=True, exist_ok=True)
        table = pa.Table.from_pandas(frame.drop(columns="team"), schema=SCHEMAS[name].remove(0), preserve_index=False)
        pq.write_table(table, folder / "part-0.parquet")
    if models:
        outputs.model.save(out / "models" / f"team={outputs.team}")


def write_manifest(out: Path, *, engine: str, k: int, spec: BatchSpec, per_team: list[dict[str, Any]],
                   started: float, **extra: Any) -> dict[str, Any]:
    """Write the batch's ``_batch.json`` and return it: the engine (and what ``extra`` says
    of it), the spec, the totals over ``per_team`` and the seconds since ``started``
    (``time.perf_counter``); one layout for every engine."""
    manifest = {
        "engine": engine, **extra, "k": k, "spec": spec.model_dump(mode="json"),
        "teams": len(per_team), "events": sum(r["events"] for r in per_team),
        "seconds": round(time.perf_counter() - started, 3), "per_team": per_team,
    }
    out.mkdir(parents=True, exist_ok=True)
    (out / "_batch.json").write_text(json.dumps(manifest, indent=1, default=str))
    return manifest


def read_output(out: str | os.PathLike[str], name: str, teams: list[str] | None = None) -> pd.DataFrame:
    """One output table of a batch (all teams, or ``teams``), sorted, with plain string ids."""
    import pyarrow.dataset as ds

    if name not in OUTPUTS:
        raise ConfigError(f"unknown batch output {name!r}; known: {', '.join(OUTPUTS)}")
    folder = Path(out) / name
    if not folder.is_dir():
        raise DataError(f"no {name} in this batch output", file=str(out))
    dataset = ds.dataset(folder, format="parquet", partitioning=ds.partitioning(pa.schema([("team", pa.string())]),
                                                                                flavor="hive"))
    table = dataset.to_table(filter=None if teams is None else ds.field("team").isin(teams))
    frame = table.to_pandas()
    for col in OUTPUTS[name]:
        if col in ("team", "user", "item", "similar"):
            frame[col] = frame[col].astype(str).astype(object)
    cols = list(OUTPUTS[name])
    frame = frame[cols].astype({"rank": np.int32})
    return frame.sort_values(cols[:3], kind="stable").reset_index(drop=True)
