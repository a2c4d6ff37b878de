"""What a model swap costs the serving process (issue 11: no stalls), step by step.

On the load test's synthetic team (5,000 people x 10,000 items, item-knn) the model is fitted
once and written the way the service's worker writes it (with the serving index's prepared
tables). Then the serving process's half of a swap is repeated: load the model folder, build
the serving index, warm it up; once with the index prepared in the serving process (a Python
pass over every item and person, as before the worker prepared it) and once from the tables
the worker wrote. Printed per swap: the swap thread's CPU time by step (the time it holds or
competes for the interpreter while requests are served) and how many objects the new model
and index add for the garbage collector's full passes to walk.

    .venv/bin/python benchmarks/bench_swap.py               # 10 swaps each way
    .venv/bin/python benchmarks/bench_swap.py --swaps 20
"""

from __future__ import annotations

import argparse
import gc
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from load_test import N_ITEMS, N_PEOPLE, synthetic_team  # noqa: E402

STEPS = ("load the model folder", "read the prepared tables", "build the index", "warm up")


def swaps(folder: Path, n: int, *, prepared_here: bool) -> tuple[dict[str, float], int]:
    """Mean CPU seconds per step over ``n`` swaps, and the objects one model + index adds."""
    from teamrec._steps import run_steps
    from teamrec.service import serving, training

    def one(times: dict[str, float] | None) -> object:
        def step(name: str, fn):
            began = time.thread_time()
            out = fn()
            if times is not None:
                times[name] += time.thread_time() - began
            return out

        model = step(STEPS[0], lambda: run_steps(training.load_folder_steps(folder)))
        prepared = None if prepared_here else step(STEPS[1], lambda: serving.load_prepared(folder, model))
        index = step(STEPS[2], lambda: serving.ServingIndex(model, prepared))
        step(STEPS[3], index.warm_up)
        return index

    keep = one(None)  # imports and first-use caches out of the way
    gc.collect()
    gc.freeze()
    before = len(gc.get_objects())
    times = dict.fromkeys(STEPS, 0.0)
    for _ in range(n):
        keep = one(times)
    gc.collect()
    tracked = len(gc.get_objects()) - before
    del keep
    gc.unfreeze()
    return {name: seconds / n for name, seconds in times.items()}, tracked


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--swaps", type=int, default=10)
    args = parser.parse_args(argv)

    from teamrec.service import training
    from teamrec.spec import TeamSpec, build_team

    with tempfile.TemporaryDirectory(prefix="teamrec-swap-") as tmp:
        source = synthetic_team(Path(tmp) / "team")
        model = build_team(TeamSpec(source=str(source), algorithm="item-knn"), team="load")
        folder = Path(tmp) / "model"
        training.save_for_serving(model, folder)  # what the worker writes
        del model
        here, here_objects = swaps(folder, args.swaps, prepared_here=True)
        worker, worker_objects = swaps(folder, args.swaps, prepared_here=False)
    print(f"one swap of a {N_PEOPLE:,} people x {N_ITEMS:,} items item-knn model in the serving process, "
          f"mean of {args.swaps}: the swap thread's CPU ms")
    print(f"{'step':28s} {'index prepared here':>20s} {'from worker tables':>20s}")
    for name in STEPS:
        print(f"{name:28s} {1000 * here[name]:20.1f} {1000 * worker[name]:20.1f}")
    print(f"{'total':28s} {1000 * sum(here.values()):20.1f} {1000 * sum(worker.values()):20.1f}")
    print(f"{'objects the GC tracks':28s} {here_objects:20,d} {worker_objects:20,d}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
