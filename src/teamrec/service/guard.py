"""Bounded work before authentication: the checks every request passes before a route runs.

An ASGI middleware in front of the app, so none of this waits for (or reads) a body:

* a path and query longer than ``max_url_bytes``: 414 with the JSON error shape;
* ``OPTIONS``: 204 with an ``Allow`` header listing every method of every route at that path
  (FastAPI keeps GET and POST of one path as two routes and would name only one);
* a team route's key rules (:func:`teamrec.service.security.check`, the scope the route
  declares) are applied *before* its body is read: an anonymous or wrong-key POST is refused
  with 401/403 without a byte of its body being parsed;
* a body larger than ``max_body_bytes`` is refused with 413: at once when ``Content-Length``
  says so, else as soon as the bytes streamed in pass the cap (never after reading it all).
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass
from typing import Any

from fastapi import HTTPException
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from teamrec.errors import AccessDeniedError
from teamrec.service._errors import error_body
from teamrec.service.security import caller_key, check, resolve_key

log = logging.getLogger("teamrec.service")

METHODS_WITH_BODY = {"POST", "PUT", "PATCH"}


class BodyTooLarge(HTTPException):
    """The body streamed in past the cap (raised from ``receive``; answered as 413)."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"the request body is larger than {limit} bytes")


class RequestGuard:
    """See the module docstring. ``app`` is the FastAPI app (its routes and settings)."""

    def __init__(self, app: ASGIApp, *, max_body_bytes: int, max_url_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.max_url_bytes = max_url_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        url_bytes = len(scope.get("raw_path") or scope["path"].encode()) + len(scope.get("query_string", b""))
        if url_bytes > self.max_url_bytes:
            await _send_error(send, 414, "uri_too_long", f"the URL is longer than {self.max_url_bytes} bytes")
            return
        method = scope["method"]
        if method == "OPTIONS":
            allowed = _allowed_methods(scope)
            if allowed:
                await _send(send, 204, b"", {"allow": ", ".join(allowed)})
                return
        if method in METHODS_WITH_BODY:
            refused = _refuse_before_body(scope)
            if refused is not None:
                await _send_error(send, *refused)
                return
            length = _content_length(scope)
            if length is not None and length > self.max_body_bytes:
                await _send_error(send, 413, "too_large",
                                  f"the request body is larger than {self.max_body_bytes} bytes", close=True)
                return
        started = False

        async def send_tracked(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, _capped(receive, self.max_body_bytes), send_tracked)
        except BodyTooLarge as exc:
            if started:
                raise
            await _send_error(send, 413, "too_large", str(exc.detail), close=True)


def _capped(receive: Receive, limit: int) -> Receive:
    seen = 0

    async def capped() -> Message:
        nonlocal seen
        message = await receive()
        if message["type"] == "http.request":
            seen += len(message.get("body", b""))
            if seen > limit:
                raise BodyTooLarge(limit)
        return message

    return capped


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", []):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


@dataclass(frozen=True)
class RouteEntry:
    """One route as the guard knows it: its path pattern, methods and key scope (None: no
    team route)."""

    path_regex: re.Pattern[str]
    methods: frozenset[str]
    scope: str | None


def route_table(routes: list[Any]) -> list[RouteEntry]:
    """The guard's view of ``routes`` (FastAPI/Starlette routes with a path pattern)."""
    return [RouteEntry(route.path_regex, frozenset(getattr(route, "methods", None) or ()), _scope_of(route))
            for route in routes if getattr(route, "path_regex", None) is not None]


def _routes(scope: Scope) -> list[RouteEntry]:
    """The app's routes whose path matches ``scope``'s, whatever their methods."""
    app = scope.get("app")
    table: list[RouteEntry] = getattr(getattr(app, "state", None), "route_table", None) or []
    path = scope["path"]
    return [entry for entry in table if entry.path_regex.match(path)]


def _allowed_methods(scope: Scope) -> list[str]:
    """Every method of every route at ``scope``'s path, plus OPTIONS (empty: no such path)."""
    methods: set[str] = set()
    for entry in _routes(scope):
        methods |= entry.methods
    if not methods:
        return []
    return sorted(methods | {"OPTIONS"})


def allowed_methods(scope: Scope) -> list[str]:
    """:func:`_allowed_methods` for the error handlers (a 405's ``Allow`` header)."""
    return _allowed_methods(scope)


def _refuse_before_body(scope: Scope) -> tuple[int, str, str] | None:
    """(status, code, message) when the key rules refuse this request outright; None: go on."""
    for entry in _routes(scope):
        if scope["method"] not in entry.methods:
            continue
        if entry.scope is None:
            return None
        match = entry.path_regex.match(scope["path"])
        team = match.groupdict().get("team", "") if match else ""
        try:
            key = resolve_key(Request(scope))
            check(scope["app"].state.service.settings, key, team, entry.scope)  # type: ignore[arg-type]
        except HTTPException as exc:
            return exc.status_code, "unauthorized" if exc.status_code == 401 else "forbidden", str(exc.detail)
        except AccessDeniedError as exc:
            return 403, "forbidden", str(exc)
        return None
    return None


def route_scope(route: Any) -> str | None:
    """The key scope a team route declares (None: not a team route)."""
    return _scope_of(route)


def route_reads_key(route: Any) -> bool:
    """Whether a route reads the caller's key without a team scope (the list of teams)."""
    dependant = getattr(route, "dependant", None)
    stack = list(dependant.dependencies) if dependant is not None else []
    while stack:
        dep = stack.pop()
        if dep.call is caller_key:
            return True
        stack.extend(dep.dependencies)
    return False


def _scope_of(route: Any) -> str | None:
    """The key scope a team route declares through its team dependency (None: no team route)."""
    dependant = getattr(route, "dependant", None)
    stack = list(dependant.dependencies) if dependant is not None else []
    while stack:
        dep = stack.pop()
        needed = getattr(dep.call, "scope", None)
        if isinstance(needed, str):
            return needed
        stack.extend(dep.dependencies)
    return None


async def _send(send: Send, status: int, body: bytes, headers: dict[str, str]) -> None:
    raw = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()]
    raw.append((b"content-length", str(len(body)).encode()))
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})


async def _send_error(send: Send, status: int, code: str, message: str, *, close: bool = False) -> None:
    headers = {"content-type": "application/json"}
    if status == 401:
        headers["www-authenticate"] = 'Bearer realm="teamrec"'
    if close:  # the rest of an unread body is not waited for
        headers["connection"] = "close"
    body = json.dumps(error_body(code, message), separators=(",", ":")).encode()
    await _send(send, status, body, headers)
