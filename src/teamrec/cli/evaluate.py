"""``teamrec evaluate``: which algorithm to serve, measured on your own data.

A thin layer over :func:`teamrec.evaluation.evaluate`: read the source, build the team's
matrix with the usual matrix options, split it with the protocol and seed, fit and measure
every ``--algorithm``, print the table (or ``--json``) and optionally write the HTML report.

Algorithms are named ``NAME`` or ``LABEL=NAME`` (to compare one algorithm with itself under
other parameters); ``--param LABEL.name=value`` and ``--grid LABEL.name=v1,v2`` refer to the
label. Example::

    teamrec evaluate lastfm-2k/user_artists.dat --format lastfm --protocol occf-rmse \\
        --algorithm knn-regression --algorithm plain=knn-regression \\
        --param plain.transforms=false --baseline plain --report lastfm.html

``--protocol people-like-you`` measures each person's most similar people against declared
friendships (``--friends FILE``; for Last.fm, ``user_friends.dat`` beside the plays is found
by itself)::

    teamrec evaluate lastfm-2k/user_artists.dat --format lastfm --protocol people-like-you \
        --algorithm user-knn --algorithm plain=user-knn --param plain.weighting=none \
        --param plain.hubness=0
"""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from teamrec._extras import require as require_extra
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
    SourceArg,
    TeamOpt,
    echo_json,
    matrix_options,
    parse_pairs,
    read_matrix,
)
from teamrec.data.sources.lastfm import FRIENDS, read_friendships
from teamrec.errors import ConfigError
from teamrec.evaluation import grid as G
from teamrec.evaluation import report as R
from teamrec.evaluation.protocols import PROTOCOLS, create_protocol, friendship_matrix
from teamrec.evaluation.runner import AlgorithmSpec, eval_data
from teamrec.evaluation.runner import evaluate as run_evaluation

ProtocolOpt = Annotated[str, typer.Option("--protocol", "-p", help=f"one of: {', '.join(PROTOCOLS)}")]
AlgorithmOpt = Annotated[
    list[str], typer.Option("--algorithm", "-a", help="algorithm to evaluate, NAME or LABEL=NAME (repeatable)")
]
ParamOpt = Annotated[
    list[str] | None, typer.Option("--param", help="algorithm parameter LABEL.name=value (repeatable)")
]
GridOpt = Annotated[
    list[str] | None,
    typer.Option("--grid", help="values to try, LABEL.name=v1,v2 (repeatable; chosen on a validation split)"),
]
SelectByOpt = Annotated[
    str | None, typer.Option("--select-by", help="metric the grid search maximises (errors: minimises)")
]
KOpt = Annotated[int, typer.Option("--k", "-k", min=1, max=100_000, help="length of the recommendation lists")]
SeedOpt = Annotated[int, typer.Option("--seed", help="seed of every random choice (splits, samples, models)")]
ReportOpt = Annotated[Path | None, typer.Option("--report", help="write a standalone HTML report here")]
BaselineOpt = Annotated[
    str | None, typer.Option("--baseline", help="label to compare the others against (relative change)")
]
TestShareOpt = Annotated[float | None, typer.Option("--test-share", help="share held out (default 0.2)")]
ZeroRatioOpt = Annotated[
    float | None, typer.Option("--zero-ratio", help="occf-rmse: empty cells per held-out entry (default 1)")
]
FoldsOpt = Annotated[int | None, typer.Option("--folds", help="kfold: number of folds (default 5)")]
NegativesOpt = Annotated[
    int | None, typer.Option("--negatives", help="sampled: untouched items per held-out item (default 100)")
]
FriendsOpt = Annotated[
    Path | None,
    typer.Option("--friends", help="people-like-you: declared friendships, two person-id columns "
                 f"(default: {FRIENDS} beside the source)"),
]


def _friends_file(source: Path, given: Path | None, protocol: str) -> Path | None:
    """The friendships file to read: the one given, or for ``people-like-you`` the Last.fm
    ``user_friends.dat`` beside (or inside) the source, when there is one."""
    if given is not None or protocol != "people-like-you":
        return given
    folder = source if source.is_dir() else source.parent
    return folder / FRIENDS if (folder / FRIENDS).exists() else None


def _algorithm_specs(algorithms: list[str], params: list[str], grids: list[str]) -> list[AlgorithmSpec]:
    specs: dict[str, AlgorithmSpec] = {}
    for text in algorithms:
        label, sep, name = text.partition("=")
        if not sep:
            label, name = text, text
        label, name = label.strip(), name.strip()
        if not label or not name:
            raise ConfigError(f"--algorithm takes NAME or LABEL=NAME, got {text!r}")
        if label in specs:
            raise ConfigError(f"algorithm label {label!r} given twice; label them as LABEL=NAME")
        specs[label] = AlgorithmSpec(name=name, label=label)

    def target(key: str, option: str) -> tuple[AlgorithmSpec, str]:
        label, dot, param = key.rpartition(".")
        if not dot or not label or not param:
            raise ConfigError(f"{option} takes LABEL.name=value, got {key!r}")
        if label not in specs:
            raise ConfigError(f"{option} {key!r}: no --algorithm labelled {label!r} (known: {', '.join(specs)})")
        return specs[label], param

    for key, value in parse_pairs(params, "--param").items():
        spec, param = target(key, "--param")
        spec.params[param] = G.parse_value(value)
    for key, values in parse_pairs(grids, "--grid").items():
        spec, param = target(key, "--grid")
        spec.grid[param] = G.parse_values(values)
    return list(specs.values())




def _command_line(source: Path, fmt: str | None, args: dict[str, Any]) -> str:
    """The canonical command line of this run (recorded in the report and the JSON)."""
    words = ["teamrec", "evaluate", str(source)]
    if fmt:
        words += ["--format", fmt]
    for option, value in args.items():
        if value is None or value is False or value == [] or value == ():
            continue
        if value is True:
            words.append(option)
        elif isinstance(value, (list, tuple)):
            for v in value:
                words += [option, str(v)]
        else:
            words += [option, str(value)]
    return shlex.join(words)


def evaluate(
    source: SourceArg,
    protocol: ProtocolOpt,
    algorithm: AlgorithmOpt,
    fmt: FormatOpt = None,
    param: ParamOpt = None,
    grid: GridOpt = None,
    select_by: SelectByOpt = None,
    k: KOpt = 10,
    seed: SeedOpt = 0,
    as_json: JsonOpt = False,
    report: ReportOpt = None,
    baseline: BaselineOpt = None,
    test_share: TestShareOpt = None,
    zero_ratio: ZeroRatioOpt = None,
    folds: FoldsOpt = None,
    negatives: NegativesOpt = None,
    friends: FriendsOpt = None,
    team: TeamOpt = None,
    skip_bad_rows: SkipBadOpt = False,
    columns: ColumnsOpt = None,
    kinds: KindsOpt = None,
    kind_weight: KindWeightOpt = None,
    kind_value: KindValueOpt = None,
    agg: AggOpt = None,
    binary: BinaryOpt = None,
    log1p: Log1pOpt = None,
    half_life: HalfLifeOpt = None,
    min_value: MinValueOpt = None,
    min_user: MinUserOpt = 0,
    min_item: MinItemOpt = 0,
) -> None:
    """Compare algorithms offline under one protocol; print the table, JSON or an HTML report."""
    if report is not None:  # before the work, not after it
        require_extra("report", "teamrec evaluate --report")
    protocol_params = {
        name: value
        for name, value in (("test_share", test_share), ("zero_ratio", zero_ratio), ("folds", folds),
                            ("negatives", negatives))
        if value is not None
    }
    chosen = create_protocol(protocol, protocol_params)
    specs = _algorithm_specs(algorithm, param or [], grid or [])
    dataset, config, matrix = read_matrix(source, **matrix_options(locals()))
    data = eval_data(dataset, matrix, config)
    friends_file = _friends_file(source, friends, protocol)
    if friends_file is not None:
        pairs = read_friendships(friends_file)
        data.pairs = friendship_matrix(matrix.users.lookup(pairs["user"].to_numpy(), missing="ignore"),
                                       matrix.users.lookup(pairs["friend"].to_numpy(), missing="ignore"),
                                       matrix.matrix.shape[0])

    command = _command_line(source, fmt, {
        "--team": team, "--column": columns, "--kind": kinds, "--kind-value": kind_value,
        "--kind-weight": kind_weight, "--agg": agg, "--binary": binary or None,
        "--no-binary": binary is False or None, "--log1p": log1p or None, "--no-log1p": log1p is False or None,
        "--half-life": half_life, "--min-value": min_value, "--min-user": min_user or None,
        "--min-item": min_item or None, "--skip-bad-rows": skip_bad_rows, "--protocol": protocol,
        "--test-share": test_share, "--zero-ratio": zero_ratio, "--folds": folds, "--negatives": negatives,
        "--friends": friends, "--algorithm": algorithm, "--param": param, "--grid": grid, "--select-by": select_by,
        "--baseline": baseline, "--k": k, "--seed": seed,
    })
    result = run_evaluation(
        data, chosen, specs, k=k, seed=seed, select_by=select_by, baseline=baseline,
        info={"source": str(source), "format": dataset.info.get("format", fmt), "team": matrix.team},
    )
    result.command = command
    if report is not None:
        R.write_html(result, report)
    if as_json:
        out = result.to_dict()
        if report is not None:
            out["report"] = str(report)
        echo_json(out)
        return
    header, rows = R.table(result)
    shown = Table()
    for i, col in enumerate(header):
        shown.add_column(col, justify="left" if i == 0 else "right")
    for row in rows:
        shown.add_row(*row)
    console = Console(width=max(120, 14 * len(header)))
    typer.echo(
        f"{result.protocol} on {source.name}: seed {seed}, {result.data['users']} users, "
        f"{result.data['items']} items, {result.data['entries']} entries, "
        f"{result.data['test_cells']} held out" + (f" per fold ({result.data['splits']} folds)"
                                                   if result.data["splits"] > 1 else "")
    )
    console.print(shown)
    best = result.best()
    typer.echo(f"best by {result.select_by}: {best.label} ({R.fmt(best.metrics[result.select_by])})")
    for r in result.results:
        if r.selected:
            typer.echo(f"grid search for {r.label}: chose {r.selected} by {result.select_by} on validation")
    for line in R.change_lines(result):
        typer.echo(line)
    if report is not None:
        typer.echo(f"report written to {report}")


def register(app: typer.Typer) -> None:
    """Register this module's commands on the app."""
    app.command()(evaluate)
