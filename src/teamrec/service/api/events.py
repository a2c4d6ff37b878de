"""Events and feedback (a key with ``write``): ingest a batch; a person's action on a recommendation."""

from __future__ import annotations

from datetime import UTC

import pandas as pd
from fastapi import APIRouter, Request

from teamrec.service.api._deps import ERRORS, PREFIX, WriteTeam, caller, team_service
from teamrec.service.schemas import EventBatch, FeedbackIn, FeedbackOut, IngestOut

router = APIRouter(prefix=PREFIX, tags=["events"], responses=ERRORS)


def _out(access, ingested) -> dict:
    result = ingested.stored
    return {
        "team": access.team,
        "stored": result.stored,
        "duplicate": result.duplicate,
        "total": result.total,
        "since_training": ingested.since_training,
        "unused_kinds": ingested.unused_kinds,
    }


@router.post("/events", response_model=IngestOut, status_code=201)
def ingest(access: WriteTeam, batch: EventBatch, request: Request):
    """Store a batch of events durably, all or nothing, before answering; from the next
    request on they count in the recommendations of the people they are about (the model
    itself is refitted in the background). An event of kind ``leave`` ends a membership: the
    item leaves the person's data and is never recommended back to them.

    A bad event refuses the whole batch with a 422 naming its index and field
    (``events[3].user``). Sending a ``batch_id`` again stores nothing twice (``duplicate:
    true``). ``unused_kinds`` names the batch's event kinds the team's matrix settings leave
    out: stored, but no model will learn from them unless the settings change.
    """
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
    ingested = team_service(request, access).ingest(caller(access), frame, batch_id=batch.batch_id)
    return _out(access, ingested)


@router.post("/feedback", response_model=FeedbackOut, status_code=201)
def feedback(access: WriteTeam, body: FeedbackIn, request: Request):
    """A person's action on an item of a recommendation they were shown (its
    ``recommendation_id``): ``click``, ``join``, ``dismiss``, ``rate_up`` or ``rate_down``.

    It is logged for the experiments' reports. ``dismiss`` ("not interested") means the item
    is never recommended to them again; a ``join`` or a rating is also a learning event (which
    kind: the team's ``feedback_events``) and changes their recommendations from the next
    request on. An unknown recommendation, another person's (404), an item it did not show or
    the same action given twice (422) store nothing."""
    at = None
    if body.timestamp is not None:
        stamp = body.timestamp if body.timestamp.tzinfo is not None else body.timestamp.replace(tzinfo=UTC)
        at = stamp.timestamp()
    result = team_service(request, access).feedback(
        caller(access), body.user, body.item, body.action, recommendation_id=body.recommendation_id,
        surface=body.surface, timestamp=at,
    )
    return {"team": result.team, "recommendation_id": result.recommendation_id, "user": result.user,
            "item": result.item, "action": result.action, "event_kind": result.event_kind,
            "stored": 0 if result.stored is None else result.stored.stored}
