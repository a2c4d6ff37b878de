"""The service's models: one immutable snapshot per team, swapped atomically on retrain.

A request takes the team's :class:`TeamState` once, at its start, and uses only that object:
the model, its serving index and its figures belong together and never change. A retrain
builds a whole new state aside (read the data, fit, build the index, fit the lazy helpers)
and then replaces the team's entry in one assignment, so a request sees either the old model
or the new one, never a half-built one, and none waits for the retrain. Retrains of one team
run one at a time; a retrain that fails leaves the serving model as it was.
"""

from __future__ import annotations

import copy
import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from teamrec.data.matrix import extend_matrix
from teamrec.errors import TeamrecError, UnknownIdError
from teamrec.recommender import TeamModel
from teamrec.service import training
from teamrec.service.online import FreshEvents
from teamrec.service.serving import ServingIndex
from teamrec.service.settings import Settings
from teamrec.store.base import EventStore

log = logging.getLogger(__name__)


@dataclass(frozen=True, eq=False)
class TeamState:
    """One team's model as served: never modified after it is built."""

    name: str
    model: TeamModel
    index: ServingIndex
    version: int
    trained_at: float
    train_seconds: float
    store_events: int
    info: dict[str, Any] = field(default_factory=dict)
    #: The event store's sequence this snapshot was built up to (0 for a loaded model: it
    #: then folds in every stored event) and the events stored after it, per person.
    sequence: int = 0
    fresh: FreshEvents = field(default_factory=lambda: FreshEvents("", 0, None))


class ModelRegistry:
    """Every configured team's current :class:`TeamState`."""

    def __init__(self, settings: Settings, store: EventStore) -> None:
        self.settings = settings
        self.store = store
        self._states: dict[str, TeamState] = {}
        self._locks = {name: threading.Lock() for name in settings.teams}
        self._versions = dict.fromkeys(settings.teams, 0)
        self.retraining: set[str] = set()
        #: The last failed retrain per team (``at``, ``message``), until one succeeds: a
        #: retrain in the background has nobody to answer, so /model reports it.
        self.failures: dict[str, dict[str, Any]] = {}

    def start(self) -> None:
        """Load or train every team (a saved model when there is one, else its source)."""
        for name in self.settings.teams:
            self._build(name, prefer_saved=True)

    @property
    def ready(self) -> bool:
        return len(self._states) == len(self.settings.teams)

    def names(self) -> list[str]:
        return sorted(self._states)

    def get(self, team: str) -> TeamState:
        """The team's current state; :class:`UnknownIdError` for a team not served here."""
        state = self._states.get(team)
        if state is None:
            raise UnknownIdError("team", team)
        return state

    def _high_water(self, team: str) -> int:
        return self.store.since(team, 0)[1]

    def retrain(self, team: str) -> TeamState:
        """Refit ``team`` on its source plus its stored events and swap the result in; a
        failure leaves the serving model as it was and is kept in :attr:`failures`."""
        self.get(team)
        try:
            state = self._build(team, prefer_saved=False)
        except Exception as exc:
            # teamrec's own errors say what is wrong with the data or settings; anything
            # else is a bug, whose details stay in the server log.
            message = (
                str(exc)
                if isinstance(exc, TeamrecError)
                else f"internal error ({type(exc).__name__}); see the server log"
            )
            self.failures[team] = {"at": time.time(), "message": message}
            raise
        self.failures.pop(team, None)
        return state

    def refresh(self, team: str) -> TeamState:
        """An incremental snapshot: the events stored since the serving one, applied to a copy
        of its matrix (:func:`~teamrec.data.matrix.extend_matrix`: vocabularies extended
        append-only, only the changed people's rows rebuilt) and to a copy of its algorithm
        (``update`` with the grown matrix: each algorithm's incremental update), then swapped
        in like a retrain. A team whose model cannot be extended (loaded without a source)
        is retrained instead."""
        current = self.get(team)
        config = current.fresh.config
        if config is None:
            return self.retrain(team)
        with self._locks[team]:
            self.retraining.add(team)
            try:
                start = time.perf_counter()
                current = self.get(team)
                events, sequence = self.store.since(team, current.sequence)
                data, changed = extend_matrix(current.model.data, events, config)
                algorithm = copy.deepcopy(current.model.algorithm)
                algorithm.update(data.matrix)
                algorithm.warm()
                model = TeamModel(algorithm, data)
                index = ServingIndex(model)
                index.warm_up()
                fresh = FreshEvents(team, sequence, config)
                fresh.catch_up(self.store)
                self._versions[team] += 1
                info = {**current.info, "refreshed_people": int(len(changed))}
                state = TeamState(
                    name=team, model=model, index=index, version=self._versions[team], trained_at=time.time(),
                    train_seconds=time.perf_counter() - start, store_events=current.store_events + len(events),
                    info=info, sequence=sequence, fresh=fresh,
                )
                self._states[team] = state  # the swap
            finally:
                self.retraining.discard(team)
        log.info("team %s: model version %d (incremental, %d people changed)", team, state.version, len(changed))
        return state

    def _build(self, team: str, *, prefer_saved: bool) -> TeamState:
        config = self.settings.teams[team]
        with self._locks[team]:
            self.retraining.add(team)
            try:
                if prefer_saved and training.has_saved_model(config):
                    built = training.load(team, config)
                else:
                    built = training.train(team, config, self.store)
                    if config.model_dir is not None:
                        built.model.save(config.model_dir)  # whole or not at all
                index = ServingIndex(built.model)
                index.warm_up()
                # A saved model's data ends where it was saved, which it does not record: what the
                # store holds now counts as seen (the next retrain learns from all of it).
                sequence = built.sequence if built.info.get("format") != "saved model" else self._high_water(team)
                fresh = FreshEvents(team, sequence, _matrix_config(config, built.info))
                fresh.catch_up(self.store)
                self._versions[team] += 1
                state = TeamState(
                    name=team,
                    model=built.model,
                    index=index,
                    version=self._versions[team],
                    trained_at=time.time(),
                    train_seconds=built.seconds,
                    store_events=int(built.info.get("store_events") or 0),
                    info=built.info,
                    sequence=sequence,
                    fresh=fresh,
                )
                self._states[team] = state  # the swap: one reference assignment
            finally:
                self.retraining.discard(team)
        log.info("team %s: model version %d in service", team, state.version)
        return state


def _matrix_config(config, info: dict[str, Any]):
    """The matrix settings the team's events are folded in with (None when the model was
    loaded from a folder without a source: the format is then unknown, nothing is folded)."""
    if config.source is None and config.format != "demo":
        return None
    fmt = info.get("format")
    return config.matrix_config(None if fmt == "saved model" else fmt)
