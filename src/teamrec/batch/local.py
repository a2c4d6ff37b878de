"""The local batch engine: every team through :func:`~teamrec.batch.job.run_team`, in a pool
of worker processes on this machine (one per core by default), each bounded to one thread.

A partitioned Parquet input is read team by team inside the workers, so memory holds one team
per worker, however many teams there are; any other source is read once by the teamrec reader
and its teams are handed to the workers.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import pandas as pd

from teamrec.batch.job import (
    BatchSpec,
    iter_teams,
    peak_memory_mb,
    read_partition,
    reset_peak_memory,
    run_team,
    team_partitions,
    write_manifest,
    write_team,
)

log = logging.getLogger(__name__)


def _one_team(
    team: str,
    events: pd.DataFrame | Path,
    spec: BatchSpec,
    out: Path,
    k: int,
    models: bool,
    items: pd.DataFrame | None = None,
    users: pd.DataFrame | None = None,
) -> dict[str, Any]:
    start = time.perf_counter()
    reset_peak_memory()
    frame = read_partition(team, events) if isinstance(events, Path) else events
    outputs = run_team(frame, spec.for_team(team), k=k, threads=1, items=items, users=users)
    write_team(out, outputs, models=models)
    return {
        "team": team, "events": len(frame), "fit_seconds": round(outputs.seconds, 4),
        "seconds": round(time.perf_counter() - start, 4), "peak_rss_mb": round(peak_memory_mb(), 1),
        "rows": {name: len(t) for name, t in outputs.tables().items()},
    }


def _limit_threads() -> None:
    """Worker initialiser: one native thread per worker process."""
    import threadpoolctl

    threadpoolctl.threadpool_limits(1)


def run_local(
    source: str | os.PathLike[str],
    out: str | os.PathLike[str],
    spec: BatchSpec | None = None,
    *,
    k: int = 10,
    workers: int | None = None,
    models: bool = True,
    fmt: str | None = None,
    **options: Any,
) -> dict[str, Any]:
    """Fit every team of ``source`` and write the batch output to ``out``; returns the manifest."""
    spec = spec or BatchSpec()
    out = Path(out)
    workers = max(1, workers or os.cpu_count() or 1)
    start = time.perf_counter()
    parts = team_partitions(Path(source)) if fmt in (None, "parquet") else None
    if parts:
        jobs = [(team, folder, None, None) for team, folder in parts.items()]
    else:
        jobs = list(iter_teams(source, fmt, **options))
    results: list[dict[str, Any]] = []
    if workers == 1:
        _limit_threads()
        results = [_one_team(t, e, spec, out, k, models, i, u) for t, e, i, u in jobs]
    else:
        # spawn, not fork: the parent may hold BLAS threads, which do not survive a fork.
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(workers, mp_context=context, initializer=_limit_threads) as pool:
            futures = [pool.submit(_one_team, t, e, spec, out, k, models, i, u) for t, e, i, u in jobs]
            results = [f.result() for f in futures]
    return write_manifest(out, engine="local", workers=workers, k=k, spec=spec, per_team=results, started=start)
