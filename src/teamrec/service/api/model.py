"""The team's model: what it is and what it learnt from; retrain it (a key with ``admin``)."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from teamrec.algorithms.auto import choice_of
from teamrec.service.api._deps import ERRORS, PREFIX, AdminTeam, ReadTeam, caller
from teamrec.service.schemas import ModelOut
from teamrec.service.teams import Caller

router = APIRouter(prefix=f"{PREFIX}/model", tags=["model"], responses=ERRORS)
log = logging.getLogger(__name__)


def model_info(service, state, caller: Caller) -> dict:
    """The model's description as ``caller`` may know it (an anonymous reader is not told
    how many private items there are, nor counts that include them)."""
    model = state.model
    stored_now = service.store.count(state.name)
    figures = service.team(state.name).model_figures(caller, state)
    return {
        "team": state.name,
        "algorithm": model.algorithm.name,
        "params": model.algorithm.get_params(),
        "model_version": state.version,
        "trained_at": datetime.fromtimestamp(state.trained_at, tz=UTC),
        "train_seconds": round(state.train_seconds, 4),
        "people": model.data.n_users,
        "items": figures["items"],
        "item_kind": model.data.item_kind,
        "private_items": figures["private_items"],
        "interactions": figures["interactions"],
        "format": state.info.get("format"),
        "source": state.info.get("source"),
        "events": {
            "source": state.info.get("source_events"),
            "store": state.store_events,
            "stored_now": stored_now,
            "since_training": max(0, stored_now - state.store_events),
        },
        "retraining": state.name in service.registry.retraining,
        "last_retrain_error": _failure(service.registry.failures.get(state.name)),
        "choice": choice_of(model.algorithm),
    }


@router.get("", response_model=ModelOut)
def get_model(access: ReadTeam, request: Request):
    """The algorithm and its parameters, the model's version and age, and its data."""
    return model_info(request.app.state.service, access.state, caller(access))


def _failure(failure: dict | None) -> dict | None:
    if failure is None:
        return None
    return {"at": datetime.fromtimestamp(failure["at"], tz=UTC), "message": failure["message"]}


@router.post("/retrain", response_model=ModelOut, responses={202: {"model": ModelOut}})
async def retrain(access: AdminTeam, request: Request, wait: bool = True):
    """Refit the team's model on its source plus every stored event (in a worker process),
    then swap it in atomically: requests during the retrain are answered by the old model,
    none fails or waits. Requests that arrive while a retrain runs share the one queued
    behind it. With ``wait=false`` the retrain runs in the background (202)."""
    service = request.app.state.service
    future = service.registry.submit(access.team, full=True)
    if wait:  # awaited, not a thread held: any number of waiting callers cost no thread
        # Shielded: a caller that goes away must not cancel the retrain the others share.
        state = await asyncio.shield(asyncio.wrap_future(future))
        return model_info(service, state, caller(access))
    future.add_done_callback(_log_failure(access.team))
    info = model_info(service, access.state, caller(access))
    info["retraining"] = True
    return JSONResponse(ModelOut.model_validate(info).model_dump(mode="json"), status_code=202)


def _log_failure(team: str):
    def done(future) -> None:
        if not future.cancelled() and future.exception() is not None:
            log.warning("background retrain of team %s failed: %s", team, future.exception())

    return done
