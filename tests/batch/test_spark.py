"""The Spark engine on local[2]: the same per-team function, so the same output as the local
engine, byte for byte in every table (needs the ``spark`` extra and Java 17+)."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from teamrec.batch import load_spec, read_output
from teamrec.batch.job import OUTPUTS
from teamrec.batch.local import run_local
from teamrec.batch.spark import find_java_home, run_spark, spark_session
from teamrec.recommender import TeamModel

pytestmark = pytest.mark.slow

SPEC = """
[default]
matrix = { kinds = ["read", "write"], kind_weights = { read = 1.0, write = 5.0 }, log1p = true }
[teams.t3]
algorithm = "ease"
params = { regularization = 50.0 }
"""


@pytest.fixture(scope="module")
def spark():
    assert find_java_home(), "the Spark tests need Java 17+ (JAVA_HOME or java on PATH)"
    session = spark_session("local[2]", partitions=4)
    yield session
    session.stop()


def test_spark_output_equals_the_local_engine(spark, workload_dir, tmp_path):
    (tmp_path / "spec.toml").write_text(SPEC)
    spec = load_spec(tmp_path / "spec.toml")
    local = run_local(workload_dir, tmp_path / "local", spec, k=5, workers=1)
    on_spark = run_spark(workload_dir, tmp_path / "spark", spec, k=5, master="local[2]", partitions=4)
    assert on_spark["teams"] == local["teams"] == 6 and on_spark["events"] == local["events"]
    for name in OUTPUTS:
        a, b = read_output(tmp_path / "local", name), read_output(tmp_path / "spark", name)
        assert len(a) > 0
        pd.testing.assert_frame_equal(a, b)
    manifest = json.loads((tmp_path / "spark" / "_batch.json").read_text())
    assert manifest["engine"] == "spark" and [r["team"] for r in manifest["per_team"]] == [f"t{i}" for i in range(6)]
    assert all(r["peak_rss_mb"] > 0 for r in manifest["per_team"])
    # The tasks saved every team's model, with the team's own spec.
    assert TeamModel.load(tmp_path / "spark" / "models" / "team=t3").algorithm.name == "ease"
    assert TeamModel.load(tmp_path / "spark" / "models" / "team=t0").algorithm.name == "item-knn"


def test_spark_reads_any_source(spark, tmp_path):
    csv = tmp_path / "events.csv"
    rows = [(t, f"u{u}", f"c{(u * 5 + j) % 7}") for t in ("red", "blue") for u in range(10) for j in range(3)]
    pd.DataFrame(rows, columns=["team", "user", "item"]).assign(value=1.0).to_csv(csv, index=False)
    run_local(csv, tmp_path / "local", k=3, workers=1, fmt="csv", models=False)
    run_spark(csv, tmp_path / "spark", k=3, fmt="csv", models=False, partitions=2)
    for name in OUTPUTS:
        pd.testing.assert_frame_equal(read_output(tmp_path / "local", name), read_output(tmp_path / "spark", name))
