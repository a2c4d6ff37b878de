"""What every command shares: reading a source, building a matrix, printing, errors.

The option types below are declared once and reused by every command that reads data, so
``--format``, ``--skip-bad-rows``, ``--team`` and the matrix options mean the same everywhere.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from teamrec.data.dataset import Dataset
from teamrec.data.matrix import InteractionMatrix, MatrixConfig
from teamrec.data.sources import FORMATS, read_source
from teamrec.errors import ConfigError
from teamrec.spec import TeamSpec, team_matrix

SourceArg = Annotated[Path, typer.Argument(help="a data file or folder, or a folder written by 'teamrec ingest'")]
FormatOpt = Annotated[
    str | None, typer.Option("--format", "-f", help=f"source format: {', '.join(sorted(FORMATS))}")
]
SkipBadOpt = Annotated[bool, typer.Option("--skip-bad-rows", help="skip and count bad rows instead of failing")]
TeamOpt = Annotated[str | None, typer.Option("--team", help="the team to use when the data holds several")]
JsonOpt = Annotated[bool, typer.Option("--json", help="print JSON instead of a table")]
ColumnsOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--column", help="column mapping for csv/jsonl/parquet, FIELD=COLUMN (user, item, value, timestamp, kind, team)"
    ),
]
KindsOpt = Annotated[
    list[str] | None, typer.Option("--kind", help="event kinds to use (repeatable); default per format")
]
AggOpt = Annotated[
    str | None, typer.Option("--agg", help="aggregate repeated (user, item) events: sum, max, count, last")
]
BinaryOpt = Annotated[
    bool | None,
    typer.Option(
        "--binary/--no-binary", help="every interaction counts 1 (--no-binary: keep the values; default per format)"
    ),
]
Log1pOpt = Annotated[
    bool | None,
    typer.Option("--log1p/--no-log1p", help="values become log(1 + x) (default: the format's; on for activity "
                 "counts of lastfm, and of slack-export with --no-binary)", show_default=False),
]
HalfLifeOpt = Annotated[float | None, typer.Option("--half-life", help="time decay half-life in days")]
MinValueOpt = Annotated[float | None, typer.Option("--min-value", help="drop entries below this value")]
MinUserOpt = Annotated[int, typer.Option("--min-user", help="keep users with at least N items")]
MinItemOpt = Annotated[int, typer.Option("--min-item", help="keep items with at least N users")]
KindWeightOpt = Annotated[
    list[str] | None, typer.Option("--kind-weight", help="multiply the values of one event kind, KIND=W (repeatable)")
]
KindValueOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--kind-value", help="give every event of a kind this value, KIND=V (repeatable; e.g. Deskdrop strengths)"
    ),
]


def read_dataset(
    source: Path, fmt: str | None, skip_bad_rows: bool = False, columns: list[str] | None = None
) -> Dataset:
    """Read a source, with a progress bar when stderr is a terminal."""
    options: dict[str, Any] = {}
    if columns:
        options["columns"] = parse_pairs(columns, "--column")
    if not sys.stderr.isatty():
        return read_source(source, fmt, skip_bad_rows=skip_bad_rows, **options)
    from rich.progress import BarColumn, DownloadColumn, Progress, TimeRemainingColumn

    with Progress("[progress.description]{task.description}", BarColumn(), DownloadColumn(),
                  TimeRemainingColumn(), transient=True) as bar:
        task = bar.add_task(f"reading {source.name}", total=None)

        def progress(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        return read_source(source, fmt, skip_bad_rows=skip_bad_rows, progress=progress, **options)


def parse_pairs(pairs: list[str], option: str) -> dict[str, str]:
    out = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise ConfigError(f"{option} takes KEY=VALUE, got {pair!r}")
        out[key.strip()] = value.strip()
    return out


def parse_floats(pairs: list[str] | None, option: str) -> dict[str, float]:
    """``KEY=NUMBER`` pairs as a dict; a clear error naming the option for a non-number."""
    out = {}
    for key, value in parse_pairs(pairs or [], option).items():
        try:
            out[key] = float(value)
        except ValueError:
            raise ConfigError(f"{option} {key}: not a number: {value!r}") from None
    return out


def matrix_overrides(
    kinds: list[str] | None = None,
    agg: str | None = None,
    binary: bool | None = None,
    log1p: bool | None = None,
    half_life: float | None = None,
    min_value: float | None = None,
    min_user: int = 0,
    min_item: int = 0,
    kind_weight: list[str] | None = None,
) -> dict[str, Any]:
    """The matrix options given on the command line, as a spec's ``matrix`` overrides (the
    source format's defaults apply to everything not given)."""
    overrides: dict[str, Any] = {}
    if kinds:
        overrides["kinds"] = tuple(kinds)
    if agg:
        overrides["agg"] = agg
    if binary is not None:
        overrides["binary"] = binary
    if log1p is not None:
        overrides["log1p"] = log1p
    if half_life is not None:
        overrides["half_life_days"] = half_life
    if min_value is not None:
        overrides["min_value"] = min_value
    if min_user:
        overrides["min_user_interactions"] = min_user
    if min_item:
        overrides["min_item_interactions"] = min_item
    weights = parse_floats(kind_weight, "--kind-weight")
    if weights:
        overrides["kind_weights"] = weights
    return overrides


#: The parameters every command that builds a team's matrix from a source declares (with
#: the option types above, under these names); :func:`team_spec` takes them as keywords.
MATRIX_OPTIONS = (
    "fmt", "team", "skip_bad_rows", "columns", "kinds", "agg", "binary", "log1p", "half_life",
    "min_value", "min_user", "min_item", "kind_value", "kind_weight",
)


def matrix_options(params: dict[str, Any]) -> dict[str, Any]:
    """A command's matrix options, picked by name from its parameters (its ``locals()``), so
    each command passes them on in one line and an option added here reaches them all."""
    return {name: params[name] for name in MATRIX_OPTIONS}


def team_spec(
    source: Path,
    *,
    fmt: str | None = None,
    team: str | None = None,
    skip_bad_rows: bool = False,
    columns: list[str] | None = None,
    kind_value: list[str] | None = None,
    algorithm: str = "item-knn",
    params: dict[str, Any] | None = None,
    **matrix: Any,
) -> TeamSpec:
    """The command line's :class:`~teamrec.spec.TeamSpec`: the same object the service's
    settings file gives per team (``matrix``: :func:`matrix_overrides`' keywords)."""
    options: dict[str, Any] = {}
    if columns:
        options["columns"] = parse_pairs(columns, "--column")
    try:
        return TeamSpec(
            source=str(source), format=fmt, source_team=team, options=options, skip_bad_rows=skip_bad_rows,
            kind_values=parse_floats(kind_value, "--kind-value"), matrix=matrix_overrides(**matrix),
            algorithm=algorithm, params=params or {},
        )
    except ValueError as exc:
        raise ConfigError(f"bad option: {exc}") from None


def read_spec(spec: TeamSpec) -> Dataset:
    """Read a spec's source (with a progress bar when stderr is a terminal): one team's data."""
    if not sys.stderr.isatty() or spec.source is None:
        return spec.read()
    from rich.progress import BarColumn, DownloadColumn, Progress, TimeRemainingColumn

    with Progress("[progress.description]{task.description}", BarColumn(), DownloadColumn(),
                  TimeRemainingColumn(), transient=True) as bar:
        task = bar.add_task(f"reading {Path(spec.source).name}", total=None)

        def progress(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        with_progress = spec.model_copy(update={"options": {**spec.options, "progress": progress}})
        return with_progress.read()


def read_matrix(source: Path, **options: Any) -> tuple[Dataset, MatrixConfig, InteractionMatrix]:
    """Read a source and build one team's matrix with the command-line options (``options``:
    :func:`team_spec`'s keywords): the data, the matrix settings used (the source format's
    defaults, as the reader names it, overridden) and the matrix."""
    spec = team_spec(source, **options)
    dataset = read_spec(spec)
    return dataset, spec.matrix_config(dataset.info.get("format")), team_matrix(spec, dataset)


def echo_json(obj: Any) -> None:
    typer.echo(json.dumps(obj, indent=2, default=_json_default))


def _json_default(obj: Any) -> Any:
    import numpy as np

    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")
