"""``teamrec serve`` and ``teamrec retrain``: run the service, and refresh its models.

``teamrec serve`` with no source serves the generated demo workspace; ``teamrec serve SOURCE
--format F`` serves real data as one team; ``teamrec serve --config FILE`` serves the teams a
settings file describes (see :mod:`teamrec.service.settings`). Models are loaded or trained
*before* the server listens, so bad data stops the command with one line (exit status 2) and
``/health`` answers as soon as the URL is printed.

When no key is configured for a team served from the command line, an admin key is taken
from ``TEAMREC_ADMIN_KEY`` or generated, and printed once: it is what ``teamrec retrain`` and
event ingestion need. Reading stays open unless ``--read-keys``.

``teamrec retrain [TEAM]`` asks a running service to retrain (``POST
/api/v1/teams/TEAM/model/retrain`` with an admin key); with ``--offline --config FILE`` it
instead refits the team on its source plus the event store and saves it to the team's
``model_dir``, which the service loads at its next start.
"""

from __future__ import annotations

import gc
import json
import os
import re
import secrets
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Annotated, Any

import typer

from teamrec._extras import require as require_extra
from teamrec.cli._common import (
    AggOpt,
    BinaryOpt,
    ColumnsOpt,
    FormatOpt,
    HalfLifeOpt,
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
    team_spec,
)
from teamrec.cli.recommend import AlgorithmOpt, ParamOpt, parse_params
from teamrec.errors import ConfigError, TeamrecError

ADMIN_KEY_ENV = "TEAMREC_ADMIN_KEY"
DEFAULT_URL = "http://127.0.0.1:8000"

ConfigOpt = Annotated[
    Path | None, typer.Option("--config", "-c", envvar="TEAMREC_CONFIG", help="settings file (TOML)")
]


def _slug(text: str) -> str:
    slug = re.sub(r"[^A-Za-z0-9_.-]+", "-", text).strip("-.")[:64]
    return slug or "team"


def build_settings(
    source: Path | None,
    *,
    fmt: str | None = None,
    config: Path | None = None,
    name: str | None = None,
    source_team: str | None = None,
    algorithm: str | None = None,
    params: list[str] | None = None,
    model_dir: Path | None = None,
    host: str | None = None,
    port: int | None = None,
    database: str | None = None,
    read_keys: bool = False,
    dev: bool = False,
    access_log: bool = True,
    env: dict[str, str] | None = None,
    reader: dict[str, Any] | None = None,
) -> tuple[Any, str | None]:
    """The service settings for a ``teamrec serve`` command line, and the admin key it added
    (None when the settings brought their own keys). ``reader``: the reader and matrix options
    (:func:`~teamrec.cli._common.team_spec`'s keywords), the same as ``teamrec recommend``'s."""
    from teamrec.service.settings import default_database, load_settings

    env = dict(os.environ if env is None else env)
    overrides: dict[str, Any] = {}
    if host is not None:
        overrides["host"] = host
    if port is not None:
        overrides["port"] = port
    if database is not None:
        overrides["database"] = database
    if read_keys:
        overrides["read_keys"] = True
    if dev:
        overrides["mode"] = "development"
    if not access_log:
        overrides["access_log"] = False
    if source is not None and config is not None:
        raise ConfigError("give SOURCE or --config, not both")
    added_key = None
    if config is None:
        team: dict[str, Any] = {}
        if source is None:
            team_name = name or "demo"
            team["format"] = "demo"
            overrides.setdefault("mode", env.get("TEAMREC_MODE", "development"))
            if "database" not in overrides and "TEAMREC_DATABASE" not in env:
                overrides["database"] = str(Path(default_database(env)).with_name("demo.sqlite3"))
        else:
            team_name = name or _slug(source.resolve().name.removesuffix(".zip"))
            spec = team_spec(source, **{**(reader or {}), "fmt": fmt, "team": source_team})
            team.update(spec.model_dump(include={"source", "format", "source_team", "options", "skip_bad_rows",
                                                 "kind_values", "matrix"}))
        if algorithm:
            team["algorithm"] = algorithm
        if params:
            team["params"] = parse_params(params)
        if model_dir is not None:
            team["model_dir"] = str(model_dir)
        overrides["teams"] = {team_name: team}
        if "TEAMREC_KEYS" not in env:
            added_key = env.get(ADMIN_KEY_ENV) or secrets.token_urlsafe(24)
            overrides["keys"] = [{"team": team_name, "key": added_key, "scopes": ["admin"], "name": "admin key"}]
    elif any(v is not None for v in (name, source_team, algorithm, model_dir)) or params or fmt or _given(reader):
        raise ConfigError("with --config, set teams in the file (or TEAMREC_TEAMS__NAME__... variables)")
    settings = load_settings(config, env=env, overrides=overrides)
    if not settings.teams and settings.batch is None:
        raise ConfigError(f"{config}: the settings name no team to serve (add a [teams.NAME] or [batch] table)")
    return settings, added_key


def _given(reader: dict[str, Any] | None) -> bool:
    """Whether any reader or matrix option was given on the command line."""
    return any(v not in (None, False, 0, [], ()) for k, v in (reader or {}).items() if k not in ("fmt", "team"))


def serve(
    source: Annotated[
        Path | None, typer.Argument(help="data to serve (omit it for the demo workspace)", show_default=False)
    ] = None,
    fmt: FormatOpt = None,
    config: ConfigOpt = None,
    name: Annotated[str | None, typer.Option("--name", help="the team's name in URLs (default: from SOURCE)")] = None,
    team: TeamOpt = None,
    algorithm: AlgorithmOpt = None,
    param: ParamOpt = None,
    model_dir: Annotated[
        Path | None, typer.Option("--model-dir", help="load this saved model if present; retrains are saved here")
    ] = None,
    host: Annotated[str | None, typer.Option("--host", help="address to listen on [default: 127.0.0.1]")] = None,
    port: Annotated[
        int | None, typer.Option("--port", help="port to listen on (0: any free port) [default: 8000]")
    ] = None,
    database: Annotated[
        str | None, typer.Option("--database", help="event store: a SQLite path, sqlite:///PATH or memory:")
    ] = None,
    read_keys: Annotated[bool, typer.Option("--read-keys", help="reading needs a key too")] = False,
    dev: Annotated[bool, typer.Option("--dev", help="development mode: weak keys only warn")] = False,
    access_log: Annotated[bool, typer.Option("--access-log/--no-access-log", help="log every request")] = True,
    log_level: Annotated[str, typer.Option("--log-level", help="uvicorn's log level")] = "warning",
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
    """The HTTP API and the web page, on the demo workspace or on SOURCE, until Ctrl-C. The
    reader and matrix options are those of ``teamrec recommend`` (one team spec for both)."""
    require_extra("service", "teamrec serve")
    import uvicorn

    from teamrec.service import create_app

    settings, added_key = build_settings(
        source, fmt=fmt, config=config, name=name, source_team=team, algorithm=algorithm, params=param,
        model_dir=model_dir, host=host, port=port, database=database, read_keys=read_keys, dev=dev,
        access_log=access_log, reader=matrix_options(locals()),
    )
    what = "the demo workspace" if source is None and config is None else ", ".join(settings.teams)
    typer.echo(f"teamrec: preparing {what} ...", err=True)
    app = create_app(settings)
    service = app.state.service
    try:
        service.start()  # train before listening: bad data is one line and exit 2
    except BaseException:
        service.close()
        raise
    # The models are long-lived: keep them out of the garbage collector's full passes, which
    # would otherwise walk them every so often and show up as latency spikes.
    gc.collect()
    gc.freeze()
    server = uvicorn.Server(
        uvicorn.Config(
            app, host=settings.host, port=settings.port, log_level=log_level, access_log=settings.access_log,
            lifespan="on", timeout_graceful_shutdown=5, server_header=False,
        )
    )

    def announce() -> None:
        while not server.started:
            if server.should_exit:
                return
            time.sleep(0.05)
        bound = server.servers[0].sockets[0].getsockname()
        shown = (
            "127.0.0.1" if settings.host in ("0.0.0.0", "") else ("[::1]" if settings.host == "::" else settings.host)
        )
        url = f"http://{shown}:{bound[1]}/"
        parts = []
        for team_name in settings.teams:
            state = service.registry.get(team_name)
            noun = "channels" if state.model.data.item_kind == "channel" else "items"
            parts.append(f"{team_name} ({state.index.n_users} people, {state.index.n_items} {noun})")
        if settings.batch is not None:
            parts.append(f"the teams of {settings.batch.path} (at most {settings.batch.max_teams_loaded} loaded)")
        typer.echo(f"teamrec: serving {', '.join(parts)} at {url}")
        typer.echo(f"teamrec: API docs at {url}docs; health at {url}health; Ctrl-C stops")
        if added_key:
            typer.echo(f"teamrec: admin key (ingest, retrain): {added_key}")

    threading.Thread(target=announce, name="announce", daemon=True).start()
    server.run()


def _service_url(url: str) -> str:
    """``url`` without a trailing ``/``, once it is known to be an http(s) address."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigError(f"--url must be an http:// or https:// address of the service, got {url!r}")
    return url.rstrip("/")


def _request(method: str, url: str, key: str | None, timeout: float) -> dict[str, Any]:
    headers = {"Accept": "application/json"}
    if key:
        headers["X-API-Key"] = key
    request = urllib.request.Request(url, method=method, headers=headers, data=b"" if method == "POST" else None)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 - the URL is the user's
            return json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as exc:
        try:
            message = json.loads(exc.read()).get("message", exc.reason)
        except (ValueError, AttributeError):
            message = exc.reason
        raise TeamrecError(f"{method} {url}: {exc.code} {message}") from None
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise TeamrecError(f"no teamrec service at {url} ({reason})") from None


def retrain(
    team: Annotated[
        str | None, typer.Argument(help="the team (default: the service's only team)", show_default=False)
    ] = None,
    url: Annotated[str, typer.Option("--url", envvar="TEAMREC_URL", help="the running service")] = DEFAULT_URL,
    key: Annotated[
        str | None, typer.Option("--key", envvar=ADMIN_KEY_ENV, help=f"an admin key of the team (or {ADMIN_KEY_ENV})")
    ] = None,
    offline: Annotated[
        bool, typer.Option("--offline", help="no service: refit from --config and save to the team's model_dir")
    ] = False,
    config: ConfigOpt = None,
    timeout: Annotated[float, typer.Option("--timeout", help="seconds to wait for the retrain")] = 600.0,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
) -> None:
    """Retrain a team's model: ask the running service at --url (admin key), or with
    --offline refit it from the settings file and save it to the team's model_dir."""
    if offline:
        summary = _retrain_offline(team, config)
    else:
        base = _service_url(url)
        if team is None:
            teams = _request("GET", f"{base}/api/v1/teams", key, timeout).get("teams", [])
            if len(teams) != 1:
                raise ConfigError(f"name the team to retrain (the service has {len(teams)})")
            team = teams[0]["name"]
        info = _request("POST", f"{base}/api/v1/teams/{urllib.parse.quote(team, safe='')}/model/retrain", key, timeout)
        summary = {
            "team": info["team"], "algorithm": info["algorithm"], "model_version": info["model_version"],
            "people": info["people"], "items": info["items"], "train_seconds": info["train_seconds"],
            "events": info["events"],
        }
    if as_json:
        echo_json(summary)
    else:
        where = (
            f"saved to {summary['model_dir']}" if offline else f"model version {summary['model_version']} in service"
        )
        typer.echo(
            f"retrained {summary['algorithm']} for team {summary['team']} ({summary['people']} people, "
            f"{summary['items']} items) in {summary['train_seconds']:.2f}s; {where}"
        )


def _retrain_offline(team: str | None, config: Path | None) -> dict[str, Any]:
    require_extra("service", "teamrec retrain --offline")
    from teamrec.service import training
    from teamrec.service.settings import load_settings
    from teamrec.store import open_store

    if config is None:
        raise ConfigError("--offline needs --config FILE (the service's settings)")
    settings = load_settings(config)
    if team is None:
        if len(settings.teams) != 1:
            raise ConfigError(f"name the team to retrain (the settings have {len(settings.teams)})")
        team = next(iter(settings.teams))
    if team not in settings.teams:
        raise ConfigError(f"team {team!r} is not in {config}")
    team_settings = settings.teams[team]
    if team_settings.model_dir is None:
        raise ConfigError(f"team {team!r} has no model_dir to save the retrained model to")
    store = open_store(settings.database)
    try:
        built = training.train(team, team_settings, store)
    finally:
        store.close()
    built.model.save(team_settings.model_dir)  # whole or not at all
    return {
        "team": team, "algorithm": built.model.algorithm.name, "people": built.model.data.n_users,
        "items": built.model.data.n_items, "train_seconds": built.seconds, "model_dir": team_settings.model_dir,
        "events": {"source": built.info["source_events"], "store": built.info["store_events"]},
    }


def register(app: typer.Typer) -> None:
    """Register this module's commands on the app."""
    app.command()(serve)
    app.command()(retrain)
