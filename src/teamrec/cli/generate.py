"""``teamrec generate``: a deterministic multi-team workload as a Parquet dataset."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer

from teamrec.cli._common import JsonOpt, echo_json
from teamrec.data.generate import generate_workload, write_workload


def generate(
    teams: Annotated[int, typer.Option("--teams", min=1, help="how many teams")] = 100,
    events: Annotated[int, typer.Option("--events", min=1, help="how many events in all")] = 1_000_000,
    seed: Annotated[int, typer.Option("--seed", help="random seed (same seed, same files)")] = 0,
    out: Annotated[Path, typer.Option("--out", "-o", help="folder to write (Parquet partitioned by team)")] = Path(
        "workload"
    ),
    as_json: JsonOpt = False,
) -> None:
    """Generate read/write logs for many teams (long-tailed sizes, communities of channels)."""
    start = time.perf_counter()
    workload = generate_workload(teams, events, seed)
    write_workload(workload, out)
    sizes = workload.teams["events"]
    summary = {
        "out": str(out), "teams": teams, "events": int(workload.events.num_rows), "seed": seed,
        "team_events_min": int(sizes.min()), "team_events_median": float(sizes.median()),
        "team_events_max": int(sizes.max()), "seconds": round(time.perf_counter() - start, 2),
    }
    if as_json:
        echo_json(summary)
    else:
        typer.echo(
            f"wrote {summary['events']} events of {teams} teams to {out} in {summary['seconds']} s "
            f"(events per team: min {summary['team_events_min']}, median {summary['team_events_median']:.0f}, "
            f"max {summary['team_events_max']})"
        )


def register(app: typer.Typer) -> None:
    app.command()(generate)
