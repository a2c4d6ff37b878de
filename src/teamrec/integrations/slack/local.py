"""A :class:`~teamrec.integrations.slack.protocol.SlackService` over a ``TeamModel``, for now.

Until the service layer's team service is bound to the protocol, this adapter gives the app
real answers from the existing code: the team's events from the event store (memberships
that ended taken out), the metadata folder ``teamrec slack sync`` writes, and a
:class:`~teamrec.recommender.TeamModel` fitted with :func:`teamrec.pipeline.fit_team`
(refitted when the store or the metadata changed since the last answer; a Slack team of a few
thousand people and channels refits in well under a second). Answers are kept in memory by
recommendation id so feedback can be checked against them; feedback is logged in memory;
``join`` feedback also stores a ``member`` event, ``dismiss`` hides the item for good.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from teamrec.data.dataset import Dataset
from teamrec.data.matrix import default_config
from teamrec.errors import DataError, UnknownIdError
from teamrec.integrations.slack.membership import MEMBER, current_members, left_channels, without_departures
from teamrec.integrations.slack.protocol import (
    Answer,
    Colleague,
    FeedbackAction,
    IngestResult,
    PersonFacts,
    Reason,
    Recommended,
    Surface,
)
from teamrec.pipeline import TeamConfig, fit_team
from teamrec.recommender import Result, TeamModel
from teamrec.store.base import EventStore

log = logging.getLogger(__name__)


@dataclass
class _Fitted:
    version: tuple[int, int]
    model: TeamModel
    events: pd.DataFrame


class ModelService:
    """The Slack app's service over the event store and a model fitted from it."""

    def __init__(self, store: EventStore, metadata: Dataset | None = None, config: TeamConfig | None = None) -> None:
        self.store = store
        self.config = config or TeamConfig(matrix=default_config("slack-export"))
        self._items = metadata.items.copy() if metadata is not None else pd.DataFrame(columns=["team", "item"])
        self._users = metadata.users.copy() if metadata is not None else pd.DataFrame(columns=["team", "user"])
        self._meta_version = 0
        self._fitted: dict[str, _Fitted] = {}
        self._answers: dict[str, Answer] = {}
        self._dismissed: dict[tuple[str, str], set[str]] = {}
        self._lock = threading.RLock()
        self.feedback_log: list[dict[str, Any]] = []

    # -- the model -------------------------------------------------------------------------
    def _team(self, team: str) -> _Fitted:
        with self._lock:
            version = (self.store.count(team), self._meta_version)
            fitted = self._fitted.get(team)
            if fitted is None or fitted.version != version:
                events = self.store.events(team)
                if not len(events):
                    raise UnknownIdError("team", team, "no events stored: run 'teamrec slack sync'")
                items = self._items.loc[self._items["team"] == team]
                users = self._users.loc[self._users["team"] == team]
                model = fit_team(without_departures(events), self.config, items=items, users=users)
                fitted = _Fitted(version, model, events)
                self._fitted[team] = fitted
            return fitted

    def _archived(self, team: str) -> list[str]:
        items = self._items.loc[self._items["team"] == team]
        if "archived" not in items:
            return []
        return items.loc[items["archived"].fillna(False).astype(bool), "item"].astype(str).tolist()

    # -- the protocol ----------------------------------------------------------------------
    def recommend(self, team: str, person: str, k: int = 5, *, surface: Surface = "slack_home") -> Answer:
        fitted = self._team(team)
        left = left_channels(fitted.events)
        left_ids = left.loc[left["user"] == person, "item"].tolist()
        with self._lock:
            dismissed = sorted(self._dismissed.get((team, person), set()))
        exclude = sorted(set(left_ids) | set(dismissed) | set(self._archived(team)))
        results = fitted.model.recommend(person, k, exclude=exclude, explain=True)
        data = fitted.model.data
        try:
            data.find_user(person)
            new_here = False
        except UnknownIdError:
            new_here = True
        private = dict(zip(data.item_meta["item"].astype(str), data.item_meta["private"].astype(bool), strict=True))
        answer = Answer(
            recommendation_id=uuid.uuid4().hex,
            team=team,
            person=person,
            surface=surface,
            items=tuple(
                Recommended(item=r.id, name=r.name, score=r.score, position=i + 1,
                            reasons=_reasons(r, new_here), private=private.get(r.id, False))
                for i, r in enumerate(results)
            ),
        )
        with self._lock:
            self._answers[answer.recommendation_id] = answer
        return answer

    def people(self, team: str, person: str, k: int = 5) -> list[Colleague]:
        model = self._team(team).model
        try:
            similar = model.similar_users(person, k)
        except UnknownIdError:
            return []
        data = model.data
        u = data.find_user(person)
        members = data.members
        assert members is not None  # InteractionMatrix always builds it
        visible = ~data.private | members[u].toarray().ravel().astype(bool)
        mine = data.matrix[u].indices
        out = []
        for res in similar:
            shared = np.intersect1d(mine, data.matrix[data.find_user(res.id)].indices)
            shared = shared[visible[shared]]
            out.append(Colleague(user=res.id, name=res.name, score=res.score,
                                 shared=tuple(str(data.items.id_of(i)) for i in shared[:3]),
                                 shared_count=int(len(shared))))
        return out

    def ingest(self, team: str, events: pd.DataFrame, *, batch_id: str | None = None) -> IngestResult:
        result = self.store.append(team, events, batch_id=batch_id)
        return IngestResult(stored=result.stored, duplicate=result.duplicate)

    def update_items(self, team: str, items: pd.DataFrame) -> None:
        with self._lock:
            rows = items.assign(team=team)
            current = self._items.set_index(["team", "item"]) if len(self._items) else None
            updates = rows.set_index(["team", "item"])
            if current is None:
                merged = updates
            else:
                merged = current.combine_first(updates)
                merged.update(updates)
            self._items = merged.reset_index()
            for flag in ("private", "archived"):
                if flag in self._items:
                    self._items[flag] = self._items[flag].fillna(False).astype(bool)
            self._meta_version += 1

    def feedback(self, team: str, person: str, recommendation_id: str, item: str, action: FeedbackAction) -> None:
        with self._lock:
            answer = self._answers.get(recommendation_id)
            if answer is None or answer.team != team or answer.person != person:
                raise UnknownIdError("recommendation", recommendation_id)
            if item not in {r.item for r in answer.items}:
                raise DataError(f"item {item!r} is not in recommendation {recommendation_id}", field="item")
            if any(f["recommendation_id"] == recommendation_id and f["item"] == item and f["action"] == action
                   for f in self.feedback_log):
                raise DataError(f"{action} on {item!r} of {recommendation_id} was already recorded", field="action")
            now = time.time()
            self.feedback_log.append({"team": team, "person": person, "recommendation_id": recommendation_id,
                                      "item": item, "action": action, "surface": answer.surface,
                                      "timestamp": now})
            if action == "dismiss":
                self._dismissed.setdefault((team, person), set()).add(item)
        if action == "join":
            events = pd.DataFrame({"user": [person], "item": [item], "kind": [MEMBER], "value": [1.0],
                                   "timestamp": [now]})
            self.ingest(team, events, batch_id=f"feedback:{recommendation_id}:{item}:join")

    def person_facts(self, team: str, people: list[str]) -> list[PersonFacts]:
        events = self.store.events(team)
        first = events.groupby("user")["timestamp"].min()
        members = current_members(events).groupby("user")["item"].agg(frozenset)
        left = left_channels(events).groupby("user")["item"].agg(frozenset)
        users = self._users.loc[self._users["team"] == team]
        tz = users.set_index("user")["tz_offset"] if "tz_offset" in users else pd.Series(dtype=np.float64)
        out = []
        for p in people:
            seen = first.get(p)
            offset = tz.get(p)
            mine = members.get(p, frozenset())
            out.append(PersonFacts(
                user=p,
                first_seen=None if seen is None or pd.isna(seen) else float(seen),
                channels=len(mine),
                tz_offset=None if offset is None or pd.isna(offset) else float(offset),
                members=mine,
                left=left.get(p, frozenset()),
            ))
        return out


def _reasons(result: Result, new_here: bool) -> tuple[Reason, ...]:
    """The model's explanation details as structured reasons."""
    if new_here:
        return (Reason("new"),)
    if result.details.get("fallback") == "popularity":
        return (Reason("popular"),)
    contributions = result.details.get("contributions") or []
    items = tuple(c["id"] for c in contributions if c.get("kind") == "item")
    people = tuple(c["id"] for c in contributions if c.get("kind") == "user")
    reasons = []
    if items:
        reasons.append(Reason("channels", items=items))
    if people:
        reasons.append(Reason("people", people=people))
    return tuple(reasons) or (Reason("popular"),)
