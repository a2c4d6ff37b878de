"""``GET /health``: answers 200 once every team's model is in service."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from teamrec import __version__
from teamrec.service.api._deps import ERRORS
from teamrec.service.schemas import HealthOut

router = APIRouter(tags=["health"])


@router.get("/health", response_model=HealthOut, responses={503: {"model": HealthOut}, 414: ERRORS[414]})
async def health(request: Request):
    """Liveness and readiness (names no team: it is open to anyone)."""
    registry = request.app.state.service.registry
    body = {"status": "ok" if registry.ready else "starting", "version": __version__, "teams": len(registry.names())}
    return body if registry.ready else JSONResponse(body, status_code=503)
