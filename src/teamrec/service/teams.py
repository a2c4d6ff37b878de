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
* every answer about a person is a *recommendation* with its own ``recommendation_id``; what
  it showed (item, position, arm, explored, propensity, surface) goes to the append-only
  impressions log (:mod:`teamrec.store.feedback`), apart from the learning events;
* feedback (click, join, dismiss, rate_up, rate_down) names a recommendation and one of its
  items; it is checked against the impressions log (unknown id, another person's answer, an
  item not shown, a replay: refused, nothing stored), logged, and, for a join or a rating (per
  team: ``feedback_events``), stored as a learning event too. ``dismiss`` is the ``dismiss``
  event: never recommended to that person again, surviving retrains and restarts;
* experiments (``[[experiments]]``): a person in a running experiment's rollout is served by
  their arm's own snapshot (the salted hash decides, nothing stored), with the arm's
  exploration through the policy's hook and its exact propensities logged.

Each method takes the team's current snapshot once, at its start, and uses only that.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd

from teamrec.data.events import DISMISS
from teamrec.errors import AccessDeniedError, DataError, UnknownIdError
from teamrec.experiments.assignment import assign_one
from teamrec.experiments.exploration import EpsilonGreedy, seed_for
from teamrec.experiments.frames import FEEDBACK_COLUMNS
from teamrec.experiments.report import ExperimentReport, build_report
from teamrec.experiments.settings import Arm, Experiment
from teamrec.policy import RecommendationPolicy
from teamrec.recommender import Result
from teamrec.service.online import Refresher
from teamrec.service.registry import ModelRegistry, TeamState, arm_key
from teamrec.service.settings import TeamSettings
from teamrec.store.base import AppendResult, EventStore, prepare
from teamrec.store.feedback import FeedbackLog, MemoryFeedbackLog

log = logging.getLogger(__name__)

#: what people can do with a recommended item
FEEDBACK_ACTIONS = ("click", "join", "dismiss", "rate_up", "rate_down")
#: The arm logged for answers outside any experiment.
DEFAULT_ARM = "default"


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
    recommendation_id: str | None = None   # set by TeamService.recommend(); feedback names it
    arm: str | None = None                  # the experiment arm that produced it (None: no experiment)
    experiment: str | None = None           # the experiment of ``arm``


@dataclass
class FeedbackResult:
    """What :meth:`TeamService.feedback` did: the action logged, and the learning event stored
    (``event_kind`` None: the action is not a learning event for this team)."""

    team: str
    recommendation_id: str
    user: str
    item: str
    action: str
    event_kind: str | None = None
    stored: AppendResult | None = None


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
        feedback_log: FeedbackLog | None = None,
        experiments: tuple[Experiment, ...] = (),
    ) -> None:
        self.name = name
        self.settings = settings
        self.registry = registry
        self.store = store
        self.refresher = refresher
        self.policy = policy
        self.feedback_log: FeedbackLog = feedback_log if feedback_log is not None else MemoryFeedbackLog()
        #: Where recommendation ids come from (random; a simulation sets a seeded sequence so
        #: that its exploration, seeded by the id, is the same on every run).
        self.new_recommendation_id: Callable[[], str] = lambda: uuid.uuid4().hex
        self.declared = tuple(experiments)
        #: The experiments this team serves arms of (the registry built their snapshots).
        served = registry.arms.get(name, {})
        self.experiments = tuple(e for e in experiments if any(key.startswith(f"{e.name}/") for key in served))
        self._policies = {
            arm_key(e, arm): RecommendationPolicy(explore=EpsilonGreedy(arm.epsilon))
            for e in self.experiments for arm in e.arms if arm.epsilon > 0
        }

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
        surface: str | None = None,
    ) -> Answer:
        """The ``k`` items ``user`` should look at, with their fresh events folded in.

        Every call gets a fresh ``recommendation_id`` and its shown items are logged as
        impressions. A person in a running experiment is served by their arm's snapshot and
        exploration (seeded by the recommendation id, so a logged list can be re-derived)."""
        recommendation_id = self.new_recommendation_id()
        experiment, arm = self.assignment(user)
        key = None if arm is None or experiment is None else arm_key(experiment, arm)
        state = self.registry.get(self.name, key)
        # Events other processes stored (a shared store) reach this answer within the bound.
        state.fresh.catch_up_within(self.store, self.registry.settings.online.catch_up_seconds)
        row, hide = state.fresh.row(state.model, user)
        chosen = policy or (self._policies.get(key) if key is not None else None) or self.policy
        results = state.model.recommend(
            user, k, exclude=exclude, candidates=candidates, explain=explain, public_only=caller.public_only,
            user_items=row, hide=hide, policy=chosen, rng=seed_for(recommendation_id) if rng is None else rng,
        )
        answer = Answer(team=self.name, model_version=state.version, results=results, subject={"user": user},
                        recommendation_id=recommendation_id, arm=None if arm is None else arm.name,
                        experiment=None if experiment is None else experiment.name)
        self._log_impressions(answer, user, surface)
        return answer

    def assignment(self, user: str, at: datetime | None = None) -> tuple[Experiment | None, Arm | None]:
        """The running experiment and arm ``user`` is in (``(None, None)``: the default policy).
        When experiments overlap, the first declared that assigns the person wins."""
        at = at or datetime.now(UTC)
        for experiment in self.experiments:
            name = assign_one(experiment, self.name, user, at)
            if name is not None:
                return experiment, experiment.arm(name)
        return None, None

    def _log_impressions(self, answer: Answer, user: str, surface: str | None) -> None:
        results = answer.results
        if not results:
            return
        now = time.time()
        items = [r.id for r in results]
        # Plain lists, not a DataFrame: this runs on every request.
        self.feedback_log.log_impressions(self.name, {
            "recommendation_id": answer.recommendation_id,
            "person": user,
            "experiment": answer.experiment,
            "arm": answer.arm or DEFAULT_ARM,
            "item": items,
            "position": [r.position if r.position is not None else n for n, r in enumerate(results, start=1)],
            "explored": [bool(r.explored) for r in results],
            "propensity": [1.0 if r.propensity is None else float(r.propensity) for r in results],
            "surface": surface,
            "shown_at": now,
        })
        if self.settings.impression_kind:  # a team that counts being shown as an interaction
            events = pd.DataFrame({"user": user, "item": items, "kind": self.settings.impression_kind,
                                   "value": 1.0, "timestamp": now})
            self.ingest(Caller(trusted=True), events)

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
        for served in self.registry.states(self.name):  # the team's own snapshot and its arms'
            served.fresh.catch_up(self.store)
        if self.refresher is not None:
            self.refresher.after_ingest(self.name, state.fresh.count)
        return Ingested(
            stored=result,
            since_training=max(0, result.total - state.store_events),
            unused_kinds=self._unused_kinds(state, events),
        )

    def feedback(
        self,
        caller: Caller,
        user: str,
        item: str,
        action: str,
        *,
        recommendation_id: str,
        surface: str | None = None,
        timestamp: float | None = None,
    ) -> FeedbackResult:
        """``user``'s ``action`` on ``item`` of recommendation ``recommendation_id``.

        Refused (nothing stored) when the action is unknown (:class:`DataError`), the
        recommendation is unknown to this team or was another person's (:class:`UnknownIdError`:
        a recommendation is only ever confirmed to its person), the item was not in it
        (:class:`DataError`), or the same (recommendation, item, action) was given before
        (:class:`DataError`). A join or a rating is also a learning event (the team's
        ``feedback_events``), which changes the person's recommendations at once; ``dismiss``:
        never recommended to them again."""
        if action not in FEEDBACK_ACTIONS:
            raise DataError(f"unknown feedback action {action!r}; known: {', '.join(FEEDBACK_ACTIONS)}",
                            field="action")
        shown = self.feedback_log.find(self.name, recommendation_id)
        if len(shown) == 0 or (shown["person"] != str(user)).any():
            raise UnknownIdError("recommendation", recommendation_id)
        if str(item) not in set(shown["item"]):
            raise DataError(f"item {item!r} was not in recommendation {recommendation_id!r}", field="item")
        at = time.time() if timestamp is None else float(timestamp)
        event = self._learning_event(action)
        events = None
        if event is not None:
            # Checked against the event rules before anything is logged: all or nothing.
            events = prepare(self.name, pd.DataFrame({"user": [user], "item": [item], "kind": [event[0]],
                                                      "value": [event[1]], "timestamp": [at]}))
        self.feedback_log.log_feedback(self.name, {
            "recommendation_id": [recommendation_id], "person": [user], "item": [item], "action": [action],
            "surface": [surface], "at": [at],
        })
        result = FeedbackResult(team=self.name, recommendation_id=recommendation_id, user=user, item=item,
                                action=action)
        if events is not None and event is not None:
            ingested = self.ingest(caller, events.drop(columns=["team"]))
            result.event_kind, result.stored = event[0], ingested.stored
        return result

    def _learning_event(self, action: str) -> tuple[str, float] | None:
        """The (kind, value) ``action`` is stored as for this team, or None."""
        if action == "dismiss":
            return DISMISS, 1.0
        fmt = self.state.info.get("format")
        event = self.settings.feedback_event(action, None if fmt == "saved model" else fmt)
        return None if event is None else (event.kind, event.value)

    def experiment(self, name: str) -> Experiment:
        """A declared experiment by name (:class:`UnknownIdError` otherwise)."""
        for experiment in self.declared:
            if experiment.name == name:
                return experiment
        raise UnknownIdError("experiment", name)

    def report(self, name: str) -> ExperimentReport:
        """Experiment ``name``'s report from this team's impressions and feedback logs."""
        experiment = self.experiment(name)
        impressions = self.feedback_log.impressions(self.name, experiment.name)
        feedback = self.feedback_log.feedback(self.name, experiment.name)
        return build_report(impressions, feedback[list(FEEDBACK_COLUMNS)], experiment)

    def retrain(self) -> TeamState:
        """Refit on the source plus every stored event and swap the result in."""
        return self.registry.retrain(self.name)

    def _unused_kinds(self, state: TeamState, frame: pd.DataFrame) -> list[str]:
        kinds = self.settings.matrix_config(state.info.get("format", self.settings.format)).kinds
        if kinds is None:
            return []
        from teamrec.data.events import EXCLUDING_KINDS

        return sorted(set(frame["kind"]) - set(kinds) - set(EXCLUDING_KINDS))
