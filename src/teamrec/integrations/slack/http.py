"""Running the app: HTTP mode (a router mounted in the teamrec service) and Socket Mode.

HTTP mode: Slack posts events, commands and button presses to one URL
(``/slack/events``); Bolt verifies the signature and timestamp, runs the listener (which
acks at once) and answers. The Bolt dispatch is synchronous, so it runs in the thread pool,
never in the service's event loop.

Socket Mode: the app opens a websocket to Slack with an app-level token (``xapp-``), so it
runs with no public URL (a laptop, behind a firewall).
"""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from slack_bolt import App
from slack_bolt.adapter.socket_mode import SocketModeHandler
from slack_bolt.adapter.starlette.handler import to_bolt_request, to_starlette_response
from starlette.concurrency import run_in_threadpool

from teamrec.errors import ConfigError
from teamrec.integrations.slack.app import SlackSettings

EVENTS_PATH = "/slack/events"


def slack_router(app: App, path: str = EVENTS_PATH) -> APIRouter:
    """A FastAPI router with the one endpoint Slack posts to (mount it in the service)."""
    router = APIRouter(tags=["slack"])

    @router.post(path, include_in_schema=False)
    async def slack_events(request: Request) -> Response:
        body = await request.body()
        bolt_response = await run_in_threadpool(app.dispatch, to_bolt_request(request, body))
        return to_starlette_response(bolt_response)

    return router


def socket_mode_handler(app: App, settings: SlackSettings) -> SocketModeHandler:
    """The Socket Mode runner (call ``.start()`` to connect and serve until interrupted)."""
    if settings.app_token is None:
        raise ConfigError("Socket Mode needs an app-level token: set SLACK_APP_TOKEN (xapp-...)")
    return SocketModeHandler(app, settings.app_token.get_secret_value(), web_client=app.client)
