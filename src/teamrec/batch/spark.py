"""The Spark batch engine: the same per-team function, run by ``groupBy("team").applyInPandas``.

Spark reads the events (a Parquet dataset directly; any other source through teamrec's reader
on the driver), shuffles them by team, and each task calls
:func:`~teamrec.batch.job.run_team` on one team's rows with one native thread (the Python
workers also get ``OMP_NUM_THREADS=1`` and friends), so ``local[2]`` runs two fits at a time on
two cores instead of two oversubscribed pools. The results come back as one long table that
Spark writes as the three Parquet outputs, partitioned by team; models are saved by the tasks
themselves, so on a cluster ``--out`` must be a folder every executor shares.

Needs the ``spark`` extra (``pip install 'teamrec[spark]'``) and Java 17 or newer.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import sys
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from teamrec.batch.job import (
    OUTPUTS,
    THREAD_ENV,
    BatchSpec,
    iter_teams,
    peak_memory_mb,
    reset_peak_memory,
    run_team,
    team_partitions,
    write_manifest,
)
from teamrec.data.events import EVENT_COLUMNS, normalize_events
from teamrec.errors import ConfigError

log = logging.getLogger(__name__)

#: The long table tasks return: one row per output row, plus one "_stats" row per team.
RESULT_SCHEMA = "output string, team string, a string, rank int, b string, score double, fallback boolean"


@contextlib.contextmanager
def _quiet_pandas3() -> Iterator[None]:
    """PySpark 4 warns that pandas 3 is not "fully" supported; the Arrow paths this job uses
    are (the engine-equality tests run them), so the warning is noise here."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="PySpark does not yet fully support pandas", category=FutureWarning)
        yield


def find_java_home() -> str | None:
    """``$JAVA_HOME``, else the installation the ``java`` on ``$PATH`` belongs to."""
    if os.environ.get("JAVA_HOME"):
        return os.environ["JAVA_HOME"]
    java = shutil.which("java")
    if java:
        return str(Path(os.path.realpath(java)).parent.parent)
    return None


def spark_session(master: str = "local[2]", *, partitions: int = 16, app: str = "teamrec-batch") -> Any:
    """A SparkSession for the batch job (Java found, Python workers bounded to one thread)."""
    try:
        from pyspark.sql import SparkSession
    except ImportError:
        raise ConfigError("the Spark engine needs PySpark: pip install 'teamrec[spark]'") from None
    java_home = find_java_home()
    if java_home is None:
        raise ConfigError("the Spark engine needs Java 17 or newer (set JAVA_HOME)")
    os.environ["JAVA_HOME"] = java_home
    # Workers run this interpreter (not whatever python3 is first on PATH), with one native
    # thread each; local-mode workers inherit the driver's environment.
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")  # local mode stays on loopback
    for name in THREAD_ENV:
        os.environ.setdefault(name, "1")
    builder = (
        SparkSession.builder.master(master)
        .appName(app)
        .config("spark.sql.shuffle.partitions", str(partitions))
        .config("spark.sql.execution.arrow.pyspark.enabled", "true")
        .config("spark.sql.sources.partitionColumnTypeInference.enabled", "false")  # team ids stay strings
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.driver.memory", os.environ.get("TEAMREC_SPARK_DRIVER_MEMORY", "2g"))
    )
    for name in THREAD_ENV:
        builder = builder.config(f"spark.executorEnv.{name}", "1")
    session = builder.getOrCreate()
    session.sparkContext.setLogLevel("ERROR")
    return session


def _long(outputs: Any, n_events: int, rss_mb: float) -> pd.DataFrame:
    parts = []
    for name, frame in outputs.tables().items():
        key, other = OUTPUTS[name][1], OUTPUTS[name][3]
        parts.append(pd.DataFrame({"output": name, "team": outputs.team, "a": frame[key].astype(str),
                                   "rank": frame["rank"].astype(np.int32), "b": frame[other].astype(str),
                                   "score": frame["score"].astype(np.float64),
                                   "fallback": frame["fallback"].astype(bool) if "fallback" in frame else False}))
    parts.append(pd.DataFrame({"output": ["_stats"], "team": [outputs.team], "a": [str(n_events)],
                               "rank": np.array([0], dtype=np.int32), "b": [f"{rss_mb:.1f}"],
                               "score": [outputs.seconds], "fallback": [False]}))
    long = pd.concat(parts, ignore_index=True)
    # Plain object columns: PySpark's Arrow conversion does not take pandas' Arrow-backed strings.
    return long.astype({"output": object, "team": object, "a": object, "b": object})


def run_spark(
    source: str | os.PathLike[str],
    out: str | os.PathLike[str],
    spec: BatchSpec | None = None,
    *,
    k: int = 10,
    master: str = "local[2]",
    partitions: int = 16,
    models: bool = True,
    fmt: str | None = None,
    **options: Any,
) -> dict[str, Any]:
    """Fit every team of ``source`` on Spark and write the batch output to ``out``."""
    from pyspark import StorageLevel
    from pyspark.sql import functions as F

    spec = spec or BatchSpec()
    out_path = Path(out).resolve()
    start = time.perf_counter()
    spark = spark_session(master, partitions=partitions)
    path = Path(source)
    items = users = None
    if (fmt in (None, "parquet")) and team_partitions(path):
        events = spark.read.parquet(str(path.resolve())).select(*EVENT_COLUMNS)
    else:
        teams = list(iter_teams(path, fmt, **options))
        frames = [e for _, e, _, _ in teams]
        items = {t: i for t, _, i, _ in teams if i is not None and len(i)}
        users = {t: u for t, _, _, u in teams if u is not None and len(u)}
        pdf = pd.concat(frames, ignore_index=True) if frames else normalize_events(pd.DataFrame(columns=EVENT_COLUMNS))
        with _quiet_pandas3():
            events = spark.createDataFrame(pdf.astype({c: object for c in ("team", "user", "item", "kind")}))
    model_root = out_path / "models"

    def per_team(frame: pd.DataFrame) -> pd.DataFrame:
        reset_peak_memory()
        team = str(frame["team"].iloc[0])
        for col in ("team", "user", "item", "kind"):
            frame[col] = frame[col].astype(str).astype(object)
        clean = normalize_events(frame, source=f"team {team}")
        outputs = run_team(clean, spec.for_team(team), k=k, threads=1,
                           items=(items or {}).get(team), users=(users or {}).get(team))
        if models:
            outputs.model.save(model_root / f"team={team}")
        return _long(outputs, len(clean), peak_memory_mb())

    with _quiet_pandas3():
        result = events.groupBy("team").applyInPandas(per_team, schema=RESULT_SCHEMA)
    result = result.persist(StorageLevel.MEMORY_AND_DISK)
    try:
        stats = result.filter(F.col("output") == "_stats").collect()  # runs the fits, once
        for name, cols in OUTPUTS.items():
            (
                result.filter(F.col("output") == name)
                .select(F.col("team"), F.col("a").alias(cols[1]), F.col("rank"), F.col("b").alias(cols[3]),
                        F.col("score"), *[F.col(c) for c in cols[5:]])
                .write.mode("overwrite")
                .partitionBy("team")
                .parquet(str(out_path / name))
            )
    finally:
        result.unpersist()
    per_team_stats = sorted(
        ({"team": r["team"], "events": int(r["a"]), "fit_seconds": round(float(r["score"]), 4),
          "peak_rss_mb": float(r["b"])} for r in stats),
        key=lambda r: r["team"],
    )
    return write_manifest(out_path, engine="spark", master=master, k=k, spec=spec, per_team=per_team_stats,
                          started=start)
