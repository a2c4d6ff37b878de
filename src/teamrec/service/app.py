"""The application factory: ``create_app(settings)`` builds one app per call, never at import.

The app holds a :class:`Service` (settings, event store, model registry, keys) in
``app.state.service``. Its lifespan loads or trains every team's model before the server
accepts a request, so ``/health`` answers once the service is ready. The web page is served
from ``/`` (``ui/index.html``, with ``/ui/app.js`` and ``/ui/style.css``): no build step. The
OpenAPI docs at ``/docs`` load Swagger UI from the installed ``swagger-ui-bundle-v2`` package,
not from a CDN, so they work on a machine with no network.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse
from fastapi.routing import APIRoute
from fastapi.staticfiles import StaticFiles
from swagger_ui_bundle import swagger_ui_path

from teamrec import __version__
from teamrec._steps import run_steps
from teamrec.errors import UnknownIdError
from teamrec.experiments.settings import Experiment, check_unchanged, fingerprint
from teamrec.integrations.slack.settings import SlackSettings
from teamrec.service import _errors, batch_models
from teamrec.service.api import ROUTERS
from teamrec.service.foreground import LoopSteps
from teamrec.service.guard import RequestGuard, route_reads_key, route_scope, route_table
from teamrec.service.online import Refresher
from teamrec.service.registry import ModelRegistry
from teamrec.service.security import KeyRing
from teamrec.service.settings import ImpressionLogSettings, Settings
from teamrec.service.teams import TeamService
from teamrec.store.base import EventStore, open_store
from teamrec.store.buffered_feedback import BufferedFeedbackLog
from teamrec.store.feedback import FeedbackLog, MemoryFeedbackLog, open_feedback_log

log = logging.getLogger("teamrec.service")

UI_DIR = Path(__file__).resolve().parent / "ui"

#: The page runs only its own script and talks only to this server; its URL (which may carry
#: ?key=) is never sent on as a referrer.
PAGE_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    ),
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-cache",
}


class Service:
    """What the routes share: settings, the event store, the models and the keys."""

    def __init__(self, settings: Settings, store: EventStore | None = None) -> None:
        self.settings = settings
        self._owns_store = store is None
        self.store: EventStore = store if store is not None else open_store(settings.database)
        #: What the surfaces mounted on the service hold open (the Slack digest state), closed
        #: with it, before the store.
        self._closers: list[Callable[[], None]] = []
        self.registry = ModelRegistry(settings, self.store)
        #: Impressions and feedback, in the event store's database, apart from its events.
        self.feedback_log: FeedbackLog = buffered(open_feedback_log(self.store), settings.impressions)
        self.keyring = KeyRing(settings.keys)
        online = settings.online
        self.refresher = Refresher(
            self.registry, refit_events=online.refit_events, refit_seconds=online.refit_seconds,
            retrain_seconds=online.retrain_seconds,
        )
        #: The application layer: one TeamService per team (what every surface calls).
        self.teams = {
            name: TeamService(name, team, self.registry, self.store, self.refresher,
                              feedback_log=self.feedback_log, experiments=settings.experiments)
            for name, team in settings.teams.items()
        }

    def team(self, name: str) -> TeamService:
        """The team's service; :class:`UnknownIdError` for a team not served here."""
        service = self.teams.get(name)
        if service is not None:
            return service
        if self.settings.batch is not None and self.registry.serves(name):
            # A team of the [batch] output: a light object per request (its model lives in the
            # registry, which bounds how many are loaded), so serving thousands keeps no per-team state.
            return TeamService(name, batch_models.team_settings(self.settings.batch, name), self.registry,
                               self.store, self.refresher, feedback_log=self.feedback_log)
        raise UnknownIdError("team", name)

    def start(self) -> None:
        """Load or train every team's model (once: a second call does nothing). A running
        experiment whose settings changed under the same name is refused first (ConfigError)."""
        check_experiments(self.settings.experiments, self.feedback_log)
        if not self.registry.ready:
            self.registry.start()
        self.refresher.start()

    def on_close(self, close: Callable[[], None]) -> None:
        """Have :meth:`close` call ``close`` (a surface's own resources; last added, first closed)."""
        self._closers.append(close)

    def close(self) -> None:
        self.refresher.stop()
        while self._closers:
            self._closers.pop()()
        self.feedback_log.close()
        self.registry.close()
        if self._owns_store:
            self.store.close()


def buffered(feedback_log: FeedbackLog, settings: ImpressionLogSettings) -> FeedbackLog:
    """``feedback_log`` behind a group-committing buffer (a durable log: one commit per flush
    instead of one per request), unless it is the in-memory log or ``flush_ms`` is 0."""
    if settings.flush_ms == 0 or isinstance(feedback_log, MemoryFeedbackLog):
        return feedback_log
    return BufferedFeedbackLog(feedback_log, flush_ms=settings.flush_ms, flush_rows=settings.flush_rows,
                               max_rows=settings.max_rows)


def check_experiments(experiments: tuple[Experiment, ...], feedback_log: FeedbackLog) -> None:
    """A running experiment is immutable: its fingerprint is stored (in the log's database) the
    first time it runs, and a changed experiment with the same name is refused with one line."""
    now = datetime.now(UTC)
    for experiment in experiments:
        check_unchanged(experiment, feedback_log.running_fingerprint(experiment.name), now)
        if experiment.is_running(now):
            feedback_log.record_fingerprint(experiment.name, fingerprint(experiment))


def create_app(settings: Settings, *, store: EventStore | None = None) -> FastAPI:
    """A new app for ``settings`` (``store`` replaces the configured event store, e.g. in tests;
    the app then leaves closing it to the caller)."""
    service = Service(settings, store)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        service.start()
        # Swaps after start-up run on this loop, a step at a time between requests.
        service.registry.foreground = LoopSteps(asyncio.get_running_loop())
        log.info("teamrec %s serving %d team(s): %s", __version__, len(settings.teams), ", ".join(settings.teams))
        try:
            yield
        finally:
            service.registry.foreground = run_steps  # the loop stops serving steps now
            service.close()

    app = FastAPI(
        title="teamrec",
        version=__version__,
        summary="Recommendations for workplaces: channels, items and people, per team.",
        lifespan=lifespan,
        docs_url=None,  # served below from local files
        redoc_url=None,
        debug=False,
    )
    app.state.service = service
    _errors.install(app)
    # Keys, URL and body sizes are checked before any body is read (teamrec.service.guard).
    app.add_middleware(RequestGuard, max_body_bytes=settings.max_body_bytes, max_url_bytes=settings.max_url_bytes)
    for router in ROUTERS:
        for route in router.routes:
            # Team routes read their key inside their dependency; say so in the OpenAPI
            # document: required for writing and admin, optional ({}) for reading unless
            # read_keys is on.
            # (A route that reads the key through the X-API-Key scheme already has it listed by
            # FastAPI, and openapi_extra's lists are appended to it.)
            needed, listed = route_scope(route), route_reads_key(route)
            if isinstance(route, APIRoute) and (needed is not None or listed):
                security: list[dict[str, list[str]]] = [] if listed else [{"APIKeyHeader": []}]
                if (needed or "read") == "read" and not settings.read_keys:
                    security.insert(0, {})
                route.openapi_extra = {**(route.openapi_extra or {}), "security": security}
        app.include_router(router)
    app.mount("/ui", StaticFiles(directory=UI_DIR), name="ui")
    app.mount("/docs-static", StaticFiles(directory=str(swagger_ui_path)), name="docs-static")

    @app.get("/docs", include_in_schema=False)
    async def docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=app.openapi_url or "/openapi.json",
            title="teamrec API",
            swagger_js_url="/docs-static/swagger-ui-bundle.js",
            swagger_css_url="/docs-static/swagger-ui.css",
            swagger_favicon_url="/docs-static/favicon-32x32.png",
        )

    @app.api_route("/", methods=["GET", "HEAD"], include_in_schema=False)
    async def page() -> FileResponse:
        return FileResponse(UI_DIR / "index.html", headers=PAGE_HEADERS)

    if settings.slack is not None:
        _mount_slack(app, service, settings.slack)
    # Every path's methods and key scope, for the guard (OPTIONS, 405, keys before bodies).
    own = [route for route in app.router.routes if isinstance(route, APIRoute)]
    app.state.route_table = route_table(
        [route for router in ROUTERS for route in router.routes] + own
        + [route for route in app.router.routes if getattr(route, "path", None) == app.openapi_url]
    )

    return app


def _mount_slack(app: FastAPI, service: Service, slack: SlackSettings) -> None:
    """The Slack app's endpoints (/slack/events, /slack/actions, /slack/commands) over the same
    team services, when the ``[slack]`` table is set and the extra is installed."""
    try:
        from teamrec.integrations.slack.http import mount
    except ImportError:
        log.warning("the settings have a [slack] table but the Slack packages are not installed: "
                    "pip install 'teamrec[slack]' (the /slack endpoints are not served)")
        return
    mount(app, service, slack)
    log.info("Slack app for team %s at /slack/events, /slack/actions, /slack/commands", slack.team)
