"""Shared route pieces: the team dependencies per scope and the common query options."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, HTTPException, Query, Request

from teamrec.service.schemas import MAX_K, ErrorOut
from teamrec.service.security import TeamAccess, team_access
from teamrec.service.teams import Caller, TeamService

PREFIX = "/api/v1/teams/{team}"

ReadTeam = Annotated[TeamAccess, Depends(team_access("read"))]
WriteTeam = Annotated[TeamAccess, Depends(team_access("write"))]
AdminTeam = Annotated[TeamAccess, Depends(team_access("admin"))]

K = Annotated[int, Query(ge=1, le=MAX_K, description="how many results")]
Limit = Annotated[int, Query(ge=1, le=100, description="how many matches")]
Viewer = Annotated[
    str | None,
    Query(description=(
        "the person asking (needs the team's API key): private items they are a member of "
        "become visible to them"
    )),
]


def trusted_viewer(access: TeamAccess, viewer: str | None) -> str | None:
    """``viewer`` when the caller may say who is asking: only a caller with the team's key
    (the team's own application) is trusted to name a person. An anonymous reader sees
    public items only, so naming a viewer without a key is a 401, not silently ignored."""
    if viewer is not None and access.key is None:
        raise HTTPException(401, "viewer= needs the team's API key; without one only public items are shown")
    return viewer


def caller(access: TeamAccess, viewer: str | None = None) -> Caller:
    """The service layer's :class:`Caller` for this request: trusted when it came with the
    team's key (and then it may name the ``viewer``); an anonymous reader sees public items
    only, because nothing says the asker is the person asked about."""
    return Caller(trusted=access.key is not None, viewer=trusted_viewer(access, viewer))


def team_service(request: Request, access: TeamAccess) -> TeamService:
    """The application layer's service for the request's team."""
    return request.app.state.service.team(access.team)

#: Error responses every team route may give, for the OpenAPI document: every one has the
#: project's own error body (ErrorOut), 422 included (not FastAPI's default shape).
ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorOut, "description": "a request the team's settings cannot answer"},
    401: {"model": ErrorOut, "description": "no key or a wrong key where one is needed"},
    403: {"model": ErrorOut,
          "description": "the key belongs to another team or lacks the scope; a private item for a non-member"},
    404: {"model": ErrorOut, "description": "unknown team, item or person"},
    413: {"model": ErrorOut, "description": "the request body is larger than the service accepts"},
    414: {"model": ErrorOut, "description": "the URL is longer than the service accepts"},
    422: {"model": ErrorOut, "description": "a parameter or a body field is invalid (named in the message)"},
}
