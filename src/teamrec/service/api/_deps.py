"""Shared route pieces: the team dependencies per scope and the common query options."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Query

from teamrec.service.schemas import MAX_K
from teamrec.service.security import TeamAccess, team_access

PREFIX = "/api/v1/teams/{team}"

ReadTeam = Annotated[TeamAccess, Depends(team_access("read"))]
WriteTeam = Annotated[TeamAccess, Depends(team_access("write"))]
AdminTeam = Annotated[TeamAccess, Depends(team_access("admin"))]

K = Annotated[int, Query(ge=1, le=MAX_K, description="how many results")]
Limit = Annotated[int, Query(ge=1, le=100, description="how many matches")]
Viewer = Annotated[
    str | None,
    Query(description="the person asking: private items they are a member of become visible to them"),
]

#: Error responses every team route may give, for the OpenAPI document.
ERRORS = {
    401: {"description": "no key or a wrong key where one is needed"},
    403: {"description": "the key belongs to another team or lacks the scope; a private item for a non-member"},
    404: {"description": "unknown team, item or person"},
}
