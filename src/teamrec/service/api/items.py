"""Items (channels, articles, ...): search for pickers, one item, and items like an item."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.concurrency import run_in_threadpool

from teamrec.service.api._deps import ERRORS, PREFIX, K, Limit, ReadTeam, Viewer
from teamrec.service.schemas import ItemRef, ItemSearchOut, SimilarItemsOut

router = APIRouter(prefix=f"{PREFIX}/items", tags=["items"], responses=ERRORS)


@router.get("", response_model=ItemSearchOut)
async def search_items(access: ReadTeam, q: str = "", limit: Limit = 10, viewer: Viewer = None):
    """Items whose name contains ``q`` (largest first when ``q`` is empty), for pickers.
    Private items are listed only for their members (``viewer``)."""
    state = access.state
    return {"team": state.name, "query": q, "results": state.index.search_items(q, limit, viewer)}


@router.get("/{item}", response_model=ItemRef)
async def get_item(access: ReadTeam, item: str, viewer: Viewer = None):
    """One item by id or name; a private item only for its members."""
    return access.state.index.item(item, viewer)


@router.get("/{item}/similar", response_model=SimilarItemsOut)
async def similar_items(access: ReadTeam, item: str, k: K = 10, viewer: Viewer = None):
    """Items like ``item``, each with its reason ("8 of the 12 people in #ml are also in
    #bi"); private items only for their members, and a private ``item`` only to them."""
    state = access.state
    ref = state.index.item(item, viewer)
    results = await run_in_threadpool(state.model.similar_items, item, k, viewer=viewer)
    return {"team": state.name, "item": ref, "model_version": state.version, "results": [r.to_dict() for r in results]}
