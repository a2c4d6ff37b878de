"""The batch job: fit every team of a multi-team event table and write what it serves.

::

    teamrec batch events/ --out batch/                  # local engine, one process per core
    teamrec batch events/ --out batch/ --engine spark   # the same per-team function on PySpark

:mod:`teamrec.batch.job` holds what both engines share: the spec (one config for all teams,
per-team overrides), the pure per-team function and the output layout;
:mod:`teamrec.batch.local` and :mod:`teamrec.batch.spark` only decide where it runs.
"""

from teamrec.batch.job import BatchSpec, TeamOutputs, load_spec, read_output, run_team

__all__ = ["BatchSpec", "TeamOutputs", "load_spec", "read_output", "run_team"]
