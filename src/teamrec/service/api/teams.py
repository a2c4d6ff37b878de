"""``GET /api/v1/teams``: the teams the caller may read (with a key: its own team only)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request

from teamrec.service.api._deps import ERRORS
from teamrec.service.schemas import TeamsOut
from teamrec.service.security import KeySettings, caller_key, check

router = APIRouter(prefix="/api/v1", tags=["teams"],
                   responses={code: ERRORS[code] for code in (401, 403, 414, 422)})


@router.get("/teams", response_model=TeamsOut)
async def list_teams(request: Request, key: Annotated[KeySettings | None, Depends(caller_key)]):
    service = request.app.state.service
    names = [key.team] if key is not None else service.registry.names()
    out = []
    for name in names:
        check(service.settings, key, name, "read")
        state = service.registry.get(name)
        out.append({
            "name": name,
            "people": state.index.n_users,
            "items": state.index.n_items if key is not None else state.index.n_public_items,
            "algorithm": state.model.algorithm.name,
            "model_version": state.version,
        })
    return {"teams": out}
