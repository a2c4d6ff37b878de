"""``teamrec slack``: the Slack app's commands (extra ``teamrec[slack]``).

* ``teamrec slack sync`` reads the workspace (``SLACK_BOT_TOKEN``) into the event store and
  writes the channel and people metadata as a dataset folder;
* ``teamrec slack run`` serves the app: HTTP on ``--port`` (Slack posts to
  ``/slack/events``), or ``--socket`` for Socket Mode with no public URL (``SLACK_APP_TOKEN``);
* ``teamrec slack digest`` sends the digest to the people its rules allow, now.

Until the service layer serves the app, ``run`` and ``digest`` answer from a model fitted on
the store and the metadata folder (:class:`~teamrec.integrations.slack.local.ModelService`).
Slack's modules are imported inside the commands, so ``teamrec`` works without the extra.
"""

from __future__ import annotations

import importlib
import logging
import time
from pathlib import Path
from typing import Annotated, Any

import typer

from teamrec.cli._common import echo_json
from teamrec.errors import ConfigError

StoreOpt = Annotated[str, typer.Option("--store", envvar="TEAMREC_STORE", help="event store: a SQLite path or URL")]
TeamNameOpt = Annotated[str, typer.Option("--team", help="the teamrec team this workspace feeds")]
MetadataOpt = Annotated[
    Path, typer.Option("--metadata", help="folder for the channel and people metadata (a teamrec dataset)")
]
BaseUrlOpt = Annotated[str | None, typer.Option("--base-url", hidden=True, help="Web API base URL (tests)")]


def _need_slack() -> None:
    for module in ("slack_bolt", "slack_sdk"):
        try:
            importlib.import_module(module)
        except ImportError:
            raise ConfigError("the Slack app needs its extra: pip install 'teamrec[slack]'") from None


def register(app: typer.Typer) -> None:
    slack = typer.Typer(help="The Slack app: sync a workspace, serve App Home, commands and digests.",
                        no_args_is_help=True)
    app.add_typer(slack, name="slack")

    @slack.command("sync")
    def sync(
        team: TeamNameOpt,
        store: StoreOpt,
        metadata: MetadataOpt,
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
        team: TeamNameOpt,
        store: StoreOpt,
        metadata: MetadataOpt,
        socket: Annotated[bool, typer.Option("--socket", help="Socket Mode (no public URL; SLACK_APP_TOKEN)")] = False,
        host: Annotated[str, typer.Option(help="HTTP mode: interface")] = "127.0.0.1",
        port: Annotated[int, typer.Option(help="HTTP mode: port")] = 3000,
        command: Annotated[str, typer.Option(help="the slash command")] = "/channels",
        check: Annotated[bool, typer.Option("--check", help="build the app and exit (no connection)")] = False,
    ) -> None:
        """Serve the app (HTTP on --port, or --socket)."""
        _need_slack()
        from teamrec.integrations.slack.app import SlackSettings, create_slack_app
        from teamrec.integrations.slack.http import slack_router, socket_mode_handler
        from teamrec.integrations.slack.local import ModelService
        from teamrec.integrations.slack.sync import read_metadata
        from teamrec.store import open_store

        settings = SlackSettings.from_env(team, command=command)
        service = ModelService(open_store(store), read_metadata(metadata))
        bolt = create_slack_app(settings, service)
        if socket:
            handler = socket_mode_handler(bolt, settings)
            if check:
                typer.echo("ready: Socket Mode")
                return
            handler.start()
            return
        from fastapi import FastAPI

        web = FastAPI(title="teamrec Slack app")
        web.include_router(slack_router(bolt))
        if check:
            typer.echo(f"ready: HTTP on http://{host}:{port}/slack/events")
            return
        import uvicorn

        uvicorn.run(web, host=host, port=port, log_level="warning")

    @slack.command("digest")
    def digest(
        team: TeamNameOpt,
        store: StoreOpt,
        metadata: MetadataOpt,
        state: Annotated[Path, typer.Option("--state", help="digest state file (SQLite)")],
        base_url: BaseUrlOpt = None,
    ) -> None:
        """Send the digest now to everyone the rules allow; prints what happened per person."""
        _need_slack()
        from teamrec.integrations.slack.app import SlackSettings, send_digests
        from teamrec.integrations.slack.client import web_client
        from teamrec.integrations.slack.digest import DigestState
        from teamrec.integrations.slack.local import ModelService
        from teamrec.integrations.slack.sync import read_metadata
        from teamrec.store import open_store

        settings = SlackSettings.from_env(team)
        data = read_metadata(metadata)
        service = ModelService(open_store(store), data)
        people: list[Any] = data.users.loc[data.users["team"] == team, "user"].astype(str).tolist()
        outcome = send_digests(web_client(base_url=base_url), service, settings, DigestState(state), people)
        logging.getLogger(__name__).info("digest: %d sent", sum(v == "sent" for v in outcome.values()))
        echo_json(outcome)
