"""Run the serving process's half of a model swap in small steps between requests.

Why (issue 11: no stalls): a swap still costs the serving process tens of milliseconds of
Python (load the model folder, build the serving index, warm it up). Run in a background
thread, that work competes with the event loop for the interpreter lock, and it wins more
than its share: each time the loop thread blocks for a moment in a system call (``select``,
``send``, ``recv``) the swap thread takes the lock and keeps it for a whole switch interval
(5 ms), so a request that makes a few system calls waits a few intervals. The reads that
arrive during a swap were the slowest 1 to 3% of all reads.

So the swap is written as steps of a few milliseconds each (:mod:`teamrec._steps`;
:func:`~teamrec._steps.run_steps` runs them to the end in the calling thread), and a server that has
an event loop runs those steps *on the loop*, one step per callback with a pause between
(:class:`LoopSteps`): a request waits at most for the one step under way, never for a
convoy of switch intervals, and between two steps the loop serves what arrived meanwhile
(the pause grows with the step, so a swap takes at most a fifth of the loop's time; a fifth
measured better than a third in `benchmarks/bench_stalls.py`).
The thread that asked for the swap (a retrain's) only waits.

The loop must never wait for a swap it is meant to run. If a step is not taken within
:attr:`LoopSteps.stall_seconds` (a blocked or stopping loop), the waiting thread finishes
the swap itself, so no caller can deadlock.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

from teamrec._steps import Steps, run_steps

log = logging.getLogger(__name__)

T = TypeVar("T")

#: Runs :data:`~teamrec._steps.Steps` to the end and returns their result.
StepRunner = Callable[[Steps[Any]], Any]


class LoopSteps:
    """Runs steps on an asyncio event loop between the requests it serves (see the module
    docstring); called from any other thread, it blocks until the steps are done and returns
    their result (or raises their exception). Called on the loop's own thread, or once the
    loop has stopped, it runs the steps at once."""

    def __init__(self, loop: asyncio.AbstractEventLoop, *, share: float = 0.2, pause: float = 0.001,
                 stall_seconds: float = 2.0) -> None:
        if not 0 < share <= 1:
            raise ValueError("share must be in (0, 1]")
        #: The loop the steps run on.
        self.loop = loop
        #: At most this share of the loop's time goes to steps: after a step of ``t`` seconds
        #: the loop serves requests for ``t * (1 - share) / share`` seconds (``pause`` at
        #: least). A loop busy with requests catches up between steps instead of falling
        #: behind for the whole swap.
        self.share = share
        #: The shortest time the loop serves requests between two steps (seconds).
        self.pause = pause
        #: Seconds without a step taken after which the waiting thread runs the rest itself.
        self.stall_seconds = stall_seconds
        self._thread_id: int | None = None
        loop.call_soon_threadsafe(self._note_thread)

    def _note_thread(self) -> None:
        self._thread_id = threading.get_ident()

    def __call__(self, steps: Steps[T]) -> T:
        if threading.get_ident() == self._thread_id or not self.loop.is_running():
            return run_steps(steps)
        job = _Job(steps)
        try:
            self.loop.call_soon_threadsafe(self._step, job)
        except RuntimeError:  # the loop closed meanwhile
            return run_steps(steps)
        while not job.done.wait(self.stall_seconds / 4):
            if time.monotonic() - job.last_step > self.stall_seconds or not self.loop.is_running():
                log.warning("the event loop took no swap step for %.1f s: the swap finishes in its own thread",
                            time.monotonic() - job.last_step)
                with job.lock:
                    job.on_loop = False
                while not job.done.is_set():
                    job.advance()
        return job.result()

    def _step(self, job: _Job) -> None:
        with job.lock:
            if not job.on_loop or job.done.is_set():
                return
            began = time.perf_counter()
            if not job.advance():
                took = time.perf_counter() - began
                self.loop.call_later(max(self.pause, took * (1 - self.share) / self.share), self._step, job)


class _Job:
    """One run of steps: who runs them (the loop until it stalls), and how they ended."""

    def __init__(self, steps: Steps[Any]) -> None:
        self.steps = steps
        self.lock = threading.Lock()
        self.done = threading.Event()
        self.on_loop = True
        self.last_step = time.monotonic()
        self._value: Any = None
        self._error: BaseException | None = None

    def advance(self) -> bool:
        """Run one step; True when the steps have ended (returned or raised)."""
        self.last_step = time.monotonic()
        try:
            next(self.steps)
            return False
        except StopIteration as stop:
            self._value = stop.value
        except BaseException as exc:  # noqa: BLE001 - handed to the waiting thread, raised there
            self._error = exc
        self.done.set()
        return True

    def result(self) -> Any:
        if self._error is not None:
            raise self._error
        return self._value
