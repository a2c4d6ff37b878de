"""The Web API client against the mock: paging, 429 Retry-After, Slack errors, token secrecy."""

from __future__ import annotations

import logging
import time

import pytest

from teamrec.errors import ConfigError
from teamrec.integrations.slack.client import SlackError, call, paginate, token_from_env, web_client

from .mock_slack import TOKEN


def test_paginate_follows_cursors(client, mock_slack, workspace):
    users = list(paginate(client, "users.list", "members", limit=10))
    assert [u["id"] for u in users] == [u["id"] for u in workspace.users]
    calls = mock_slack.calls_to("users.list")
    assert len(calls) == -(-len(workspace.users) // 10)
    assert "cursor" not in calls[0].params and all(c.params.get("cursor") for c in calls[1:])


def test_429_retry_after_is_honoured(client, mock_slack):
    mock_slack.rate_limit("users.list", times=2, retry_after=1)
    start = time.monotonic()
    users = list(paginate(client, "users.list", "members"))
    assert time.monotonic() - start >= 2.0  # slept Retry-After twice
    assert [c.status for c in mock_slack.calls_to("users.list")][:3] == [429, 429, 200]
    assert len(users) == 72


def test_too_many_429s_are_an_error(mock_slack):
    client = web_client(TOKEN, base_url=mock_slack.base_url, max_rate_limit_retries=1)
    mock_slack.rate_limit("users.list", times=5, retry_after=0)
    with pytest.raises(SlackError, match="users.list failed: ratelimited"):
        call(client, "users.list")


@pytest.mark.parametrize("channel, error", [("CNOSUCH", "channel_not_found"), (None, "not_in_channel")])
def test_slack_errors_name_method_and_code(client, workspace, channel, error):
    channel = channel or workspace.channel_by_name("all-community-building")["id"]
    with pytest.raises(SlackError) as info:
        call(client, "conversations.history", channel=channel)
    assert info.value.error == error
    assert str(info.value) == f"Slack conversations.history failed: {error}"


def test_private_channel_the_bot_is_not_in_is_invisible(client, workspace):
    hidden = workspace.channel_by_name("all-resources")["id"]
    both = "public_channel,private_channel"
    listed = {c["id"] for c in paginate(client, "conversations.list", "channels", types=both)}
    assert hidden not in listed
    assert workspace.channel_by_name("all-ideas")["id"] in listed
    with pytest.raises(SlackError, match="channel_not_found"):
        call(client, "conversations.members", channel=hidden)


def test_the_token_reaches_no_log_and_no_error(mock_slack, caplog):
    caplog.set_level(logging.DEBUG)
    good = web_client(TOKEN, base_url=mock_slack.base_url)
    list(paginate(good, "users.list", "members"))
    bad_token = "xoxb-wrong-9999-NOTTHESECRET"
    bad = web_client(bad_token, base_url=mock_slack.base_url)
    with pytest.raises(SlackError) as info:
        call(bad, "auth.test")
    assert info.value.error == "invalid_auth"
    assert "users.list" in caplog.text  # the debug log was on and did record the requests
    for secret in (TOKEN, bad_token, TOKEN.split("-")[-1]):
        assert secret not in caplog.text
        assert secret not in str(info.value) and secret not in repr(info.value)


def test_token_comes_from_the_environment():
    assert token_from_env({"SLACK_BOT_TOKEN": " xoxb-1 "}) == "xoxb-1"
    with pytest.raises(ConfigError, match="SLACK_BOT_TOKEN is not set"):
        token_from_env({})
