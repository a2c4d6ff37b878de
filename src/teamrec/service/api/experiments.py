"""Experiments (a key with ``admin``): the declared experiments and each one's report."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Query, Request, Response
from fastapi.concurrency import run_in_threadpool

from teamrec.service.api._deps import ERRORS, PREFIX, AdminTeam, team_service

router = APIRouter(prefix=f"{PREFIX}/experiments", tags=["experiments"], responses=ERRORS)

CHART_TYPES = {"png": "image/png", "svg": "image/svg+xml"}


@router.get("")
def list_experiments(access: AdminTeam, request: Request):
    """The declared experiments, whether this team takes part (in the rollout) and their arms."""
    service = team_service(request, access)
    serving = {e.name for e in service.experiments}
    return {
        "team": access.team,
        "experiments": [
            {"name": e.name, "unit": e.unit, "rollout": e.rollout, "start": e.start.isoformat(),
             "end": None if e.end is None else e.end.isoformat(), "arms": list(e.arm_names),
             "serving": e.name in serving}
            for e in service.declared
        ],
    }


@router.get("/{name}/report", responses={200: {"content": {"image/png": {}, "image/svg+xml": {}}}})
async def report(
    access: AdminTeam,
    request: Request,
    name: str,
    format: Literal["json", "png", "svg"] = Query("json", description="json: the tables; png or svg: the chart"),
):
    """The experiment's report from this team's logs: per arm units, impressions, clicks, CTR
    with its 95% interval; each arm's difference to the control; the sample-ratio check;
    explored against exploited; CTR by position. ``format=png|svg``: the chart."""
    service = team_service(request, access)
    result = await run_in_threadpool(service.report, name)
    if format == "json":
        return {"team": access.team, **result.to_dict()}
    chart = await run_in_threadpool(result.to_chart, format)
    return Response(chart, media_type=CHART_TYPES[format], headers={"Cache-Control": "no-store"})
