"""``teamrec similar``, ``recommend``, ``people`` and ``train``: the person-facing questions.

Each question command takes a data source (``SOURCE --format F`` plus the matrix options) and
fits ``--algorithm`` on it, or reuses a model saved by ``teamrec train`` with
``--model-dir DIR`` instead of a source. People and items are given by id or by name
(``#channel``, a person's name or handle). The answer prints as a table, or with ``--json``
as a list of ``{id, name, score, reason}``. An unknown person or item is an error (exit 2).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from teamrec.algorithms.auto import Auto, choice_of
from teamrec.cli._common import (
    AggOpt,
    BinaryOpt,
    ColumnsOpt,
    FormatOpt,
    HalfLifeOpt,
    JsonOpt,
    KindsOpt,
    KindValueOpt,
    KindWeightOpt,
    Log1pOpt,
    MinItemOpt,
    MinUserOpt,
    MinValueOpt,
    SkipBadOpt,
    TeamOpt,
    echo_json,
    matrix_options,
    parse_pairs,
    read_spec,
    team_spec,
)
from teamrec.errors import ConfigError
from teamrec.recommender import Result, TeamModel
from teamrec.spec import build_team

DEFAULT_ALGORITHM = "auto"

SourceOrKeyArg = Annotated[
    str | None, typer.Argument(metavar="SOURCE", help="a data source (omit it with --model-dir)", show_default=False)
]
ModelDirOpt = Annotated[
    Path | None, typer.Option("--model-dir", help="a model folder written by 'teamrec train', instead of SOURCE")
]
AlgorithmOpt = Annotated[
    str | None,
    typer.Option("--algorithm", "-a", help=f"algorithm name from the registry (default {DEFAULT_ALGORITHM})"),
]
ParamOpt = Annotated[
    list[str] | None,
    typer.Option("--param", "-p", help="algorithm parameter NAME=VALUE (repeatable; VALUE is JSON when it parses)"),
]
#: The most results one command may ask for (a typo such as -k 1000000000000 is a usage error,
#: not an attempt to allocate terabytes).
MAX_K = 100_000
TopOpt = Annotated[int, typer.Option("-k", min=1, max=MAX_K, help="how many results")]


def parse_params(pairs: list[str] | None) -> dict[str, Any]:
    """``NAME=VALUE`` pairs as a dict; values are JSON when they parse (``20``, ``null``,
    ``true``), else the plain string (``jaccard``)."""
    out: dict[str, Any] = {}
    for key, raw in parse_pairs(pairs or [], "--param").items():
        try:
            out[key] = json.loads(raw)
        except json.JSONDecodeError:
            out[key] = raw
    return out


def _split_args(source: str | None, key: str | None, model_dir: Path | None, what: str) -> tuple[Path | None, str]:
    """``SOURCE KEY``, or just ``KEY`` with ``--model-dir``."""
    if model_dir is not None:
        if key is not None:
            raise ConfigError("give SOURCE or --model-dir, not both")
        if source is None:
            raise ConfigError(f"missing {what}")
        return None, source
    if source is None or key is None:
        raise ConfigError(f"give SOURCE and {what} (or --model-dir DIR and {what})")
    return Path(source), key


def load_team_model(
    source: Path | None,
    model_dir: Path | None,
    *,
    algorithm: str | None,
    params: list[str] | None,
    **matrix: Any,
) -> TeamModel:
    """A saved model, or one built now by the one team builder from the command line's spec
    (``matrix``: :func:`~teamrec.cli._common.team_spec`'s keywords)."""
    if model_dir is not None:
        if algorithm is not None or params:
            raise ConfigError("--algorithm and --param apply when fitting on SOURCE; a saved model has its own")
        return TeamModel.load(model_dir)
    assert source is not None
    spec = team_spec(source, algorithm=algorithm or DEFAULT_ALGORITHM, params=parse_params(params), **matrix)
    model = build_team(spec, dataset=read_spec(spec))
    if isinstance(model.algorithm, Auto):  # say what was chosen (stderr: --json output stays parseable)
        typer.echo(model.algorithm.describe(), err=True)
    return model


def _print(results: list[Result], title: str, as_json: bool) -> None:
    if as_json:
        echo_json([{"id": r.id, "name": r.name, "score": r.score, "reason": r.reason} for r in results])
        return
    table = Table(title=title)
    for column, justify in (("#", "right"), ("name", "left"), ("id", "left"), ("score", "right"), ("reason", "left")):
        table.add_column(column, justify=justify)  # type: ignore[arg-type]
    for rank, r in enumerate(results, 1):
        table.add_row(str(rank), r.name, r.id, f"{r.score:.4g}", r.reason or "")
    console = Console()
    console.print(table)
    if not results:
        console.print("nothing to show")


def similar(
    source: SourceOrKeyArg = None,
    item: Annotated[
        str | None, typer.Argument(metavar="ITEM", help="the item: id or name (#channel)", show_default=False)
    ] = None,
    viewer: Annotated[
        str | None, typer.Option("--as", help="the person asking (shows private items they are in)")
    ] = None,
    model_dir: ModelDirOpt = None,
    fmt: FormatOpt = None,
    algorithm: AlgorithmOpt = None,
    param: ParamOpt = None,
    k: TopOpt = 10,
    as_json: JsonOpt = False,
    team: TeamOpt = None,
    skip_bad_rows: SkipBadOpt = False,
    columns: ColumnsOpt = None,
    kinds: KindsOpt = None,
    agg: AggOpt = None,
    binary: BinaryOpt = None,
    log1p: Log1pOpt = None,
    half_life: HalfLifeOpt = None,
    min_value: MinValueOpt = None,
    min_user: MinUserOpt = 0,
    min_item: MinItemOpt = 0,
    kind_value: KindValueOpt = None,
    kind_weight: KindWeightOpt = None,
) -> None:
    """Items like ITEM ("channels like #machine-learning"), never ITEM itself."""
    path, key = _split_args(source, item, model_dir, "ITEM")
    model = load_team_model(path, model_dir, algorithm=algorithm, params=param,
                            **matrix_options(locals()))
    results = model.similar_items(key, k, viewer=viewer)
    name = model.data.item_names(model.data.find_item(key))
    _print(results, f"like {name}", as_json)


def recommend(
    source: SourceOrKeyArg = None,
    user: Annotated[
        str | None, typer.Argument(metavar="USER", help="the person: id, name or handle", show_default=False)
    ] = None,
    model_dir: ModelDirOpt = None,
    fmt: FormatOpt = None,
    algorithm: AlgorithmOpt = None,
    param: ParamOpt = None,
    k: TopOpt = 10,
    as_json: JsonOpt = False,
    team: TeamOpt = None,
    skip_bad_rows: SkipBadOpt = False,
    columns: ColumnsOpt = None,
    kinds: KindsOpt = None,
    agg: AggOpt = None,
    binary: BinaryOpt = None,
    log1p: Log1pOpt = None,
    half_life: HalfLifeOpt = None,
    min_value: MinValueOpt = None,
    min_user: MinUserOpt = 0,
    min_item: MinItemOpt = 0,
    kind_value: KindValueOpt = None,
    kind_weight: KindWeightOpt = None,
) -> None:
    """Items for USER, best first, each with the reason behind it."""
    path, key = _split_args(source, user, model_dir, "USER")
    model = load_team_model(path, model_dir, algorithm=algorithm, params=param,
                            **matrix_options(locals()))
    u = model.data.find_user(key)  # a typo is an error here, not a popularity list
    results = model.recommend(key, k, explain=True)
    _print(results, f"for {model.data.user_names(u)}", as_json)


def people(
    source: SourceOrKeyArg = None,
    user: Annotated[
        str | None, typer.Argument(metavar="USER", help="the person: id, name or handle", show_default=False)
    ] = None,
    model_dir: ModelDirOpt = None,
    fmt: FormatOpt = None,
    algorithm: AlgorithmOpt = None,
    param: ParamOpt = None,
    k: TopOpt = 10,
    as_json: JsonOpt = False,
    team: TeamOpt = None,
    skip_bad_rows: SkipBadOpt = False,
    columns: ColumnsOpt = None,
    kinds: KindsOpt = None,
    agg: AggOpt = None,
    binary: BinaryOpt = None,
    log1p: Log1pOpt = None,
    half_life: HalfLifeOpt = None,
    min_value: MinValueOpt = None,
    min_user: MinUserOpt = 0,
    min_item: MinItemOpt = 0,
    kind_value: KindValueOpt = None,
    kind_weight: KindWeightOpt = None,
) -> None:
    """People like USER, with what they have in common (user-knn unless the algorithm has
    its own user similarities)."""
    path, key = _split_args(source, user, model_dir, "USER")
    model = load_team_model(path, model_dir, algorithm=algorithm, params=param,
                            **matrix_options(locals()))
    u = model.data.find_user(key)
    _print(model.similar_users(key, k), f"people like {model.data.user_names(u)}", as_json)


def train(
    source: Annotated[Path, typer.Argument(help="a data file or folder, or a folder written by 'teamrec ingest'")],
    out: Annotated[Path, typer.Option("--out", "-o", help="folder to write the model to")],
    fmt: FormatOpt = None,
    algorithm: AlgorithmOpt = None,
    param: ParamOpt = None,
    as_json: JsonOpt = False,
    team: TeamOpt = None,
    skip_bad_rows: SkipBadOpt = False,
    columns: ColumnsOpt = None,
    kinds: KindsOpt = None,
    agg: AggOpt = None,
    binary: BinaryOpt = None,
    log1p: Log1pOpt = None,
    half_life: HalfLifeOpt = None,
    min_value: MinValueOpt = None,
    min_user: MinUserOpt = 0,
    min_item: MinItemOpt = 0,
    kind_value: KindValueOpt = None,
    kind_weight: KindWeightOpt = None,
) -> None:
    """Fit an algorithm on a source and save it (arrays + JSON) for --model-dir."""
    model = load_team_model(source, None, algorithm=algorithm, params=param,
                            **matrix_options(locals()))
    model.save(out)
    summary = {
        "out": str(out),
        "team": model.team,
        "algorithm": model.algorithm.name,
        "params": model.algorithm.get_params(),
        "users": model.data.n_users,
        "items": model.data.n_items,
        "choice": choice_of(model.algorithm),
    }
    if as_json:
        echo_json(summary)
    else:
        typer.echo(
            f"trained {summary['algorithm']} on team {summary['team']} "
            f"({summary['users']} people, {summary['items']} items); saved to {out}"
        )


def register(app: typer.Typer) -> None:
    """Register this module's commands on the app."""
    app.command()(similar)
    app.command()(recommend)
    app.command()(people)
    app.command()(train)
