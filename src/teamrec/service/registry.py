"""The service's models: one immutable snapshot per team (and per experiment arm), swapped
atomically on retrain.

A team in a declared experiment (``[[experiments]]``, in its rollout, not ended) has one more
snapshot per arm: the team's spec with the arm's algorithm and parameters, built by the same
team builder, retrained and refreshed with the team's own.

A request takes the team's :class:`TeamState` once, at its start, and uses only that object:
the model, its serving index and its figures belong together and never change. A retrain
builds a whole new state aside (read the data, fit, build the index, fit the lazy helpers)
and then replaces the team's entry in one assignment, so a request sees either the old model
or the new one, never a half-built one, and none waits for the retrain. Retrains of one team
run one at a time; a retrain that fails leaves the serving model as it was.

With ``[batch]`` settings the registry also serves the teams of a ``teamrec batch`` output
(:mod:`teamrec.service.batch_models`): loaded on first request, the least recently used
dropped beyond ``max_teams_loaded``, the same :class:`TeamState` as any other team.
"""

from __future__ import annotations

import copy
import logging
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from teamrec.data.matrix import extend_matrix
from teamrec.errors import TeamrecError, UnknownIdError, UnsupportedError
from teamrec.experiments.assignment import rollout_draw
from teamrec.experiments.settings import Arm, Experiment
from teamrec.recommender import TeamModel
from teamrec.service import batch_models, training
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
        #: (team, arm key) -> state; the arm key is None for the team's own model, else
        #: ``"experiment/arm"`` (:func:`arm_key`).
        self._states: dict[tuple[str, str | None], TeamState] = {}
        self._locks = {name: threading.Lock() for name in settings.teams}
        self._versions: dict[tuple[str, str | None], int] = {}
        #: Per team, the experiment arms it serves besides its own model.
        self.arms: dict[str, dict[str, tuple[Experiment, Arm]]] = {
            name: experiment_arms(settings.experiments, name) for name in settings.teams
        }
        self.retraining: set[str] = set()
        #: The last failed retrain per team (``at``, ``message``), until one succeeds: a
        #: retrain in the background has nobody to answer, so /model reports it.
        self.failures: dict[str, dict[str, Any]] = {}
        #: The batch teams loaded now, least recently used first (None: no ``[batch]``).
        self.batch_loaded = (
            batch_models.RecentlyUsed(settings.batch.max_teams_loaded) if settings.batch is not None else None
        )
        self._batch_lock = threading.Lock()  # the batch teams' entries of _states and their order
        self._batch_loading: dict[str, threading.Lock] = {}

    def start(self) -> None:
        """Load or train every team (a saved model when there is one, else its source)."""
        for name in self.settings.teams:
            self._build(name, prefer_saved=True)
            for key in self.arms[name]:
                self._build(name, prefer_saved=False, arm=key)

    @property
    def ready(self) -> bool:
        configured = sum(1 for team, _ in list(self._states) if team in self.settings.teams)
        return configured == len(self.settings.teams) + sum(len(a) for a in self.arms.values())

    def names(self) -> list[str]:
        return sorted({team for team, _ in self._states})

    def get(self, team: str, arm: str | None = None) -> TeamState:
        """The team's current state (of one experiment arm: ``"experiment/arm"``);
        :class:`UnknownIdError` for a team (or arm) not served here."""
        state = self._states.get((team, arm))
        if self.batch_loaded is not None and arm is None and team not in self.settings.teams:
            state = self._from_batch(team, state)
        if state is None:
            if arm is not None and (team, None) in self._states:
                raise UnknownIdError("experiment arm", arm)
            raise UnknownIdError("team", team)
        return state

    def serves(self, team: str) -> bool:
        """Whether ``team`` is served here: configured, or in the ``[batch]`` output."""
        if team in self.settings.teams:
            return True
        return self.settings.batch is not None and batch_models.has_team(self.settings.batch, team)

    def _from_batch(self, team: str, state: TeamState | None) -> TeamState | None:
        """A batch team's state, loaded now when it is not in memory (None: no such team);
        either way it becomes the most recently used, and the least recently used beyond
        ``max_teams_loaded`` are dropped."""
        assert self.batch_loaded is not None and self.settings.batch is not None
        if state is None:
            if not batch_models.has_team(self.settings.batch, team):
                return None
            with self._batch_lock:
                loading = self._batch_loading.setdefault(team, threading.Lock())
            with loading:  # one load per team at a time; the others wait for it
                state = self._states.get((team, None))
                if state is None:
                    state = self._load_batch_team(team)
        with self._batch_lock:
            self._states[(team, None)] = state
            for dropped in self.batch_loaded.use(team):
                self._states.pop((dropped, None), None)
                self._batch_loading.pop(dropped, None)
                log.info("batch team %s: model dropped (least recently used)", dropped)
        return state

    def _load_batch_team(self, team: str) -> TeamState:
        assert self.settings.batch is not None
        built = training.load(team, batch_models.team_settings(self.settings.batch, team))
        index = ServingIndex(built.model)
        index.warm_up()
        state = TeamState(
            name=team, model=built.model, index=index, version=self._next_version(team, None),
            trained_at=time.time(), train_seconds=built.seconds, store_events=0,
            info={**built.info, "format": "batch output"},
            # No source: nothing to fold events into or retrain from (the next batch run does).
            sequence=0, fresh=FreshEvents(team, 0, None),
        )
        log.info("batch team %s: model loaded in %.2fs", team, built.seconds)
        return state

    def states(self, team: str) -> list[TeamState]:
        """Every snapshot the team serves: its own, then its arms'."""
        return [self._states[(team, key)] for key in [None, *self.arms.get(team, {})] if (team, key) in self._states]

    def _high_water(self, team: str) -> int:
        return self.store.since(team, 0)[1]

    def retrain(self, team: str) -> TeamState:
        """Refit ``team`` on its source plus its stored events and swap the result in; a
        failure leaves the serving model as it was and is kept in :attr:`failures`."""
        self.get(team)
        if team not in self.settings.teams:
            raise UnsupportedError(f"team {team!r} is served from a batch output: the next batch run retrains it")
        try:
            state = self._build(team, prefer_saved=False)
            for key in self.arms[team]:
                self._build(team, prefer_saved=False, arm=key)
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
        if current.fresh.config is None or team not in self.settings.teams:
            return self.retrain(team)
        state = self._refresh(team, None)
        for key in self.arms[team]:
            self._refresh(team, key)
        return state

    def _refresh(self, team: str, arm: str | None) -> TeamState:
        current = self.get(team, arm)
        config = current.fresh.config
        if config is None:  # loaded without a source: nothing to extend
            return self._build(team, prefer_saved=False, arm=arm)
        with self._locks[team]:
            self.retraining.add(team)
            try:
                start = time.perf_counter()
                current = self.get(team, arm)
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
                version = self._next_version(team, arm)
                info = {**current.info, "refreshed_people": int(len(changed))}
                state = TeamState(
                    name=team, model=model, index=index, version=version, trained_at=time.time(),
                    train_seconds=time.perf_counter() - start, store_events=current.store_events + len(events),
                    info=info, sequence=sequence, fresh=fresh,
                )
                self._states[(team, arm)] = state  # the swap
            finally:
                self.retraining.discard(team)
        log.info("team %s%s: model version %d (incremental, %d people changed)", team, _arm_label(arm),
                 state.version, len(changed))
        return state

    def _next_version(self, team: str, arm: str | None) -> int:
        self._versions[(team, arm)] = self._versions.get((team, arm), 0) + 1
        return self._versions[(team, arm)]

    def _build(self, team: str, *, prefer_saved: bool, arm: str | None = None) -> TeamState:
        config = self.settings.teams[team]
        if arm is not None:
            _, spec_arm = self.arms[team][arm]
            if config.source is None and config.format != "demo":
                raise TeamrecError(f"team {team!r}: experiment arm {arm!r} needs the team's source to train from")
            # The arm's algorithm over the team's spec; never saved over the team's own model.
            config = config.model_copy(update={"algorithm": spec_arm.algorithm, "params": dict(spec_arm.params),
                                               "model_dir": None})
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
                state = TeamState(
                    name=team,
                    model=built.model,
                    index=index,
                    version=self._next_version(team, arm),
                    trained_at=time.time(),
                    train_seconds=built.seconds,
                    store_events=int(built.info.get("store_events") or 0),
                    info=built.info,
                    sequence=sequence,
                    fresh=fresh,
                )
                self._states[(team, arm)] = state  # the swap: one reference assignment
            finally:
                self.retraining.discard(team)
        log.info("team %s%s: model version %d in service", team, _arm_label(arm), state.version)
        return state


def arm_key(experiment: Experiment, arm: Arm) -> str:
    """How the registry names an experiment arm's snapshot: ``"experiment/arm"``."""
    return f"{experiment.name}/{arm.name}"


def _arm_label(arm: str | None) -> str:
    return "" if arm is None else f" (arm {arm})"


def experiment_arms(experiments: tuple[Experiment, ...], team: str) -> dict[str, tuple[Experiment, Arm]]:
    """The arms ``team`` serves: of every experiment not ended yet whose rollout takes the team
    (the salted hash decides; the same in every process)."""
    now = datetime.now(UTC)
    arms: dict[str, tuple[Experiment, Arm]] = {}
    for experiment in experiments:
        if experiment.end is not None and experiment.end <= now:
            continue
        if float(rollout_draw(experiment, [team])[0]) >= experiment.rollout:
            continue
        for arm in experiment.arms:
            arms[arm_key(experiment, arm)] = (experiment, arm)
    return arms


def _matrix_config(config, info: dict[str, Any]):
    """The matrix settings the team's events are folded in with (None when the model was
    loaded from a folder without a source: the format is then unknown, nothing is folded)."""
    if config.source is None and config.format != "demo":
        return None
    fmt = info.get("format")
    return config.matrix_config(None if fmt == "saved model" else fmt)
