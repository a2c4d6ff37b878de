"""Items (channels, articles, ...): search for pickers, one item, and items like an item."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.concurrency import run_in_threadpool

from teamrec.errors import AccessDeniedError, UnknownIdError
from teamrec.service.api._deps import ERRORS, PREFIX, K, Limit, ReadTeam, Viewer, trusted_viewer
from teamrec.service.schemas import ItemRef, ItemSearchOut, SimilarItemsOut
from teamrec.service.security import TeamAccess

router = APIRouter(prefix=f"{PREFIX}/items", tags=["items"], responses=ERRORS)


def _item_ref(access: TeamAccess, item: str, viewer: str | None) -> dict[str, Any]:
    """The item, as its asker may see it. A private item is a 403 for a non-member named by
    the team's application, and for an anonymous reader the 404 of an unknown item: an
    open service must not confirm that a private channel of that name exists."""
    try:
        return access.state.index.item(item, viewer)
    except AccessDeniedError:
        if access.key is None:
            raise UnknownIdError("item", item) from None
        raise


@router.get("", response_model=ItemSearchOut)
async def search_items(access: ReadTeam, q: str = "", limit: Limit = 10, viewer: Viewer = None):
    """Items whose name contains ``q`` (largest first when ``q`` is empty), for pickers.
    Private items are listed only for their members (``viewer``, with the team's key)."""
    state = access.state
    viewer = trusted_viewer(access, viewer)
    return {"team": state.name, "query": q, "results": state.index.search_items(q, limit, viewer)}


@router.get("/{item}", response_model=ItemRef)
async def get_item(access: ReadTeam, item: str, viewer: Viewer = None):
    """One item by id or name; a private item only for its members."""
    return _item_ref(access, item, trusted_viewer(access, viewer))


@router.get("/{item}/similar", response_model=SimilarItemsOut)
async def similar_items(access: ReadTeam, item: str, k: K = 10, viewer: Viewer = None):
    """Items like ``item``, each with its reason ("8 of the 12 people in #ml are also in
    #bi"); private items only for their members, and a private ``item`` only to them."""
    state = access.state
    viewer = trusted_viewer(access, viewer)
    ref = _item_ref(access, item, viewer)
    results = await run_in_threadpool(state.model.similar_items, item, k, viewer=viewer)
    return {"team": state.name, "item": ref, "model_version": state.version, "results": [r.to_dict() for r in results]}
