"""The Slack Web API client teamrec uses: token from the environment, retries, paging, errors.

* The bot token comes from ``SLACK_BOT_TOKEN`` (or is passed in); it is never logged and never
  put in an error message: slack_sdk redacts the ``Authorization`` header in its debug log,
  and :func:`call` turns a failed call into a :class:`SlackError` that names only the method
  and Slack's error code.
* Slack's tiered rate limits answer HTTP 429 with ``Retry-After``; slack_sdk's
  :class:`~slack_sdk.http_retry.builtin_handlers.RateLimitErrorRetryHandler` sleeps that long
  and retries, up to ``max_rate_limit_retries`` times.
* :func:`paginate` follows ``response_metadata.next_cursor`` until it is empty.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.http_retry.builtin_handlers import RateLimitErrorRetryHandler

from teamrec.errors import ConfigError, TeamrecError

log = logging.getLogger(__name__)

TOKEN_ENV = "SLACK_BOT_TOKEN"
#: Slack's recommended page size for cursor-paginated methods.
PAGE_SIZE = 200


class SlackError(TeamrecError):
    """A Slack Web API call that failed; ``error`` is Slack's code (``not_in_channel``...)."""

    def __init__(self, method: str, error: str) -> None:
        self.method = method
        self.error = error
        super().__init__(f"Slack {method} failed: {error}")


def token_from_env(env: dict[str, str] | None = None) -> str:
    """The bot token from ``SLACK_BOT_TOKEN``; a :class:`ConfigError` if it is unset."""
    token = (env if env is not None else os.environ).get(TOKEN_ENV, "").strip()
    if not token:
        raise ConfigError(f"{TOKEN_ENV} is not set: export the app's bot token (xoxb-...)")
    return token


def web_client(token: str | None = None, *, base_url: str | None = None, max_rate_limit_retries: int = 5,
               timeout: int = 30) -> WebClient:
    """A :class:`WebClient` that honours 429 ``Retry-After``; ``base_url`` points it elsewhere (tests)."""
    kwargs: dict[str, Any] = {"token": token or token_from_env(), "timeout": timeout}
    if base_url:
        kwargs["base_url"] = base_url
    client = WebClient(**kwargs)
    client.retry_handlers.append(RateLimitErrorRetryHandler(max_retry_count=max_rate_limit_retries))
    return client


def call(client: WebClient, method: str, **params: Any) -> dict[str, Any]:
    """Call ``method``; a failure is a :class:`SlackError` with Slack's error code only."""
    try:
        if any(isinstance(v, (dict, list)) for v in params.values()):  # views, blocks: a JSON body
            response = client.api_call(method, json=params)
        else:
            response = client.api_call(method, params=params)
    except SlackApiError as exc:
        error = exc.response.get("error") if exc.response is not None else None
        status = exc.response.status_code if exc.response is not None else None
        raise SlackError(method, str(error or f"HTTP {status}")) from None
    except SlackClientError as exc:
        raise SlackError(method, type(exc).__name__) from None
    except OSError as exc:  # connection refused, timeouts: name the kind, not the request
        raise SlackError(method, f"network error ({type(exc).__name__})") from None
    return dict(response.data) if isinstance(response.data, dict) else {}


def paginate(client: WebClient, method: str, key: str, *, limit: int = PAGE_SIZE, **params: Any) -> Iterator[Any]:
    """Every entry of ``key`` over all pages of a cursor-paginated ``method``."""
    cursor = ""
    while True:
        page_params = {**params, "limit": limit}
        if cursor:
            page_params["cursor"] = cursor
        data = call(client, method, **page_params)
        yield from data.get(key) or []
        cursor = (data.get("response_metadata") or {}).get("next_cursor") or ""
        if not cursor:
            return
