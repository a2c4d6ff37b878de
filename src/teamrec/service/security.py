"""API keys: who may read, write and administer which team.

Each key belongs to exactly one team and carries scopes (``read`` < ``write`` < ``admin``,
each including the ones before it). A key is sent as ``X-API-Key: KEY`` or
``Authorization: Bearer KEY`` -- never in the URL, where logs and referrers would keep it.

The rules, checked before the team is even looked up (so a key never learns whether another
team exists):

* a key that matches no configured key: 401;
* a valid key used on another team, or for a scope it lacks: 403;
* no key: reading is allowed unless ``read_keys`` is on; writing and admin need a key (401).

Presented keys are compared with :func:`hmac.compare_digest` against every configured key,
so the time taken does not reveal how much of a key was right or which one matched.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, HTTPException, Path, Request
from fastapi.security import APIKeyHeader

from teamrec.errors import AccessDeniedError
from teamrec.service.registry import TeamState
from teamrec.service.settings import KeySettings, Scope, Settings

api_key_header = APIKeyHeader(
    name="X-API-Key", auto_error=False, description="the team's API key (or send it as Authorization: Bearer KEY)"
)


class KeyRing:
    """The configured keys, matched in constant time per key."""

    def __init__(self, keys: list[KeySettings]) -> None:
        self._keys = [(k, k.key.get_secret_value().encode("utf-8")) for k in keys]

    def match(self, presented: str) -> KeySettings | None:
        given = presented.encode("utf-8")
        found = None
        for key, secret in self._keys:
            # No early exit: every key is compared, whichever matches.
            if hmac.compare_digest(given, secret) and found is None:
                found = key
        return found


def _unauthorized(message: str) -> HTTPException:
    return HTTPException(status_code=401, detail=message, headers={"WWW-Authenticate": 'Bearer realm="teamrec"'})


def presented_key(request: Request) -> str | None:
    """The key a request carries: ``X-API-Key``, else ``Authorization: Bearer``."""
    key = request.headers.get("x-api-key")
    if not key:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        key = token.strip() if scheme.lower() == "bearer" else None
    return key or None


def resolve_key(request: Request) -> KeySettings | None:
    """The configured key the request presents (None without one); 401 for a wrong key."""
    presented = presented_key(request)
    if presented is None:
        return None
    key = request.app.state.service.keyring.match(presented)
    if key is None:
        raise _unauthorized("invalid API key")
    return key


async def caller_key(
    request: Request, header: Annotated[str | None, Depends(api_key_header)] = None
) -> KeySettings | None:
    """:func:`resolve_key` as a dependency that also documents the ``X-API-Key`` scheme."""
    return resolve_key(request)


def check(settings: Settings, key: KeySettings | None, team: str, scope: Scope) -> None:
    """Raise unless ``key`` (or no key) may ``scope`` on ``team`` (see the module docstring)."""
    if key is None:
        if scope != "read" or settings.read_keys:
            raise _unauthorized(f"an API key with the {scope!r} scope is needed")
        return
    if key.team != team:
        raise AccessDeniedError("this key belongs to another team")
    if not key.allows(scope):
        raise AccessDeniedError(f"this key lacks the {scope!r} scope")


@dataclass(frozen=True)
class TeamAccess:
    """A request's team, its current model snapshot, and the key it came with."""

    team: str
    key: KeySettings | None
    state: TeamState


def team_access(scope: Scope):
    """A dependency: the path's team, after the key rules for ``scope``; 404 for a team not
    served here."""

    async def dependency(
        request: Request,
        team: Annotated[str, Path(description="the team's name", max_length=64)],
    ) -> TeamAccess:
        # The key is read from the request here rather than through a sub-dependency: this
        # runs on every request, and each dependency level costs (the OpenAPI document gets
        # the X-API-Key scheme on these routes from create_app).
        service = request.app.state.service
        key = resolve_key(request)
        check(service.settings, key, team, scope)
        return TeamAccess(team=team, key=key, state=service.registry.get(team))

    # The scope a route needs, for the guard that checks keys before a body is read
    # (teamrec.service.guard).
    dependency.scope = scope  # type: ignore[attr-defined]
    return dependency
