"""``teamrec stats`` and ``teamrec ingest``: look at a source, or store it as Parquet once."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from teamrec.cli._common import (
    ColumnsOpt,
    FormatOpt,
    JsonOpt,
    SkipBadOpt,
    SourceArg,
    echo_json,
    read_dataset,
)


def stats(source: SourceArg, fmt: FormatOpt = None, skip_bad_rows: SkipBadOpt = False,
          columns: ColumnsOpt = None, as_json: JsonOpt = False) -> None:
    """Users, items, events and density of a source, per team."""
    dataset = read_dataset(source, fmt, skip_bad_rows, columns)
    result = dataset.stats()
    if as_json:
        echo_json(result)
        return
    table = Table(title=f"{source} ({result['format']})")
    for col in ("team", "users", "items", "events", "pairs", "density"):
        table.add_column(col, justify="right" if col != "team" else "left")
    for team, row in result["per_team"].items():
        table.add_row(team, str(row["users"]), str(row["items"]), str(row["events"]),
                      str(row["pairs"]), f"{row['density']:.4%}")
    console = Console()
    console.print(table)
    console.print(
        f"events read: {result['events']}, kept: {result['events_kept']}, "
        f"duplicates dropped: {result['duplicates_dropped']}, bad rows skipped: {result['rows_skipped']}"
    )
    if result["reader"]:
        console.print("reader: " + ", ".join(f"{k.replace('_', ' ')}: {v}" for k, v in result["reader"].items()))


def ingest(source: SourceArg,
           out: Annotated[Path, typer.Option("--out", "-o", help="folder to write (Parquet + JSON)")],
           fmt: FormatOpt = None, skip_bad_rows: SkipBadOpt = False, columns: ColumnsOpt = None,
           as_json: JsonOpt = False) -> None:
    """Read a source once and store its events and metadata as Parquet in --out."""
    dataset = read_dataset(source, fmt, skip_bad_rows, columns)
    dataset.save(out)
    summary = {"out": str(out), "events": int(len(dataset.events)), "items": int(len(dataset.items)),
               "users": int(len(dataset.users)), "rows_skipped": int(dataset.info.get("rows_skipped", 0))}
    if as_json:
        echo_json(summary)
    else:
        typer.echo(f"wrote {summary['events']} events, {summary['items']} items, {summary['users']} users to {out}")


def register(app: typer.Typer) -> None:
    app.command()(stats)
    app.command()(ingest)
