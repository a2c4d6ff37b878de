"""The team's model: what it is and what it learnt from; retrain it (a key with ``admin``)."""

from __future__ import annotations

import logging
import threading
from datetime import UTC, datetime

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from teamrec.algorithms.auto import choice_of
from teamrec.service.api._deps import ERRORS, PREFIX, AdminTeam, ReadTeam
from teamrec.service.schemas import ModelOut

router = APIRouter(prefix=f"{PREFIX}/model", tags=["model"], responses=ERRORS)
log = logging.getLogger(__name__)


def model_info(service, state) -> dict:
    model = state.model
    stored_now = service.store.count(state.name)
    return {
        "team": state.name,
        "algorithm": model.algorithm.name,
        "params": model.algorithm.get_params(),
        "model_version": state.version,
        "trained_at": datetime.fromtimestamp(state.trained_at, tz=UTC),
        "train_seconds": round(state.train_seconds, 4),
        "people": model.data.n_users,
        "items": model.data.n_items,
        "item_kind": model.data.item_kind,
        "private_items": int(state.index.private.sum()),
        "interactions": int(model.data.matrix.nnz),
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
    return model_info(request.app.state.service, access.state)


def _failure(failure: dict | None) -> dict | None:
    if failure is None:
        return None
    return {"at": datetime.fromtimestamp(failure["at"], tz=UTC), "message": failure["message"]}


@router.post("/retrain", response_model=ModelOut, responses={202: {"model": ModelOut}})
def retrain(access: AdminTeam, request: Request, wait: bool = True):
    """Refit the team's model on its source plus every stored event, then swap it in
    atomically: requests during the retrain are answered by the old model, none fails.
    With ``wait=false`` the retrain runs in the background (202)."""
    service = request.app.state.service
    if wait:
        return model_info(service, service.registry.retrain(access.team))

    def run() -> None:
        try:
            service.registry.retrain(access.team)
        except Exception:
            log.exception("background retrain of team %s failed", access.team)

    threading.Thread(target=run, name=f"retrain-{access.team}", daemon=True).start()
    info = model_info(service, access.state)
    info["retraining"] = True
    return JSONResponse(ModelOut.model_validate(info).model_dump(mode="json"), status_code=202)
