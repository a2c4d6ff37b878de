"""Fixtures of the Slack tests: the mock Web API server over the real export, a client, a
store synced from it once per session (copied per test), the teamrec service over that store
and metadata folder with the Slack app mounted, and signed requests."""

from __future__ import annotations

import hashlib
import hmac
import json
import shutil
import sqlite3
import time
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest

from teamrec.integrations.slack.client import web_client
from teamrec.integrations.slack.digest import DigestState
from teamrec.integrations.slack.sync import sync_workspace
from teamrec.service.app import create_app
from teamrec.service.settings import Settings
from teamrec.store import open_store

from .mock_slack import TOKEN, MockSlack, Workspace

with warnings.catch_warnings():
    # Starlette suggests httpx2 for its test client; httpx is what is installed.
    warnings.filterwarnings("ignore", message=".*starlette.testclient.*")
    from fastapi.testclient import TestClient  # noqa: F401 (re-exported to the tests)

#: The export's channels made private for the tests (the export has none): the bot is in the
#: first, not in the second, so the second must never be read or shown.
PRIVATE = {"all-ideas": True, "all-resources": False}
TEAM = "acme"
SIGNING_SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
PERSON = "U03U1FNPEUX"  # in 21 of the export's channels


@pytest.fixture(scope="session")
def export_workspace(slack_export_dir) -> Workspace:
    return Workspace.from_export(slack_export_dir, private=PRIVATE)


@pytest.fixture
def workspace(export_workspace) -> Workspace:
    return export_workspace.copy()


@pytest.fixture
def mock_slack(workspace) -> Iterator[MockSlack]:
    mock = MockSlack(workspace).start()
    yield mock
    mock.stop()


@pytest.fixture
def client(mock_slack):
    return web_client(TOKEN, base_url=mock_slack.base_url)


@pytest.fixture(scope="session")
def synced_once(export_workspace, tmp_path_factory) -> tuple[Path, Path]:
    """The whole workspace synced into a SQLite store and a metadata folder, once."""
    root = tmp_path_factory.mktemp("synced")
    mock = MockSlack(export_workspace.copy()).start()
    try:
        store = open_store(root / "events.sqlite3")
        sync_workspace(web_client(TOKEN, base_url=mock.base_url), store, TEAM, metadata_dir=root / "meta")
        store.close()
    finally:
        mock.stop()
    return root / "events.sqlite3", root / "meta"


@pytest.fixture
def synced(synced_once, tmp_path) -> tuple[Path, Path]:
    """A private copy of the synced store and metadata for one test."""
    db, meta = synced_once
    shutil.copy(db, tmp_path / "events.sqlite3")
    shutil.copytree(meta, tmp_path / "meta")
    return tmp_path / "events.sqlite3", tmp_path / "meta"


def sign(body: str, *, secret: str = SIGNING_SECRET, timestamp: int | None = None) -> dict[str, str]:
    """The headers Slack sends: ``v0=HMAC-SHA256(secret, "v0:{ts}:{body}")``."""
    ts = str(int(time.time()) if timestamp is None else timestamp)
    digest = hmac.new(secret.encode(), f"v0:{ts}:{body}".encode(), hashlib.sha256).hexdigest()
    return {"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": f"v0={digest}"}


def event_body(event: dict[str, Any], team_id: str = "T03U4J8HMUG") -> str:
    return json.dumps({"type": "event_callback", "team_id": team_id, "api_app_id": "A0TEAMREC",
                       "event": event, "event_id": f"Ev{abs(hash(json.dumps(event, sort_keys=True)))}",
                       "event_time": int(time.time())})


def action_body(user: str, action_id: str, value: str, *, home: bool = True, response_url: str | None = None,
                team_id: str = "T03U4J8HMUG") -> str:
    payload: dict[str, Any] = {
        "type": "block_actions", "user": {"id": user, "team_id": team_id}, "team": {"id": team_id},
        "api_app_id": "A0TEAMREC", "trigger_id": "1.2.3",
        "actions": [{"type": "button", "action_id": action_id, "block_id": "act_1", "value": value,
                     "action_ts": str(time.time())}],
    }
    if home:
        payload["container"] = {"type": "view", "view_id": "V1"}
        payload["view"] = {"id": "V1", "type": "home"}
    else:
        payload["container"] = {"type": "message", "channel_id": "D1", "message_ts": "1.1"}
        payload["channel"] = {"id": "D1"}
    if response_url:
        payload["response_url"] = response_url
    return urlencode({"payload": json.dumps(payload)})


def command_body(user: str, response_url: str, *, command: str = "/channels", channel: str = "C03T0APHX63",
                 team_id: str = "T03U4J8HMUG") -> str:
    return urlencode({"command": command, "text": "", "user_id": user, "team_id": team_id, "channel_id": channel,
                      "response_url": response_url, "trigger_id": "1.2.3", "api_app_id": "A0TEAMREC"})


def wait_for(predicate: Callable[[], Any], timeout: float = 20.0) -> Any:
    """Poll until ``predicate()`` is truthy (lazy listeners run after the ack, in threads)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError("timed out waiting for the lazy listener")


def service_settings(db: Path, meta: Path, *, api_url: str | None = None, **slack: Any) -> Settings:
    """The service's settings for the synced workspace: the team's source is the metadata
    folder the sync wrote, its events are the store's, and the ``[slack]`` table mounts the app."""
    return Settings.model_validate({
        "mode": "development", "database": str(db), "access_log": False,
        "online": {"refit_events": 0, "refit_seconds": None},
        "teams": {TEAM: {"source": str(meta), "format": "teamrec"}},
        "slack": {"team": TEAM, "bot_token": TOKEN, "signing_secret": SIGNING_SECRET, "api_url": api_url, **slack},
    })


@pytest.fixture
def stack(synced, mock_slack):
    """``(http, team, mock, store)``: the real service (create_app) with the Slack app mounted,
    its :class:`SlackTeam`, the mock workspace and the service's event store."""
    db, meta = synced
    app = create_app(service_settings(db, meta, api_url=mock_slack.base_url))
    with TestClient(app) as http:
        service = app.state.service
        yield http, app.state.slack._teamrec["team"], mock_slack, service.store


@pytest.fixture
def digest_states(monkeypatch) -> list[DigestState]:
    """Every :class:`DigestState` opened during the test, to check that each was closed."""
    opened: list[DigestState] = []
    real_init = DigestState.__init__

    def tracked(self, *args, **kwargs):
        real_init(self, *args, **kwargs)
        opened.append(self)

    monkeypatch.setattr(DigestState, "__init__", tracked)
    return opened


def is_closed(state: DigestState) -> bool:
    """Whether the state's SQLite connection was closed (using a closed one raises)."""
    try:
        state.get(TEAM, [PERSON])
    except sqlite3.ProgrammingError:
        return True
    return False


def post(http, body: str, content_type: str, path: str | None = None, **sign_args):
    """A signed POST to the mounted endpoint: ``/slack/actions`` for button presses, else ``/slack/events``."""
    if path is None:
        path = "/slack/actions" if body.startswith("payload=") else "/slack/events"
    headers = {"Content-Type": content_type, **sign(body, **sign_args)}
    return http.post(path, content=body, headers=headers)


