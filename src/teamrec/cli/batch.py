"""``teamrec batch``: fit every team of a multi-team event table, write what it serves."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from teamrec.cli._common import ColumnsOpt, FormatOpt, JsonOpt, echo_json, parse_pairs


class Engine(StrEnum):
    local = "local"
    spark = "spark"


def batch(
    events: Annotated[Path, typer.Argument(help="events: a Parquet dataset partitioned by team, or any source")],
    out: Annotated[Path, typer.Option("--out", "-o", help="folder to write (Parquet per output, models)")],
    engine: Annotated[Engine, typer.Option("--engine", help="where the teams are fitted")] = Engine.local,
    master: Annotated[str, typer.Option("--master", help="Spark master URL (spark engine)")] = "local[2]",
    spec_file: Annotated[
        Path | None, typer.Option("--spec", help="TOML/JSON spec: [default] config and [teams.T] overrides")
    ] = None,
    algorithm: Annotated[str | None, typer.Option("--algorithm", "-a", help="algorithm for every team")] = None,
    k: Annotated[int, typer.Option("--k", min=1, help="how many recommendations/similar per row")] = 10,
    workers: Annotated[
        int | None, typer.Option("--workers", min=1, help="local engine: processes (default: cores)")
    ] = None,
    partitions: Annotated[int, typer.Option("--partitions", min=1, help="spark engine: shuffle partitions")] = 16,
    models: Annotated[bool, typer.Option("--models/--no-models", help="save each team's model")] = True,
    fmt: FormatOpt = None,
    columns: ColumnsOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Fit every team and write per-team recommendations, similar items and people like you."""
    from teamrec.batch.job import load_spec

    spec = load_spec(spec_file)
    if algorithm is not None:
        spec = spec.model_copy(update={"default": spec.default.model_copy(update={"algorithm": algorithm,
                                                                                  "params": {}})})
    options = {"columns": parse_pairs(columns, "--column")} if columns else {}
    if engine is Engine.spark:
        from teamrec.batch.spark import run_spark

        manifest = run_spark(events, out, spec, k=k, master=master, partitions=partitions, models=models,
                             fmt=fmt, **options)
    else:
        from teamrec.batch.local import run_local

        manifest = run_local(events, out, spec, k=k, workers=workers, models=models, fmt=fmt, **options)
    summary = {key: manifest[key] for key in ("engine", "teams", "events", "seconds")}
    summary["out"] = str(out)
    if as_json:
        echo_json(summary)
    else:
        typer.echo(f"{summary['engine']}: fitted {summary['teams']} teams ({summary['events']} events) "
                   f"in {summary['seconds']:.1f} s; wrote {out}")


def register(app: typer.Typer) -> None:
    app.command()(batch)
