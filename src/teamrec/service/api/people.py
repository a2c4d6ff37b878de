"""People: search for pickers, one person, recommendations for a person, people like them.

Every route is a thin caller of the team's :class:`~teamrec.service.teams.TeamService`.
"""

from __future__ import annotations

import json
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from fastapi.concurrency import run_in_threadpool

from teamrec.service.api._deps import ERRORS, PREFIX, K, Limit, ReadTeam, Viewer, caller, team_service
from teamrec.service.schemas import (
    MAX_ITEM_LIST,
    PeopleSearchOut,
    PersonRef,
    RecommendationsOut,
    RecommendIn,
    SimilarPeopleOut,
)
from teamrec.service.teams import Answer

router = APIRouter(prefix=f"{PREFIX}/people", tags=["people"], responses=ERRORS)


@router.get("", response_model=PeopleSearchOut)
async def search_people(access: ReadTeam, request: Request, q: str = "", limit: Limit = 10, viewer: Viewer = None):
    """People whose name or handle contains ``q`` (the most active first when empty); their
    item counts are of the items the caller may see."""
    results = team_service(request, access).search_people(caller(access, viewer), q, limit)
    return {"team": access.team, "query": q, "results": results}


@router.get("/{user}", response_model=PersonRef)
async def get_person(access: ReadTeam, request: Request, user: str, viewer: Viewer = None):
    """One person by id, name or handle; ``items`` counts what the caller may see."""
    return team_service(request, access).person(caller(access, viewer), user)


async def _recommend(
    access, request, user: str, k: int, exclude: list[str], candidates: list[str] | None, explain: bool,
    surface: str | None = None,
):
    service = team_service(request, access)

    def call() -> Answer:
        return service.recommend(caller(access), user, k, exclude=exclude, candidates=candidates, explain=explain,
                                 surface=surface)

    # reasons are computed per result: off the event loop; without them the hot path is well
    # under a millisecond, answered inline
    answer = await run_in_threadpool(call) if explain else call()
    body = {"team": answer.team, "user": user, "model_version": answer.model_version,
            "results": [r.to_dict() for r in answer.results], "recommendation_id": answer.recommendation_id,
            "arm": answer.arm, "experiment": answer.experiment}
    # Built from plain str/float/None values in the RecommendationsOut shape (a test checks
    # it against the schema), so it is written out directly instead of validated again.
    return Response(json.dumps(body, separators=(",", ":"), allow_nan=False), media_type="application/json")


@router.get("/{user}/recommendations", response_model=RecommendationsOut)
async def recommendations(
    access: ReadTeam,
    request: Request,
    user: str,
    k: K = 10,
    exclude: Annotated[list[str], Query(max_length=MAX_ITEM_LIST, description="item ids never to return (repeatable)")] = [],  # noqa: B006,E501
    candidates: Annotated[
        list[str] | None, Query(max_length=MAX_ITEM_LIST, description="only rank these item ids (repeatable)")
    ] = None,
    explain: bool = False,
    surface: Annotated[str | None, Query(max_length=64, description="where the list is shown (logged)")] = None,
):
    """The ``k`` items ``user`` should look at, best first; with ``explain`` each has its
    reason. Events accepted for ``user`` count at once (folded in until the next refit): a
    person the model has never seen gets personal recommendations after their first events,
    popular public items before. Private items reach only their members, and only through the
    team's key (an anonymous reader gets public items only); what the person already has,
    dismissed or left is left out. Every answer has a ``recommendation_id`` (feedback names
    it) and is logged as impressions; in a running experiment, ``arm`` says which arm served it."""
    return await _recommend(access, request, user, k, exclude, candidates, explain, surface)


@router.post("/{user}/recommendations", response_model=RecommendationsOut)
async def recommendations_post(access: ReadTeam, request: Request, user: str, body: RecommendIn):
    """The same as the GET, with the options in a JSON body (for long lists)."""
    return await _recommend(access, request, user, body.k, body.exclude, body.candidates, body.explain)


@router.get("/{user}/similar", response_model=SimilarPeopleOut)
async def similar_people(access: ReadTeam, request: Request, user: str, k: K = 10, viewer: Viewer = None):
    """People like ``user``, each with what they share, computed from what the asker may
    see, scores included: the public items for a caller without the team's key, what
    ``viewer`` may see when one is named, else what ``user`` may see."""
    answer = await run_in_threadpool(team_service(request, access).similar_people, caller(access, viewer), user, k)
    return {"team": answer.team, "user": answer.subject["user"], "model_version": answer.model_version,
            "results": [r.to_dict() for r in answer.results]}
