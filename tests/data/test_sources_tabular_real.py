"""The generic readers (CSV, JSON Lines, Parquet with a column mapping) on the real data sets:
they must read what the dedicated readers read, event for event."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from teamrec.cli import main
from teamrec.data.sources import read_source

LASTFM_COLUMNS = {"user": "userID", "item": "artistID", "value": "weight"}


@pytest.fixture(scope="module")
def lastfm(lastfm_dir):
    return read_source(lastfm_dir / "user_artists.dat", "lastfm").events


def same_events(a: pd.DataFrame, b: pd.DataFrame) -> None:
    cols = ["user", "item", "value"]
    left = a[cols].sort_values(cols, ignore_index=True)
    right = b[cols].sort_values(cols, ignore_index=True)
    assert left["user"].tolist() == right["user"].tolist() and left["item"].tolist() == right["item"].tolist()
    np.testing.assert_array_equal(left["value"].to_numpy(), right["value"].to_numpy())


def test_csv_reads_the_tab_separated_lastfm_file_like_its_own_reader(lastfm_dir, lastfm):
    """The separator comes from the header line: a .dat file of tabs reads as it is."""
    generic = read_source(lastfm_dir / "user_artists.dat", "csv", columns=LASTFM_COLUMNS).events
    assert len(generic) == len(lastfm) == 92834
    same_events(generic, lastfm)


def test_csv_from_the_command_line(capsys, lastfm_dir):
    argv = ["stats", str(lastfm_dir / "user_artists.dat"), "--format", "csv", "--json"]
    for field, column in LASTFM_COLUMNS.items():
        argv += ["--column", f"{field}={column}"]
    assert main(argv) == 0
    stats = json.loads(capsys.readouterr().out)
    assert (stats["users"], stats["items"], stats["events"]) == (1892, 17632, 92834)


def test_csv_reads_deskdrop_with_a_mapping(deskdrop_csv):
    generic = read_source(deskdrop_csv, "csv", columns={"user": "personId", "item": "contentId",
                                                        "kind": "eventType", "timestamp": "timestamp"}).events
    own = read_source(deskdrop_csv, "deskdrop").events
    assert len(generic) == 72312  # every row: the generic reader keeps exact duplicates
    assert generic["user"].nunique() == own["user"].nunique() == 1895
    assert generic["item"].nunique() == own["item"].nunique() == 2987
    assert set(generic["kind"]) == {"VIEW", "LIKE", "BOOKMARK", "FOLLOW", "COMMENT CREATED"}


@pytest.mark.parametrize("fmt", ["jsonl", "parquet"])
def test_jsonl_and_parquet_of_the_real_lastfm_data(tmp_path, lastfm_dir, lastfm, fmt):
    raw = pd.read_csv(lastfm_dir / "user_artists.dat", sep="\t")
    path = tmp_path / f"plays.{fmt}"
    if fmt == "jsonl":
        raw.to_json(path, orient="records", lines=True)
    else:
        raw.to_parquet(path)
    generic = read_source(path, fmt, columns=LASTFM_COLUMNS).events
    assert len(generic) == 92834
    same_events(generic, lastfm)
