"""Work written in steps: a generator that ``yield``s between steps and returns its result.

Long Python work that a server does while it answers requests (loading a model folder and
building its serving index during a model swap) is written this way, so the server can run
one step at a time between requests (:mod:`teamrec.service.foreground`); everyone else runs
the steps straight through with :func:`run_steps`.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import TypeVar

T = TypeVar("T")

#: Steps that return a ``T``: ``yield`` between steps, ``return`` the result.
Steps = Generator[None, None, T]


def run_steps(steps: Steps[T]) -> T:
    """Run every step now, in the calling thread; the steps' result."""
    while True:
        try:
            next(steps)
        except StopIteration as stop:
            return stop.value
