"""``teamrec slack``: the Slack app's commands (extra ``teamrec[slack]``).

* ``teamrec slack sync`` reads the workspace (``SLACK_BOT_TOKEN``) into the event store and
  writes the channel and people metadata as a ``teamrec`` dataset folder: with ``--config``,
  into the service's database and the folder the ``[slack]`` team names as its source;
* ``teamrec slack run --socket`` serves the app in Socket Mode (no public URL;
  ``SLACK_APP_TOKEN``) over the same service layer as ``teamrec serve``, which serves the HTTP
  endpoints itself (``/slack/events``, ``/slack/actions``, ``/slack/commands``);
* ``teamrec slack digest`` sends the digest to the people its rules allow, now.

Slack's modules are imported inside the commands, so ``teamrec`` works without the extra.
"""

from __future__ import annotations

import importlib
import logging
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from teamrec.cli._common import echo_json
from teamrec.errors import ConfigError

if TYPE_CHECKING:
    from teamrec.service.app import Service
    from teamrec.service.settings import Settings

ConfigOpt = Annotated[
    Path | None, typer.Option("--config", "-c", envvar="TEAMREC_CONFIG", help="the service's settings file (TOML)")
]
StoreOpt = Annotated[str | None, typer.Option(
    "--store", envvar="TEAMREC_STORE", help="event store: a SQLite path or URL (default: the settings' database)")]
TeamNameOpt = Annotated[str | None, typer.Option(
    "--team", help="the teamrec team (default: the settings' [slack] team)")]
MetadataOpt = Annotated[
    Path | None, typer.Option("--metadata", help="folder for the channel and people metadata "
                                                 "(default: the [slack] team's source folder)")
]
BaseUrlOpt = Annotated[str | None, typer.Option("--base-url", hidden=True, help="Web API base URL (tests)")]


def _need_slack() -> None:
    for module in ("slack_bolt", "slack_sdk"):
        try:
            importlib.import_module(module)
        except ImportError:
            raise ConfigError("the Slack app needs its extra: pip install 'teamrec[slack]'") from None


def _settings(config: Path | None) -> Settings:
    from teamrec.service.settings import load_settings

    if config is None:
        raise ConfigError("give the service's settings file: --config FILE (or TEAMREC_CONFIG)")
    settings = load_settings(config)
    if settings.slack is None:
        raise ConfigError(f"{config}: no [slack] table (see docs/slack.md)")
    return settings


def _started(settings: Settings) -> Service:
    from teamrec.service.app import Service

    service = Service(settings)
    service.start()
    return service


def register(app: typer.Typer) -> None:
    slack = typer.Typer(help="The Slack app: sync a workspace, serve App Home, commands and digests.",
                        no_args_is_help=True)
    app.add_typer(slack, name="slack")

    @slack.command("sync")
    def sync(
        config: ConfigOpt = None,
        team: TeamNameOpt = None,
        store: StoreOpt = None,
        metadata: MetadataOpt = None,
        since_days: Annotated[
            float | None, typer.Option("--since-days", help="first read of a channel: only this many days back")
        ] = None,
        replies: Annotated[bool, typer.Option("--replies/--no-replies", help="read thread replies")] = True,
        join: Annotated[bool, typer.Option("--join/--no-join", help="join public channels to read them")] = True,
        base_url: BaseUrlOpt = None,
    ) -> None:
        """Read people, channels, memberships and new activity into the event store."""
        _need_slack()
        from teamrec.integrations.slack.client import web_client
        from teamrec.integrations.slack.sync import sync_workspace
        from teamrec.store import open_store

        if config is not None:
            settings = _settings(config)
            assert settings.slack is not None
            team = team or settings.slack.team
            store = store or settings.database
            source = settings.teams[team].source if team in settings.teams else None
            metadata = metadata or (Path(source) if source else None)
            base_url = base_url or settings.slack.api_url
        if team is None or store is None or metadata is None:
            raise ConfigError("give --config FILE, or --team, --store and --metadata")
        client = web_client(base_url=base_url)
        since = time.time() - since_days * 86_400 if since_days is not None else None
        events = open_store(store)
        try:
            report = sync_workspace(client, events, team, metadata_dir=metadata, replies=replies,
                                    join_public=join, since=since)
        finally:
            events.close()
        echo_json(report.to_dict())

    @slack.command("run")
    def run(
        config: ConfigOpt = None,
        socket: Annotated[bool, typer.Option("--socket", help="Socket Mode (no public URL; SLACK_APP_TOKEN)")] = False,
        check: Annotated[bool, typer.Option("--check", help="build the app and exit (no connection)")] = False,
    ) -> None:
        """Serve the app in Socket Mode over the service layer (HTTP mode: ``teamrec serve``)."""
        _need_slack()
        if not socket:
            raise ConfigError("HTTP mode is served by 'teamrec serve --config FILE' (/slack/events); "
                              "give --socket for Socket Mode")
        from teamrec.integrations.slack.http import bolt_app, socket_mode_handler

        settings = _settings(config)
        assert settings.slack is not None
        slack_settings = settings.slack.with_env()
        service = _started(settings)
        try:
            handler = socket_mode_handler(bolt_app(service, slack_settings), slack_settings)
            if check:
                typer.echo(f"ready: Socket Mode for team {slack_settings.team}")
                return
            handler.start()
        finally:
            service.close()

    @slack.command("digest")
    def digest(config: ConfigOpt = None) -> None:
        """Send the digest now to everyone the rules allow; prints what happened per person."""
        _need_slack()
        from teamrec.integrations.slack.app import send_digests, slack_client
        from teamrec.integrations.slack.digest import DigestState
        from teamrec.integrations.slack.team import SlackTeam

        settings = _settings(config)
        assert settings.slack is not None
        slack_settings = settings.slack.with_env()
        service = _started(settings)
        state = DigestState(slack_settings.digest_state or ":memory:")
        service.on_close(state.close)
        try:
            team = SlackTeam(service.team(slack_settings.team))
            people = [str(u) for u in team.service.state.model.data.users.ids]
            outcome = send_digests(slack_client(slack_settings), team, slack_settings, state, people)
        finally:
            service.close()
        logging.getLogger(__name__).info("digest: %d sent", sum(v == "sent" for v in outcome.values()))
        echo_json(outcome)
