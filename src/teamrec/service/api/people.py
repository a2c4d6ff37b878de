"""People: search for pickers, one person, recommendations for a person, people like them."""

from __future__ import annotations

import json
from typing import Annotated

from fastapi import APIRouter, Query, Response
from fastapi.concurrency import run_in_threadpool

from teamrec.service.api._deps import ERRORS, PREFIX, K, Limit, ReadTeam, public_only
from teamrec.service.schemas import PeopleSearchOut, PersonRef, RecommendationsOut, RecommendIn, SimilarPeopleOut

router = APIRouter(prefix=f"{PREFIX}/people", tags=["people"], responses=ERRORS)


@router.get("", response_model=PeopleSearchOut)
async def search_people(access: ReadTeam, q: str = "", limit: Limit = 10):
    """People whose name or handle contains ``q`` (the most active first when empty)."""
    state = access.state
    return {"team": state.name, "query": q, "results": state.index.search_people(q, limit)}


@router.get("/{user}", response_model=PersonRef)
async def get_person(access: ReadTeam, user: str):
    """One person by id, name or handle."""
    index = access.state.index
    return index.person_ref(index.user_index(user))


async def _recommend(access, user: str, k: int, exclude: list[str], candidates: list[str] | None, explain: bool):
    state = access.state
    options = {"exclude": exclude, "candidates": candidates, "public_only": public_only(access)}
    if explain:  # reasons are computed per result: off the event loop
        results = await run_in_threadpool(state.index.recommend, user, k, explain=True, **options)
    else:  # the hot path: a few hundred microseconds, answered inline
        results = state.index.recommend(user, k, **options)
    body = {"team": state.name, "user": user, "model_version": state.version, "results": results}
    # Built from plain str/float/None values in the RecommendationsOut shape (a test checks
    # it against the schema), so it is written out directly instead of validated again.
    return Response(json.dumps(body, separators=(",", ":"), allow_nan=False), media_type="application/json")


@router.get("/{user}/recommendations", response_model=RecommendationsOut)
async def recommendations(
    access: ReadTeam,
    user: str,
    k: K = 10,
    exclude: Annotated[list[str], Query(description="item ids never to return (repeatable)")] = [],  # noqa: B006
    candidates: Annotated[list[str] | None, Query(description="only rank these item ids (repeatable)")] = None,
    explain: bool = False,
):
    """The ``k`` items ``user`` should look at, best first; with ``explain`` each has its
    reason. Someone the model has never seen gets the popular public items. Private items
    reach only their members, and only through the team's key (an anonymous reader gets
    public items only); what the person already has is left out."""
    return await _recommend(access, user, k, exclude, candidates, explain)


@router.post("/{user}/recommendations", response_model=RecommendationsOut)
async def recommendations_post(access: ReadTeam, user: str, body: RecommendIn):
    """The same as the GET, with the options in a JSON body (for long lists)."""
    return await _recommend(access, user, body.k, body.exclude, body.candidates, body.explain)


@router.get("/{user}/similar", response_model=SimilarPeopleOut)
async def similar_people(access: ReadTeam, user: str, k: K = 10):
    """People like ``user``, each with what they share: counting and naming only items
    ``user`` may see, and only public ones for a caller without the team's key."""
    state = access.state
    ref = state.index.person_ref(state.index.user_index(user))
    results = await run_in_threadpool(state.model.similar_users, user, k, public_only=public_only(access))
    return {"team": state.name, "user": ref, "model_version": state.version, "results": [r.to_dict() for r in results]}
