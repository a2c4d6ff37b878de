"""A small generated multi-team workload shared by the batch tests."""

from __future__ import annotations

import pytest

from teamrec.data.generate import generate_workload, write_workload


@pytest.fixture(scope="session")
def workload_dir(tmp_path_factory):
    """Six teams, 30,000 read/write events, written as a Parquet dataset partitioned by team."""
    return write_workload(generate_workload(6, 30_000, seed=11), tmp_path_factory.mktemp("workload"))
