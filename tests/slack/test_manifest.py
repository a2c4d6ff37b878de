"""The app manifest asks for exactly the scopes the code's calls, events and command need."""

from __future__ import annotations

import ast
from pathlib import Path

import yaml

import teamrec.integrations.slack as slack_pkg
from teamrec.integrations.slack.events import EVENT_TYPES
from teamrec.integrations.slack.http import PATHS
from teamrec.integrations.slack.scopes import METHOD_SCOPES, scopes_for, subscriptions
from teamrec.integrations.slack.settings import SlackSettings

PACKAGE = Path(slack_pkg.__file__).parent
MANIFEST = yaml.safe_load((PACKAGE / "manifest.yml").read_text())


def methods_called() -> set[str]:
    """Every Web API method named in the code: ``call(client, "m")`` and ``paginate(client, "m", ...)``."""
    found: set[str] = set()
    for path in PACKAGE.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in ("call", "paginate")
                    and len(node.args) >= 2 and isinstance(node.args[1], ast.Constant)):
                found.add(node.args[1].value)
    return found


def test_the_code_calls_only_methods_with_known_scopes():
    called = methods_called()
    assert {"users.list", "conversations.history", "views.publish", "chat.postMessage"} <= called
    assert called <= set(METHOD_SCOPES), called - set(METHOD_SCOPES)


def test_manifest_scopes_are_exactly_the_ones_used():
    events = subscriptions(EVENT_TYPES)
    assert set(MANIFEST["settings"]["event_subscriptions"]["bot_events"]) == events
    needed = scopes_for(methods_called() | {"auth.test"}, events)
    assert set(MANIFEST["oauth_config"]["scopes"]["bot"]) == needed
    assert "user" not in MANIFEST["oauth_config"]["scopes"]  # no user token: Join is a link


def test_manifest_command_and_urls():
    default = SlackSettings.model_fields["command"].default
    assert [c["command"] for c in MANIFEST["features"]["slash_commands"]] == [default]
    urls = (MANIFEST["settings"]["event_subscriptions"]["request_url"],
            MANIFEST["settings"]["interactivity"]["request_url"],
            MANIFEST["features"]["slash_commands"][0]["url"])
    assert tuple("/" + u.split("/", 3)[3] for u in urls) == PATHS  # the endpoints the service mounts
    assert MANIFEST["features"]["app_home"]["home_tab_enabled"] is True
