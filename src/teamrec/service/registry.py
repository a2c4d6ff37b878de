"""The service's models: one immutable snapshot per team (and per experiment arm), swapped
atomically on retrain.

An experiment whose rollout takes a team (:mod:`teamrec.experiments`) adds one snapshot per
arm: the team's spec with the arm's algorithm and parameters, built by the same team builder,
retrained and refreshed with the team's own model, never saved over it.

A request takes the team's :class:`TeamState` once, at its start, and uses only that object:
the model, its serving index and its figures belong together and never change. A retrain
builds a whole new state aside and then replaces the team's entry in one assignment, so a
request sees either the old model or the new one, never a half-built one, and none waits.

No stalls: the fit itself (read the data, build the matrix, fit; or the incremental update)
runs in a **worker process** (:mod:`teamrec.service.training`), which writes the new model as
a TeamModel folder (arrays + JSON); the server only loads that folder and builds the serving
index, so reads keep being answered at full speed while a model trains.

Concurrent requests are merged: per team one job runs at a time, and every request that
arrives while it runs joins the one follow-up queued behind it (which starts after the running
one, so it sees every event stored before the request). 45 concurrent retrain requests run
two fits, not 45. A retrain that fails leaves the serving model as it was and is kept in
:attr:`ModelRegistry.failures`, its message without the server's file paths.

With ``[batch]`` settings the registry also serves the teams of a ``teamrec batch`` output
(:mod:`teamrec.service.batch_models`): loaded on first request, the least recently used
dropped beyond ``max_teams_loaded``, the same :class:`TeamState` as any other team.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import shutil
import tempfile
import threading
import time
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from teamrec._steps import Steps, run_steps
from teamrec.errors import ConfigError, TeamrecError, UnknownIdError, UnsupportedError
from teamrec.experiments.assignment import in_rollout
from teamrec.experiments.settings import Arm, Experiment
from teamrec.recommender import TeamModel
from teamrec.service import batch_models, training
from teamrec.service._redact import redact_paths
from teamrec.service.foreground import StepRunner
from teamrec.service.online import FreshEvents
from teamrec.service.serving import Prepared, ServingIndex, load_prepared
from teamrec.service.settings import Settings, TeamSettings
from teamrec.store.base import EventStore

log = logging.getLogger(__name__)

FULL = "full"
REFRESH = "refresh"


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
    #: The event store's sequence this snapshot was built up to and the events stored after
    #: it, per person.
    sequence: int = 0
    fresh: FreshEvents = field(default_factory=lambda: FreshEvents("", 0, None))
    #: The model folder this state was loaded from (the base of the next incremental
    #: refresh; None: built in this process and not written yet), and the worker process
    #: that fitted it (None: fitted or loaded in the server itself).
    folder: str | None = None
    worker_pid: int | None = None


@dataclass
class _Jobs:
    """One team's running job and the one follow-up queued behind it."""

    running: Future | None = None
    queued: Future | None = None
    queued_kind: str = REFRESH


#: The service's working model folders are named for the process that owns them, so one
#: left by a killed server (``kill -9`` runs no clean-up) is removed by the next one.
WORKDIR_PREFIX = "teamrec-models-"


def remove_orphaned_workdirs(root: str | None = None) -> list[Path]:
    """Remove the working folders of service processes that no longer run; the ones removed."""
    removed = []
    for folder in Path(root or tempfile.gettempdir()).glob(f"{WORKDIR_PREFIX}*-*"):
        pid = folder.name[len(WORKDIR_PREFIX):].split("-", 1)[0]
        if not pid.isdigit() or int(pid) == os.getpid() or _alive(int(pid)):
            continue
        shutil.rmtree(folder, ignore_errors=True)
        removed.append(folder)
    return removed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True  # someone else's process: leave its folder alone
    return True


def _worker_context() -> multiprocessing.context.BaseContext:
    """forkserver where there is one (each fit a cheap fork of a server that has teamrec
    imported), else spawn; never plain fork, which would copy the server's threads' locks."""
    if "forkserver" in multiprocessing.get_all_start_methods():
        ctx = multiprocessing.get_context("forkserver")
        # What every fit imports, loaded once in the fork server, not once per fit (a fresh
        # worker per fit then costs a fork, ~25 ms of its CPU).
        ctx.set_forkserver_preload(["teamrec.service.training", "pyarrow.parquet", "pyarrow.feather"])
        return ctx
    return multiprocessing.get_context("spawn")


class ModelRegistry:
    """Every configured team's current :class:`TeamState`, and the worker that refits them."""

    def __init__(self, settings: Settings, store: EventStore) -> None:
        self.settings = settings
        self.store = store
        #: (team, arm key) -> state; the arm key is None for the team's own model, else
        #: ``"experiment/arm"`` (:func:`arm_key`).
        self._states: dict[tuple[str, str | None], TeamState] = {}
        self._versions: dict[tuple[str, str | None], int] = {}
        #: Per team, the experiment arms it serves besides its own model.
        self.arms: dict[str, dict[str, tuple[Experiment, Arm]]] = {
            name: experiment_arms(settings.experiments, name) for name in settings.teams
        }
        self.retraining: set[str] = set()
        #: The last failed retrain per team (``at``, ``message``), until one succeeds: a
        #: retrain in the background has nobody to answer, so /model reports it.
        self.failures: dict[str, dict[str, Any]] = {}
        #: Fits started per team (full and incremental): merged requests share one.
        self.fits: dict[str, int] = dict.fromkeys(settings.teams, 0)
        self._jobs = {name: _Jobs() for name in settings.teams}
        self._jobs_lock = threading.Lock()
        self._pool: ProcessPoolExecutor | None = None
        self._pool_lock = threading.Lock()
        self._workdir: Path | None = None
        #: The batch teams loaded now, least recently used first (None: no ``[batch]``).
        self.batch_loaded = (
            batch_models.RecentlyUsed(settings.batch.max_teams_loaded) if settings.batch is not None else None
        )
        self._batch_lock = threading.Lock()  # the batch teams' entries of _states and their order
        self._batch_loading: dict[str, threading.Lock] = {}
        #: What runs the serving process's half of a retrain's or refresh's swap: at once in
        #: the job's thread by default; a server with an event loop runs the steps on its
        #: loop between requests (:class:`teamrec.service.foreground.LoopSteps`).
        self.foreground: StepRunner = run_steps

    def start(self) -> None:
        """Load or train every team before the server listens (a saved model when there is
        one, else its source), in this process: nothing is being served yet."""
        for name in self.settings.teams:
            self._start_team(name)
            for key in self.arms[name]:
                self._start_arm(name, key)
        if any(team.source is not None or team.format == "demo" for team in self.settings.teams.values()):
            self._warm_worker()

    def _warm_worker(self) -> None:
        """Start the worker's fork server now, which imports teamrec once at full priority:
        before serving rather than in the middle of the first retrain (a no-op job waits for
        it). A failure here only means the first retrain starts it (and reports any error)."""
        try:
            self._worker().submit(os.getpid).result(timeout=120)
        except Exception as exc:  # noqa: BLE001 - e.g. a script without a __main__ guard
            log.warning("the retrain worker did not start ahead (%s); the first retrain starts it", exc)

    def close(self) -> None:
        """Stop the worker process and remove the models' working folders."""
        with self._pool_lock:
            if self._pool is not None:
                self._pool.shutdown(wait=True, cancel_futures=True)
                self._pool = None
            if self._workdir is not None:
                shutil.rmtree(self._workdir, ignore_errors=True)
                self._workdir = None

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
        version = self._versions[(team, None)] = self._versions.get((team, None), 0) + 1
        state = TeamState(
            name=team, model=built.model, index=index, version=version,
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

    # -- merged jobs ----------------------------------------------------------------------------
    def retrain(self, team: str) -> TeamState:
        """Refit ``team`` on its source plus its stored events (in the worker process) and
        swap the result in; waits for it. A failure leaves the serving model as it was and is
        kept in :attr:`failures`."""
        return self.submit(team, full=True).result()

    def refresh(self, team: str) -> TeamState:
        """An incremental snapshot (see :meth:`submit`); waits for it."""
        return self.submit(team, full=False).result()

    def submit(self, team: str, *, full: bool = True) -> Future:
        """Start a retrain (``full``) or an incremental refresh of ``team``, or join the one
        queued behind the running job; a future of the new :class:`TeamState`.

        An incremental refresh applies the events stored since the serving snapshot to a
        copy of its matrix (vocabularies extended append-only) and of its algorithm (its own
        ``update``); a team whose model cannot be extended (loaded without a source) is
        retrained instead. A full request joining a queued refresh makes it a full one."""
        self.get(team)
        if team not in self.settings.teams:
            raise UnsupportedError(f"team {team!r} is served from a batch output: the next batch run retrains it")
        kind = FULL if full else REFRESH
        with self._jobs_lock:
            jobs = self._jobs[team]
            if jobs.running is None:
                future: Future = Future()
                jobs.running = future
                threading.Thread(target=self._run_jobs, args=(team, kind, future), name=f"retrain-{team}",
                                 daemon=True).start()
                return future
            if jobs.queued is None:
                jobs.queued, jobs.queued_kind = Future(), kind
            elif kind == FULL:
                jobs.queued_kind = FULL
            return jobs.queued

    def _run_jobs(self, team: str, kind: str, future: Future) -> None:
        """Run ``team``'s job, then the follow-up queued meanwhile, until none is queued."""
        while True:
            if future.set_running_or_notify_cancel():
                try:
                    future.set_result(self._job(team, kind))
                except BaseException as exc:
                    future.set_exception(exc)
            with self._jobs_lock:
                jobs = self._jobs[team]
                if jobs.queued is None:
                    jobs.running = None
                    return
                future, kind = jobs.queued, jobs.queued_kind
                jobs.running, jobs.queued = future, None

    def _job(self, team: str, kind: str) -> TeamState:
        self.retraining.add(team)
        self.fits[team] += 1
        try:
            if kind == REFRESH and self.get(team).fresh.config is not None:
                state = self._refresh(team)
                for key in self.arms[team]:
                    self._refresh(team, key)
                return state
            try:
                state = self._retrain(team)
                for key in self.arms[team]:
                    self._retrain(team, key)
            except Exception as exc:
                # teamrec's own errors say what is wrong with the data or settings (without the
                # server's paths); anything else is a bug, whose details stay in the server log.
                message = (redact_paths(str(exc)) if isinstance(exc, TeamrecError)
                           else f"internal error ({type(exc).__name__}); see the server log")
                self.failures[team] = {"at": time.time(), "message": message}
                log.error("retrain of team %s failed: %s", team, exc)
                raise
            self.failures.pop(team, None)
            return state
        finally:
            self.retraining.discard(team)

    # -- the worker -----------------------------------------------------------------------------
    def _worker(self) -> ProcessPoolExecutor:
        with self._pool_lock:
            if self._pool is None:
                # One worker: a fit never takes more than one of the machine's cores from
                # serving; a fresh process per fit gives its memory back when it ends.
                self._pool = ProcessPoolExecutor(max_workers=1, mp_context=_worker_context(), max_tasks_per_child=1,
                                                 initializer=training.worker_init)
            return self._pool

    def _new_folder(self, team: str, arm: str | None = None) -> Path:
        with self._pool_lock:
            if self._workdir is None:
                remove_orphaned_workdirs()
                self._workdir = Path(tempfile.mkdtemp(prefix=f"{WORKDIR_PREFIX}{os.getpid()}-"))
        label = team if arm is None else f"{team}~{arm.replace('/', '~')}"
        return self._workdir / f"{label}-{time.monotonic_ns()}"

    def _config(self, team: str, arm: str | None = None) -> TeamSettings:
        """The settings a snapshot is built from: the team's, or for an experiment arm the
        team's spec with the arm's algorithm and parameters (never saved over the team's model)."""
        config = self.settings.teams[team]
        if arm is None:
            return config
        _, spec_arm = self.arms[team][arm]
        if config.source is None and config.format != "demo":
            raise ConfigError(f"team {team!r}: experiment arm {arm!r} needs the team's source to train from")
        return config.model_copy(update={"algorithm": spec_arm.algorithm, "params": dict(spec_arm.params),
                                         "model_dir": None})

    def _in_worker(self, job, *args: Any) -> dict[str, Any]:
        result = self._worker().submit(job, *args).result()
        training.raise_worker_error(result)
        return result

    def _retrain(self, team: str, arm: str | None = None) -> TeamState:
        config = self._config(team, arm)
        if config.source is None and config.format != "demo":
            raise ConfigError(f"team {team!r} has no source to train from (only a saved model)")
        stored, sequence = self.store.since(team, 0)
        # A team with a model_dir gets its retrains saved there (whole or not at all).
        folder = Path(config.model_dir) if config.model_dir is not None else self._new_folder(team, arm)
        result = self._in_worker(training.train_to_folder, team, config, stored, sequence, str(folder))
        fitted = result["ok"]
        info = fitted["info"]
        return self._swapped(self.foreground(self._swap_in_steps(
            team, folder, seconds=fitted["seconds"], store_events=int(info["store_events"]), info=info,
            sequence=int(fitted["sequence"]), pid=result["pid"], arm=arm)))

    def _refresh(self, team: str, arm: str | None = None) -> TeamState:
        current = self.get(team, arm)
        config = current.fresh.config
        if config is None:  # loaded without a source: nothing to extend
            return self._retrain(team, arm)
        base = current.folder
        if base is None:  # built in this process at start: written once, for the worker to read
            base = str(self._new_folder(team, arm))
            current.model.save(base)
        events, sequence = self.store.since(team, current.sequence)
        folder = self._new_folder(team, arm)
        result = self._in_worker(training.refresh_to_folder, base, events, config, str(folder))
        info = {**current.info, "refreshed_people": result["ok"]["changed"]}
        state = self._swapped(self.foreground(self._swap_in_steps(
            team, folder, seconds=result["ok"]["seconds"], store_events=current.store_events + len(events),
            info=info, sequence=sequence, pid=result["pid"], arm=arm)))
        log.info("team %s%s: model version %d (incremental, %d people changed)", team, _arm_label(arm),
                 state.version, result["ok"]["changed"])
        return state

    def _swap_in_steps(self, team: str, folder: Path, *, arm: str | None,
                       **figures: Any) -> Steps[tuple[TeamState, str | None]]:
        """Load the model folder a worker wrote and swap it in (:meth:`_swap_steps`), in steps
        that :attr:`foreground` runs between requests."""
        model = yield from training.load_folder_steps(folder)
        yield
        prepared = load_prepared(folder, model)
        yield
        return (yield from self._swap_steps(team, model, folder=str(folder), arm=arm, prepared=prepared, **figures))

    def _swap(self, team: str, model: TeamModel, **kwargs: Any) -> TeamState:
        """:meth:`_swap_steps` at once (at start-up, before any request)."""
        return self._swapped(run_steps(self._swap_steps(team, model, **kwargs)))

    def _swap_steps(self, team: str, model: TeamModel, *, seconds: float, store_events: int, info: dict[str, Any],
                    sequence: int, folder: str | None, pid: int | None, arm: str | None = None,
                    prepared: Prepared | None = None) -> Steps[tuple[TeamState, str | None]]:
        """Build the serving index of ``model`` (from the tables the worker ``prepared``, when
        it did) and make it the team's state (one assignment); the new state, and the folder
        of the state it replaced when that was a working copy (for :meth:`_swapped` to remove)."""
        config = self.settings.teams[team]
        index = yield from ServingIndex.build_steps(model, prepared)
        yield
        yield from index.warm_up_steps()
        yield
        fresh = FreshEvents(team, sequence, _matrix_config(config, info))
        fresh.catch_up(self.store)
        version = self._versions[(team, arm)] = self._versions.get((team, arm), 0) + 1
        state = TeamState(
            name=team, model=model, index=index, version=version, trained_at=time.time(),
            train_seconds=seconds, store_events=store_events, info=info, sequence=sequence, fresh=fresh,
            folder=folder, worker_pid=pid,
        )
        old = self._states.get((team, arm))
        self._states[(team, arm)] = state  # the swap: one reference assignment
        log.info("team %s%s: model version %d in service", team, _arm_label(arm), state.version)
        stale = old.folder if old is not None and old.folder and old.folder != folder else None
        return state, stale if stale is not None and self._is_working_copy(stale) else None

    def _swapped(self, swapped: tuple[TeamState, str | None]) -> TeamState:
        """The new state; the working copy it replaced is removed here, in the job's thread
        (deleting files is the file system's slow work, kept off the server's event loop)."""
        state, stale = swapped
        if stale is not None:
            shutil.rmtree(stale, ignore_errors=True)
        return state

    def _is_working_copy(self, folder: str) -> bool:
        return self._workdir is not None and Path(folder).parent == self._workdir

    def _start_team(self, team: str) -> TeamState:
        config = self.settings.teams[team]
        if training.has_saved_model(config):
            built = training.load(team, config)
            folder: str | None = config.model_dir
            # The saved model records the store's sequence it learnt up to: what was stored
            # after it is fresh; a store that has less than that (another database) is read whole.
            sequence = built.sequence if built.sequence <= self._high_water(team) else 0
            store_events = int(built.info.get("store_events") or 0)
        else:
            built = training.train(team, config, self.store)
            folder = None
            if config.model_dir is not None:
                built.model.save(config.model_dir)  # whole or not at all
                folder = config.model_dir
            sequence = built.sequence
            store_events = int(built.info.get("store_events") or 0)
        prepared = load_prepared(folder, built.model) if folder is not None else None
        return self._swap(team, built.model, seconds=built.seconds, store_events=store_events, info=built.info,
                          sequence=sequence, folder=folder, pid=None, prepared=prepared)


    def _start_arm(self, team: str, arm: str) -> TeamState:
        """An experiment arm's first snapshot, fitted in this process at start-up."""
        built = training.train(team, self._config(team, arm), self.store)
        return self._swap(team, built.model, seconds=built.seconds, info=built.info, sequence=built.sequence,
                          store_events=int(built.info.get("store_events") or 0), folder=None, pid=None, arm=arm)

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
        if not in_rollout(experiment.name, team, experiment.rollout, experiment.salt):
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
