"""``POST /api/v1/teams/{team}/events``: ingest a batch of events (a key with ``write``)."""

from __future__ import annotations

import pandas as pd
from fastapi import APIRouter, Request

from teamrec.service import training
from teamrec.service.api._deps import ERRORS, PREFIX, WriteTeam
from teamrec.service.schemas import EventBatch, IngestOut

router = APIRouter(prefix=PREFIX, tags=["events"], responses=ERRORS)


@router.post("/events", response_model=IngestOut, status_code=201)
def ingest(access: WriteTeam, batch: EventBatch, request: Request):
    """Store a batch of events durably, all or nothing, before answering.

    A bad event refuses the whole batch with a 422 naming its index and field
    (``events[3].user``). Stored events join the team's model at its next retrain. Sending
    a ``batch_id`` again stores nothing twice (``duplicate: true``). ``unused_kinds`` names
    the batch's event kinds the team's matrix settings leave out: stored, but no model
    will learn from them unless the settings change.
    """
    service = request.app.state.service
    store = service.store
    events = batch.events
    frame = pd.DataFrame(
        {
            "user": [e.user for e in events],
            "item": [e.item for e in events],
            "kind": [e.kind for e in events],
            "value": [e.value for e in events],
            "timestamp": [e.epoch() for e in events],
        }
    )
    result = store.append(access.team, frame, batch_id=batch.batch_id)
    return {
        "team": access.team,
        "stored": result.stored,
        "duplicate": result.duplicate,
        "total": result.total,
        "since_training": max(0, result.total - access.state.store_events),
        "unused_kinds": _unused_kinds(service.settings.teams[access.team], access.state.info, frame),
    }


def _unused_kinds(team, info: dict, frame: pd.DataFrame) -> list[str]:
    kinds = training.matrix_config(team, info.get("format", team.format)).kinds
    if kinds is None:
        return []
    return sorted(set(frame["kind"]) - set(kinds))
