"""Items (channels, articles, ...): search for pickers, one item, and items like an item.

Every route is a thin caller of the team's :class:`~teamrec.service.teams.TeamService`, which
applies the privacy rules.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool

from teamrec.service.api._deps import ERRORS, PREFIX, K, Limit, ReadTeam, Viewer, caller, team_service
from teamrec.service.schemas import ItemRef, ItemSearchOut, SimilarItemsOut

router = APIRouter(prefix=f"{PREFIX}/items", tags=["items"], responses=ERRORS)


@router.get("", response_model=ItemSearchOut)
async def search_items(access: ReadTeam, request: Request, q: str = "", limit: Limit = 10, viewer: Viewer = None):
    """Items whose name contains ``q`` (largest first when ``q`` is empty), for pickers.
    Private items are listed only for their members (``viewer``, with the team's key)."""
    results = team_service(request, access).search_items(caller(access, viewer), q, limit)
    return {"team": access.team, "query": q, "results": results}


@router.get("/{item}", response_model=ItemRef)
async def get_item(access: ReadTeam, request: Request, item: str, viewer: Viewer = None):
    """One item by id or name; a private item only for its members."""
    return team_service(request, access).item(caller(access, viewer), item)


@router.get("/{item}/similar", response_model=SimilarItemsOut)
async def similar_items(access: ReadTeam, request: Request, item: str, k: K = 10, viewer: Viewer = None):
    """Items like ``item``, each with its reason ("8 of the 12 people in #ml are also in
    #bi"); private items only for their members, and a private ``item`` only to them."""
    answer = await run_in_threadpool(team_service(request, access).similar_items, caller(access, viewer), item, k)
    return {"team": answer.team, "item": answer.subject["item"], "model_version": answer.model_version,
            "results": [r.to_dict() for r in answer.results]}
