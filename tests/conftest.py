"""Shared fixtures: where the real data sets are, and small generated teams."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

#: ``../shared/data`` beside the project root (override with TEAMREC_SHARED_DATA).
SHARED_DATA = Path(
    os.environ.get("TEAMREC_SHARED_DATA", Path(__file__).resolve().parents[1].parent / "shared" / "data")
)


def _shared(*parts: str) -> Path:
    path = SHARED_DATA.joinpath(*parts)
    if not path.exists():
        pytest.fail(f"real data set missing: {path} (the tests need ../shared/data beside the project)")
    return path


@pytest.fixture(scope="session")
def shared_data() -> Path:
    return _shared()


@pytest.fixture(scope="session")
def ml100k_dir() -> Path:
    return _shared("ml-100k")


@pytest.fixture(scope="session")
def deskdrop_csv() -> Path:
    return _shared("deskdrop", "users_interactions.csv")


@pytest.fixture(scope="session")
def lastfm_dir() -> Path:
    return _shared("lastfm-2k")


@pytest.fixture(scope="session")
def slack_export_dir() -> Path:
    return _shared("slack-export-sample")
