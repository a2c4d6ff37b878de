"""Building one team's model for the service: its spec's source + stored events -> TeamModel.

The data of a team is its configured source (a file, a folder, the generated demo) with the
events ingested through the API appended (the event store), so a retrain learns from both;
the model is built by the one team builder (:func:`teamrec.spec.build_team`). The source's
team is renamed to the service's team name, so every team's data is keyed by the name in its
URLs and no other team's rows can slip in.
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from teamrec._steps import Steps
from teamrec.data.matrix import MatrixConfig, extend_matrix
from teamrec.errors import ConfigError, DataError, NotFittedError, TeamrecError, UnsupportedError
from teamrec.recommender import TeamModel, load_team_model_steps, save_team_model
from teamrec.service.serving import prepare, save_prepared
from teamrec.service.settings import TeamSettings
from teamrec.spec import build_team
from teamrec.store.base import EventStore

log = logging.getLogger(__name__)


@dataclass
class Trained:
    """A freshly built model, where its data came from, and the event store's sequence number
    it has seen up to (what the online updater reads on from, with ``store.since``)."""

    model: TeamModel
    seconds: float
    info: dict[str, Any] = field(default_factory=dict)
    sequence: int = 0


def train(name: str, team: TeamSettings, store: EventStore | _FrozenEvents) -> Trained:
    """Fit the team's spec on its source events plus every event stored for it (the one team
    builder, :func:`teamrec.spec.build_team`)."""
    start = time.perf_counter()
    spec = team.spec
    if spec.source is None and spec.format != "demo":
        raise ConfigError(f"team {name!r} has no source to train from (only a saved model)")
    base = spec.read(name)
    stored, sequence = store.since(name, 0)
    model = build_team(spec, team=name, dataset=base, extra_events=stored)
    # What the model learnt from the store, kept with a saved model: after a restart, the
    # events it was trained on are not counted again as new.
    model.provenance = {"store_events": int(len(stored)), "sequence": int(sequence)}
    seconds = time.perf_counter() - start
    info = {
        "format": base.info.get("format", team.format),
        "source": spec.source_name,
        "source_events": int(len(base.events)),
        "store_events": int(len(stored)),
    }
    log.info("trained %s for team %s in %.2fs (%d source + %d stored events)",
             team.algorithm, name, seconds, info["source_events"], info["store_events"])
    return Trained(model=model, seconds=seconds, info=info, sequence=sequence)


def load(name: str, team: TeamSettings) -> Trained:
    """The team's saved model (``model_dir``)."""
    assert team.model_dir is not None
    start = time.perf_counter()
    model = TeamModel.load(team.model_dir)
    model.algorithm.warm()
    saved = model.provenance
    return Trained(
        model=model,
        seconds=time.perf_counter() - start,
        info={"format": "saved model", "source": Path(team.model_dir).name, "source_events": None,
              "store_events": saved.get("store_events")},
        sequence=int(saved.get("sequence") or 0),
    )


def has_saved_model(team: TeamSettings) -> bool:
    return team.model_dir is not None and (Path(team.model_dir) / "team.json").exists()


# -- fits in a worker process ----------------------------------------------------------------
# A fit holds the interpreter for as long as it runs (NumPy and SciPy release the GIL only in
# parts), so the service runs every retrain and refresh in a worker process: the worker writes
# the new model as a TeamModel folder (arrays + JSON, never pickle) and the server loads it.
# The functions below are what the worker runs; they take plain values (settings, the stored
# events as a DataFrame: the event store may be in the server's memory) and return plain ones.
# A teamrec error comes back as its class name and message (their constructors differ, so
# they are rebuilt by :func:`raise_worker_error` rather than pickled).


#: How much lower the worker's CPU priority is than the server's (Unix ``nice``): on a busy
#: machine, answering requests wins the CPU over finishing a fit sooner. Where Linux's idle
#: scheduling class is available the worker is put in it as well (:func:`worker_init`).
WORKER_NICENESS = 10


def worker_init() -> None:
    """(In the worker, once.) Lower its priority, keep it to one of the machine's cores and
    its numeric libraries to one thread, so a fit takes at most one core from the server.

    On Linux the worker also runs in the ``SCHED_IDLE`` class: it gets a core only when no
    ordinary thread wants it, and a server thread that wakes up (a request arrived) takes the
    core at once. A niced ordinary task, by contrast, keeps the core until its time slice
    ends, and those slices were the reads' waits during a fit.

    The core is pinned (``sched_setaffinity``) because not every thread of a fit is a numeric
    library's: the kNN similarity products run in a pool of one thread per core, which would
    otherwise take every core, niced or not, and slow the server's requests down while it runs.
    """
    try:
        os.nice(WORKER_NICENESS)
    except (AttributeError, OSError):  # no nice() here (Windows), or not allowed
        pass
    try:
        os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))
    except (AttributeError, OSError):  # not Linux, or not allowed: the niceness still applies
        pass
    pin_to_one_core()
    from threadpoolctl import threadpool_limits

    threadpool_limits(1)


def pin_to_one_core() -> None:
    """Keep this process to the last of the cores it may use (nothing where the system has
    no affinity, or one core only)."""
    allowed: set[int] = getattr(os, "sched_getaffinity", lambda _pid: set())(0)
    if len(allowed) > 1:
        try:
            os.sched_setaffinity(0, {max(allowed)})
        except OSError:  # not allowed here: the niceness still applies
            pass


def _worker_call(job, *args: Any) -> dict[str, Any]:
    try:
        return {"ok": job(*args), "pid": os.getpid()}
    except TeamrecError as exc:
        return {"error": type(exc).__name__, "message": str(exc), "pid": os.getpid()}
    except Exception as exc:  # a bug: its traceback goes to the worker's log, not to a client
        log.exception("fit in worker process %d failed", os.getpid())
        return {"error": "internal", "message": type(exc).__name__, "pid": os.getpid()}


def train_to_folder(name: str, team: TeamSettings, stored: pd.DataFrame, sequence: int, out: str) -> dict[str, Any]:
    """(In the worker.) Fit the team's spec on its source plus ``stored`` and write the model
    folder ``out`` whole or not at all; the :class:`Trained` figures, without the model."""
    return _worker_call(_train_to_folder, name, team, stored, sequence, out)


def _train_to_folder(name: str, team: TeamSettings, stored: pd.DataFrame, sequence: int, out: str) -> dict[str, Any]:
    trained = train(name, team, _FrozenEvents(name, stored, sequence))
    save_for_serving(trained.model, out)
    return {"seconds": trained.seconds, "info": trained.info, "sequence": trained.sequence}


def refresh_to_folder(base: str, events: pd.DataFrame, config: MatrixConfig, out: str) -> dict[str, Any]:
    """(In the worker.) The model folder ``base`` with ``events`` applied incrementally
    (:func:`~teamrec.data.matrix.extend_matrix` and the algorithm's own ``update``), written to
    ``out``; how many people changed."""
    return _worker_call(_refresh_to_folder, base, events, config, out)


def _refresh_to_folder(base: str, events: pd.DataFrame, config: MatrixConfig, out: str) -> dict[str, Any]:
    start = time.perf_counter()
    current = TeamModel.load(base)
    data, changed = extend_matrix(current.data, events, config)
    algorithm = current.algorithm
    algorithm.update(data.matrix)
    model = TeamModel(algorithm, data)
    model.provenance = dict(current.provenance)
    save_for_serving(model, out)
    return {"seconds": time.perf_counter() - start, "changed": int(len(changed))}


def save_for_serving(model: TeamModel, out: str | os.PathLike[str]) -> None:
    """(In the worker.) The model folder ``out`` with its serving index's prepared tables
    (:func:`teamrec.service.serving.prepare`), whole or not at all: the per-item Python work
    of building an index is done here, not in the serving process."""
    model.algorithm.warm()  # what warming builds (e.g. item-knn's transposed weights) is saved with it
    save_team_model(model, out, extra=lambda folder: save_prepared(prepare(model), folder))


_ERRORS: dict[str, type[TeamrecError]] = {
    cls.__name__: cls for cls in (TeamrecError, DataError, ConfigError, NotFittedError, UnsupportedError)
}


def raise_worker_error(result: dict[str, Any]) -> None:
    """Raise what a worker reported (nothing for a success): teamrec's own errors as
    themselves (with the worker's message), anything else as a RuntimeError naming its type."""
    kind = result.get("error")
    if kind is None:
        return
    cls = _ERRORS.get(kind)
    if cls is not None:
        raise cls(result["message"])
    if kind == "internal":
        raise RuntimeError(f"worker: {result['message']}")
    raise TeamrecError(result["message"])


class _FrozenEvents:
    """The stored events a worker was handed, answering the one store call training makes."""

    def __init__(self, team: str, events: pd.DataFrame, sequence: int) -> None:
        self.team, self.events, self.sequence = team, events, sequence

    def since(self, team: str, sequence: int) -> tuple[pd.DataFrame, int]:
        assert team == self.team and sequence == 0
        return self.events, self.sequence


def load_folder_steps(folder: str | os.PathLike[str]) -> Steps[TeamModel]:
    """(In the server.) A model folder a worker wrote, warmed to serve: in steps, run between
    requests (:mod:`teamrec.service.foreground`)."""
    model = yield from load_team_model_steps(folder)
    yield
    model.algorithm.warm()
    return model
