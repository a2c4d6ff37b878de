"""Running the app: its HTTP endpoints mounted in the teamrec service, and Socket Mode.

HTTP mode (``teamrec serve`` with a ``[slack]`` table in the settings): Slack posts events to
``/slack/events``, button presses to ``/slack/actions`` and the slash command to
``/slack/commands`` (the manifest names each); Bolt verifies the signature and the timestamp
(over 5 minutes old: refused), runs the listener (which acks at once) and answers. The Bolt
dispatch is synchronous, so it runs in the thread pool, never in the service's event loop.

Socket Mode (``teamrec slack run --socket``): the app opens a websocket to Slack with an
app-level token (``xapp-``), so it runs with no public URL, over the same service layer.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from fastapi import APIRouter, FastAPI, Request, Response
from slack_bolt import App
from slack_bolt.adapter.socket_mode import SocketModeHandler
from slack_bolt.adapter.starlette.handler import to_bolt_request, to_starlette_response
from slack_sdk import WebClient
from starlette.concurrency import run_in_threadpool

from teamrec.errors import ConfigError
from teamrec.integrations.slack.app import create_slack_app
from teamrec.integrations.slack.digest import DigestState
from teamrec.integrations.slack.settings import SlackSettings
from teamrec.integrations.slack.team import SlackTeam

if TYPE_CHECKING:
    from teamrec.service.app import Service

#: The endpoints Slack posts to (one Bolt dispatch behind all three).
PATHS = ("/slack/events", "/slack/actions", "/slack/commands")


def slack_router(app: App, paths: tuple[str, ...] = PATHS) -> APIRouter:
    """A FastAPI router with the endpoints Slack posts to."""
    router = APIRouter(tags=["slack"])

    async def slack_endpoint(request: Request) -> Response:
        body = await request.body()
        bolt_response = await run_in_threadpool(app.dispatch, to_bolt_request(request, body))
        return to_starlette_response(bolt_response)

    for path in paths:
        router.add_api_route(path, slack_endpoint, methods=["POST"], include_in_schema=False)
    return router


def bolt_app(service: Service, settings: SlackSettings, client: WebClient | None = None) -> App:
    """The Bolt app over the service's team ``settings.team`` (secrets from the environment);
    its digest state is closed when the service closes (the app's shutdown)."""
    settings = settings.with_env()
    team = SlackTeam(service.team(settings.team))
    state = DigestState(settings.digest_state or ":memory:")
    service.on_close(state.close)
    return create_slack_app(settings, team, client, digest_state=state)


def mount(web: FastAPI, service: Service, settings: SlackSettings) -> App:
    """Mount the Slack endpoints in the teamrec service's app (``create_app`` calls this)."""
    bolt = bolt_app(service, settings)
    web.include_router(slack_router(bolt))
    web.state.slack = bolt
    return bolt


def socket_mode_handler(app: App, settings: SlackSettings) -> SocketModeHandler:
    """The Socket Mode runner (call ``.start()`` to connect and serve until interrupted)."""
    if settings.app_token is None:
        raise ConfigError("Socket Mode needs an app-level token: set SLACK_APP_TOKEN (xapp-...)")
    return SocketModeHandler(app, settings.app_token.get_secret_value(), web_client=app.client)
