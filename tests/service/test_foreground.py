"""A model swap's steps run on the server's event loop, between requests (issue 11: no stalls)."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

from teamrec._steps import run_steps
from teamrec.service.foreground import LoopSteps, _Job


def counting(n: int, trace: list[tuple[str, int]]):
    """Steps that note which thread ran each of them, and return ``n``."""
    for i in range(n):
        trace.append(("step", threading.get_ident()))
        if i < n - 1:
            yield
    return n


@pytest.fixture
def loop():
    """An event loop running in its own thread (as uvicorn's does), stopped afterwards."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    yield loop
    loop.call_soon_threadsafe(loop.stop)
    thread.join(timeout=10)
    loop.close()


def loop_thread(loop) -> int:
    async def ident() -> int:
        return threading.get_ident()

    return asyncio.run_coroutine_threadsafe(ident(), loop).result(timeout=10)


def test_run_steps_runs_every_step_and_returns_the_result():
    trace: list[tuple[str, int]] = []
    assert run_steps(counting(4, trace)) == 4
    assert trace == [("step", threading.get_ident())] * 4


def test_steps_run_on_the_loop_with_its_other_work_between_them(loop):
    """Every step runs on the loop's thread, and callbacks the loop had waiting (requests)
    run between two steps, not after the whole swap."""
    trace: list[tuple[str, int]] = []
    ticking = threading.Event()

    def tick() -> None:
        trace.append(("tick", 0))
        if not ticking.is_set():
            loop.call_soon(tick)

    loop.call_soon_threadsafe(tick)
    try:
        assert LoopSteps(loop, pause=0.001)(counting(5, trace)) == 5
    finally:
        ticking.set()
    on_loop = loop_thread(loop)
    steps = [i for i, (kind, _) in enumerate(trace) if kind == "step"]
    assert [trace[i][1] for i in steps] == [on_loop] * 5
    assert all(any(kind == "tick" for kind, _ in trace[a + 1:b]) for a, b in zip(steps, steps[1:], strict=False))


def test_an_error_in_a_step_reaches_the_waiting_thread(loop):
    def broken():
        yield
        raise ValueError("bad model folder")

    with pytest.raises(ValueError, match="bad model folder"):
        LoopSteps(loop)(broken())


def test_steps_asked_for_on_the_loop_itself_run_at_once(loop):
    """The loop never waits for steps it is meant to run (no deadlock)."""
    runner = LoopSteps(loop)
    trace: list[tuple[str, int]] = []

    async def on_the_loop() -> int:
        return runner(counting(3, trace))

    assert asyncio.run_coroutine_threadsafe(on_the_loop(), loop).result(timeout=10) == 3


def test_a_blocked_loop_does_not_hold_the_swap_forever(loop):
    """If the loop takes no step in ``stall_seconds`` (it is blocked, here on purpose), the
    waiting thread runs the steps itself."""
    runner = LoopSteps(loop, stall_seconds=0.2)
    loop_thread(loop)  # the runner knows the loop's thread
    release = threading.Event()
    loop.call_soon_threadsafe(release.wait, 30)  # the loop is stuck in this callback
    trace: list[tuple[str, int]] = []
    try:
        began = time.monotonic()
        assert runner(counting(3, trace)) == 3
        assert time.monotonic() - began < 20
    finally:
        release.set()
    assert {thread for _, thread in trace} == {threading.get_ident()}


def test_a_stopped_loop_runs_the_steps_in_the_calling_thread():
    loop = asyncio.new_event_loop()
    try:
        trace: list[tuple[str, int]] = []
        assert LoopSteps(loop)(counting(2, trace)) == 2
        assert {thread for _, thread in trace} == {threading.get_ident()}
    finally:
        loop.close()


def test_the_loop_serves_requests_four_times_as_long_as_each_step_took():
    """With the default share (a fifth), a step of 10 ms is followed by at least 40 ms for
    the loop's other work before the next step."""

    class Recording:
        def __init__(self) -> None:
            self.delays: list[float] = []

        def call_soon_threadsafe(self, *args) -> None:
            pass

        def call_later(self, delay: float, *args) -> None:
            self.delays.append(delay)

    def slow():
        time.sleep(0.01)
        yield
        time.sleep(0.01)

    loop = Recording()
    runner = LoopSteps(loop)  # type: ignore[arg-type]
    job = _Job(slow())
    runner._step(job)
    assert len(loop.delays) == 1 and loop.delays[0] >= 0.04
    with pytest.raises(ValueError, match="share"):
        LoopSteps(loop, share=0)  # type: ignore[arg-type]
