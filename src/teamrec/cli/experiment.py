"""``teamrec experiment report`` and ``teamrec simulate``: an experiment's report from the
service's logs, and an experiment replayed on a data set's hold-out through the service layer."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path
from typing import Annotated, Any

import typer

from teamrec.cli._common import (
    BinaryOpt,
    ColumnsOpt,
    FormatOpt,
    HalfLifeOpt,
    JsonOpt,
    KindValueOpt,
    Log1pOpt,
    matrix_overrides,
    parse_floats,
    parse_pairs,
)
from teamrec.errors import ConfigError
from teamrec.experiments.settings import Experiment, parse_experiments

ConfigOpt = Annotated[
    Path | None, typer.Option("--config", "-c", envvar="TEAMREC_CONFIG", help="the service's settings file (TOML)")
]
ChartOpt = Annotated[Path | None, typer.Option("--chart", help="also write the chart here (.png or .svg)")]

experiment_app = typer.Typer(help="Experiments: reports from the service's impressions and feedback logs.",
                             no_args_is_help=True)


def _write_chart(report: Any, chart: Path | None) -> None:
    if chart is None:
        return
    fmt = chart.suffix.lower().lstrip(".")
    if fmt not in ("png", "svg"):
        raise ConfigError(f"--chart {chart}: the file must end in .png or .svg")
    chart.write_bytes(report.to_chart(fmt))


@experiment_app.command("report")
def report(
    config: ConfigOpt = None,
    experiment: Annotated[
        str | None, typer.Option("--experiment", help="its name (default: every declared one)")
    ] = None,
    team: Annotated[str | None, typer.Option("--team", help="the team (default: every team)")] = None,
    as_json: JsonOpt = False,
    chart: ChartOpt = None,
) -> None:
    """Print an experiment's report (per arm CTR with its interval, differences, sample ratio,
    explored against exploited, CTR by position) from the logs in the service's database."""
    from teamrec.service.settings import load_settings
    from teamrec.store.base import open_store
    from teamrec.store.feedback import open_feedback_log

    settings = load_settings(config)
    experiments = [e for e in settings.experiments if experiment in (None, e.name)]
    if not experiments:
        known = ", ".join(e.name for e in settings.experiments) or "none declared"
        raise ConfigError(f"no experiment {experiment!r} in the settings (known: {known})")
    teams = [t for t in settings.teams if team in (None, t)]
    if not teams:
        raise ConfigError(f"no team {team!r} in the settings")
    from teamrec.experiments.frames import FEEDBACK_COLUMNS
    from teamrec.experiments.report import build_report

    store = open_store(settings.database)
    log = open_feedback_log(store)
    out: list[dict[str, Any]] = []
    try:
        for exp in experiments:
            for name in teams:
                impressions = log.impressions(name, exp.name)
                if not len(impressions):
                    continue
                feedback = log.feedback(name, exp.name)[list(FEEDBACK_COLUMNS)]
                result = build_report(impressions, feedback, exp)
                _write_chart(result, chart)
                out.append({"team": name, **result.to_dict()})
                if not as_json:
                    typer.echo(f"team {name}")
                    typer.echo(result.to_text())
    finally:
        log.close()
        store.close()
    if not out and not as_json:
        typer.echo("no impressions logged yet for " + ", ".join(e.name for e in experiments))
    if as_json:
        typer.echo(json.dumps(out, indent=2))


def load_experiment(value: str, config: Path | None) -> Experiment:
    """``value`` is a TOML file with ``[[experiments]]`` (the first is used, or ``FILE:NAME``)
    or the name of an experiment in the ``--config`` settings file."""
    path, _, name = value.partition(":") if not Path(value).exists() else (value, "", "")
    if Path(path).is_file():
        try:
            data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{path}: not valid TOML: {exc}") from None
        found = parse_experiments(data.get("experiments", []), f"{path}: experiments")
        if not found:
            raise ConfigError(f"{path}: no [[experiments]] table")
        chosen = [e for e in found if name in ("", e.name)]
        if not chosen:
            raise ConfigError(f"{path}: no experiment {name!r} (known: {', '.join(e.name for e in found)})")
        return chosen[0]
    if config is None:
        raise ConfigError(
            f"--experiment {value!r}: no such file, and no --config to find an experiment of that name in"
        )
    from teamrec.service.settings import load_settings

    for exp in load_settings(config).experiments:
        if exp.name == value:
            return exp
    raise ConfigError(f"--experiment {value!r}: no such file, and no experiment of that name in {config}")


def simulate(
    source: Annotated[Path, typer.Argument(help="a data file or folder")],
    experiment: Annotated[str, typer.Option("--experiment", "-e", help="a TOML file with [[experiments]], or a name "
                                            "in --config")],
    fmt: FormatOpt = None,
    config: ConfigOpt = None,
    columns: ColumnsOpt = None,
    kind_value: KindValueOpt = None,
    log1p: Log1pOpt = None,
    binary: BinaryOpt = None,
    half_life: HalfLifeOpt = None,
    share: Annotated[float, typer.Option("--holdout", help="share of the events held out and replayed")] = 0.2,
    k: Annotated[int, typer.Option("--k", min=1, max=100, help="items per list")] = 10,
    max_visits: Annotated[
        int | None, typer.Option("--max-visits", min=1, help="replay only the first N visits")
    ] = None,
    action: Annotated[
        str, typer.Option("--action", help="the feedback each hit sends (join, click, rate_up)")
    ] = "join",
    seed: Annotated[int, typer.Option("--seed")] = 0,
    split: Annotated[str, typer.Option(
        "--split", help="auto: the last share in time (random when some event has no time); random: per person; "
        "time: the last share in time, an untimed event dated at its item's creation")] = "auto",
    stream: Annotated[bool, typer.Option(
        "--stream", help="news-style: ingest every held-out event in time order, refreshing the models as it goes")
    ] = False,
    refresh_every: Annotated[
        int, typer.Option("--refresh-every", min=1,
                          help="with --stream: an incremental refresh every N events (default: the service's "
                          "refit_events)")
    ] = 1000,
    refresh_seconds: Annotated[
        float | None, typer.Option("--refresh-seconds", min=0.001, help="with --stream: also refresh once an event "
                                   "has waited N seconds of the data's time (the service's refit_seconds)")
    ] = None,
    retrain_every: Annotated[
        int | None, typer.Option("--retrain-every", min=1, help="with --stream: a full retrain every N events")
    ] = None,
    window_days: Annotated[
        float | None, typer.Option("--window-days", min=0, help="click only what the person takes within N days "
                                   "of the visit (default: the rest of their hold-out)")
    ] = None,
    clickable: Annotated[str, typer.Option(
        "--clickable", help="future: any shown item the person takes later; visit: only the visit's own item")
    ] = "future",
    as_json: JsonOpt = False,
    chart: ChartOpt = None,
) -> None:
    """Replay SOURCE's hold-out as simulated people through the service layer
    (TeamService.recommend -> hits -> TeamService.feedback, learnt at once) with the experiment's
    arms served side by side, then print its report and the off-policy check. The matrix options
    (--binary/--no-binary, --log1p, --half-life) are the simulated team's, so every arm's."""
    from teamrec.service.simulation import simulate_experiment

    exp = load_experiment(experiment, config)
    options = {"columns": parse_pairs(columns, "--column")} if columns else {}
    kind_values = parse_floats(kind_value, "--kind-value")
    result = simulate_experiment(source, fmt, exp, options=options, kind_values=kind_values,
                                 matrix=matrix_overrides(binary=binary, log1p=log1p, half_life=half_life) or None,
                                 share=share, k=k,
                                 max_visits=max_visits, action=action, seed=seed, split=split, stream=stream,
                                 refresh_every=refresh_every, refresh_seconds=refresh_seconds,
                                 retrain_every=retrain_every, window_days=window_days, clickable=clickable)
    _write_chart(result.simulation.report, chart)
    typer.echo(json.dumps(result.to_dict(), indent=2) if as_json else result.to_text())


def register(app: typer.Typer) -> None:
    app.add_typer(experiment_app, name="experiment")
    app.command("simulate")(simulate)
