"""The application layer: one :class:`TeamService` per team, the only way any surface talks
to a team's model.

The HTTP routes, the CLI and the Slack app call these methods and only render what they get
back; the rules live here once:

* who is asking (:class:`Caller`): an anonymous reader sees public items only and is told a
  private item does not exist; a trusted caller (the team's key) may name the person asking,
  who then sees the private items they are a member of;
* online updates: every answer about a person uses the snapshot in service *plus* the events
  stored since (:mod:`teamrec.service.online`), so an accepted event, a dismissal or a
  ``leave`` changes that person's recommendations on the next request;
* feedback (``dismiss``: "not interested") is an event like any other, stored durably, so it
  survives retrains and restarts and is never recommended to that person again.

Each method takes the team's current snapshot once, at its start, and uses only that.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from teamrec.data.events import DISMISS
from teamrec.errors import AccessDeniedError, DataError, UnknownIdError
from teamrec.policy import RecommendationPolicy
from teamrec.recommender import Result
from teamrec.service.online import Refresher
from teamrec.service.registry import ModelRegistry, TeamState
from teamrec.service.settings import TeamSettings
from teamrec.store.base import AppendResult, EventStore

log = logging.getLogger(__name__)

#: Feedback actions the service understands, and the event kind each is stored as.
FEEDBACK_KINDS = {"dismiss": DISMISS}


@dataclass(frozen=True)
class Caller:
    """Who is asking. ``trusted``: the caller holds the team's key, so it may name the person
    asking (``viewer``); untrusted callers see public items only."""

    trusted: bool = False
    viewer: str | None = None

    @property
    def public_only(self) -> bool:
        return not self.trusted


@dataclass
class Answer:
    """A list of results from one snapshot (its version), about ``subject``."""

    team: str
    model_version: int
    results: list[Result]
    subject: dict[str, Any] = field(default_factory=dict)


@dataclass
class Ingested:
    """What :meth:`TeamService.ingest` did."""

    stored: AppendResult
    since_training: int
    unused_kinds: list[str]


class TeamService:
    """One team's service: recommend, similar, people, ingest, feedback, retrain."""

    def __init__(
        self,
        name: str,
        settings: TeamSettings,
        registry: ModelRegistry,
        store: EventStore,
        refresher: Refresher | None = None,
        policy: RecommendationPolicy | None = None,
    ) -> None:
        self.name = name
        self.settings = settings
        self.registry = registry
        self.store = store
        self.refresher = refresher
        self.policy = policy

    @property
    def state(self) -> TeamState:
        return self.registry.get(self.name)

    # -- reading -----------------------------------------------------------------------------
    def recommend(
        self,
        caller: Caller,
        user: str,
        k: int = 10,
        *,
        exclude: list[str] | None = None,
        candidates: list[str] | None = None,
        explain: bool = False,
        policy: RecommendationPolicy | None = None,
        rng: np.random.Generator | int | None = None,
    ) -> Answer:
        """The ``k`` items ``user`` should look at, with their fresh events folded in."""
        state = self.state
        row, hide = state.fresh.row(state.model, user)
        results = state.model.recommend(
            user, k, exclude=exclude, candidates=candidates, explain=explain, public_only=caller.public_only,
            user_items=row, hide=hide, policy=policy or self.policy, rng=rng,
        )
        return Answer(team=self.name, model_version=state.version, results=results, subject={"user": user})

    def hidden(self, caller: Caller, state: TeamState | None = None) -> np.ndarray | None:
        """What ``caller`` may not see: every private item for an anonymous reader, the
        private items the named viewer is not a member of, and None (nothing hidden) for a
        trusted caller naming nobody (the team's own application)."""
        index = (state or self.state).index
        if not caller.trusted:
            return index.private
        if caller.viewer is None:
            return None
        return index.hidden(index.viewer_index(caller.viewer))

    def similar_items(self, caller: Caller, item: str, k: int = 10) -> Answer:
        """Items like ``item`` (a private one only for its members; for an anonymous caller a
        private item is unknown)."""
        state = self.state
        ref = self.item(caller, item, state)
        results = state.model.similar_items(ref["id"], k, viewer=caller.viewer if caller.trusted else None)
        return Answer(team=self.name, model_version=state.version, results=results, subject={"item": ref})

    def similar_people(self, caller: Caller, user: str, k: int = 10) -> Answer:
        """People like ``user``, computed from what the caller may see: for an anonymous
        reader the public items only, for a named viewer what that viewer may see (scores
        included: a hidden membership moves neither a score nor the order); a trusted caller
        naming nobody asks as ``user``."""
        state = self.state
        hidden = self.hidden(caller, state)
        u = state.index.user_index(user)
        ref = state.index.person_ref(u, hidden)
        results = state.model.similar_users(
            state.index.user_ids[u], k, visible=None if hidden is None else ~hidden
        )
        return Answer(team=self.name, model_version=state.version, results=results, subject={"user": ref})

    def item(self, caller: Caller, item: str, state: TeamState | None = None) -> dict[str, Any]:
        """One item as the caller may see it: a private item is a 403 for a non-member named
        by a trusted caller, and unknown (404) to an anonymous one: an open service must not
        confirm that a private channel of that name exists."""
        try:
            return (state or self.state).index.item(item, caller.viewer if caller.trusted else None)
        except AccessDeniedError:
            if not caller.trusted:
                raise UnknownIdError("item", item) from None
            raise

    def search_items(self, caller: Caller, query: str, limit: int = 10) -> list[dict[str, Any]]:
        return self.state.index.search_items(query, limit, caller.viewer if caller.trusted else None)

    def search_people(self, caller: Caller, query: str, limit: int = 10) -> list[dict[str, Any]]:
        """People matching ``query``, their item counts (and the order) from what the caller
        may see."""
        state = self.state
        return state.index.search_people(query, limit, self.hidden(caller, state))

    def person(self, caller: Caller, user: str) -> dict[str, Any]:
        """One person; their item count is of the items the caller may see."""
        state = self.state
        index = state.index
        return index.person_ref(index.user_index(user), self.hidden(caller, state))

    def model_figures(self, caller: Caller, state: TeamState | None = None) -> dict[str, int | None]:
        """The model's size as the caller may know it: an anonymous reader is told the public
        items and interactions only, and not how many private items there are."""
        state = state or self.state
        index = state.index
        if caller.trusted:
            return {"items": index.n_items, "private_items": int(index.private.sum()),
                    "interactions": int(state.model.data.matrix.nnz)}
        return {"items": index.n_public_items, "private_items": None, "interactions": index.public_interactions}

    # -- writing -----------------------------------------------------------------------------
    def ingest(self, caller: Caller, events: pd.DataFrame, *, batch_id: str | None = None) -> Ingested:
        """Store a batch durably (all or nothing, the event rules checked), then make it
        visible to the next request at once; a background refit starts when enough wait."""
        state = self.state
        result = self.store.append(self.name, events, batch_id=batch_id)
        state.fresh.catch_up(self.store)
        if self.refresher is not None:
            self.refresher.after_ingest(self.name, state.fresh.count)
        return Ingested(
            stored=result,
            since_training=max(0, result.total - state.store_events),
            unused_kinds=self._unused_kinds(state, events),
        )

    def feedback(self, caller: Caller, user: str, item: str, action: str = "dismiss", **context: Any) -> Ingested:
        """A person's feedback on an item. ``dismiss`` ("not interested"): never recommended
        to them again, from the next request on. ``context`` is room for what later callers
        attach (a recommendation id, the surface); unknown actions are a :class:`DataError`."""
        kind = FEEDBACK_KINDS.get(action)
        if kind is None:
            raise DataError(f"unknown feedback action {action!r}; known: {', '.join(sorted(FEEDBACK_KINDS))}",
                            field="action")
        frame = pd.DataFrame({"user": [user], "item": [item], "kind": [kind], "value": [1.0],
                              "timestamp": [float(context.get("timestamp", np.nan))]})
        return self.ingest(caller, frame, batch_id=context.get("batch_id"))

    def retrain(self) -> TeamState:
        """Refit on the source plus every stored event and swap the result in."""
        return self.registry.retrain(self.name)

    def _unused_kinds(self, state: TeamState, frame: pd.DataFrame) -> list[str]:
        kinds = self.settings.matrix_config(state.info.get("format", self.settings.format)).kinds
        if kinds is None:
            return []
        from teamrec.data.events import EXCLUDING_KINDS

        return sorted(set(frame["kind"]) - set(kinds) - set(EXCLUDING_KINDS))
