"""The multi-team workload generator: deterministic, long-tailed, with communities, in schema."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow.dataset as ds
import pytest

from teamrec.cli import main
from teamrec.data.dataset import Dataset
from teamrec.data.events import EVENT_COLUMNS
from teamrec.data.generate import ACTIVITY_MATRIX, generate_workload, write_workload
from teamrec.data.matrix import build_matrix
from teamrec.errors import ConfigError


@pytest.fixture(scope="module")
def workload():
    return generate_workload(60, 300_000, seed=7)


@pytest.fixture(scope="module")
def events(workload):
    return workload.to_pandas()


def test_exact_counts_and_schema(workload, events):
    assert workload.events.num_rows == 300_000 == len(events)
    assert list(events.columns) == list(EVENT_COLUMNS)
    assert events["team"].nunique() == 60 and set(events["kind"]) == {"read", "write"}
    assert events.dtypes["value"] == np.float64 and events["timestamp"].notna().all()
    assert workload.teams["events"].sum() == 300_000
    assert (events.groupby("team").size().sort_index().to_numpy() == workload.teams["events"].to_numpy()).all()
    # Ordered by team, then time.
    key = events[["team", "timestamp"]]
    assert key.equals(key.sort_values(["team", "timestamp"], kind="stable").reset_index(drop=True))


def test_same_seed_same_frame_and_bytes(tmp_path, workload):
    again = generate_workload(60, 300_000, seed=7)
    assert again.events.equals(workload.events)
    a, b = write_workload(workload, tmp_path / "a"), write_workload(again, tmp_path / "b")
    files = sorted(p.relative_to(a) for p in a.rglob("*") if p.is_file())
    assert len(files) == 61  # one file per team, plus _workload.json
    assert files == sorted(p.relative_to(b) for p in b.rglob("*") if p.is_file())
    for rel in files:
        assert (a / rel).read_bytes() == (b / rel).read_bytes(), rel
    other = generate_workload(60, 300_000, seed=8)
    assert not other.events.equals(workload.events)


def _top_share(counts: np.ndarray, share: float) -> float:
    counts = np.sort(counts)[::-1]
    return counts[: max(1, int(round(share * len(counts))))].sum() / counts.sum()


def test_long_tails(workload, events):
    sizes = workload.teams["events"].to_numpy()
    assert sizes.max() > 4 * np.median(sizes)  # a few big teams, many small ones
    # Within teams, the top 10% of channels and of people carry far more than 10% of events.
    channel_shares = [_top_share(g.to_numpy(), 0.1) for _, g in events.groupby(["team", "item"]).size().groupby("team")]
    people_shares = [_top_share(g.to_numpy(), 0.1) for _, g in events.groupby(["team", "user"]).size().groupby("team")]
    assert np.median(channel_shares) > 0.3
    assert np.median(people_shares) > 0.25
    assert 0.08 < (events["kind"] == "write").mean() < 0.12


def test_people_keep_to_their_communities(workload, events):
    """Of a person's events in community channels, most fall in one community: far more than if
    channels were picked regardless of communities."""
    joined = events.merge(workload.channels, on=["team", "item"])
    assert len(joined) == len(events)
    inside = joined[joined["community"] >= 0]
    per_person = inside.groupby(["team", "user", "community"]).size()
    top = per_person.groupby(["team", "user"]).max() / per_person.groupby(["team", "user"]).sum()
    busy = inside.groupby(["team", "user"]).size() >= 20
    observed = top[busy].mean()
    # Null model: the same events with channels shuffled within each team.
    rng = np.random.default_rng(0)
    shuffled = inside.copy()
    shuffled["community"] = shuffled.groupby("team")["community"].transform(lambda c: rng.permutation(c.to_numpy()))
    per_null = shuffled.groupby(["team", "user", "community"]).size()
    null = (per_null.groupby(["team", "user"]).max() / per_null.groupby(["team", "user"]).sum())[busy].mean()
    assert observed > 0.55 and observed > null + 0.25


def test_logs_become_activity_scores(events):
    team = events[events["team"] == events["team"].iloc[0]]
    matrix = build_matrix(Dataset(events=team), team=team["team"].iloc[0], config=ACTIVITY_MATRIX)
    pair = team.groupby(["user", "item"])["kind"].agg(lambda k: (k == "read").sum() + 5 * (k == "write").sum())
    user, item = pair.index[0]
    value = matrix.matrix[matrix.users.lookup([user])[0], matrix.items.lookup([item])[0]]
    assert value == pytest.approx(np.log1p(pair.iloc[0]))


def test_written_dataset_reads_back_per_team(tmp_path, workload, events):
    folder = write_workload(workload, tmp_path / "w")
    table = ds.dataset(folder, format="parquet", partitioning="hive").to_table()
    back = table.to_pandas()
    for col in ("team", "user", "item", "kind"):
        back[col] = back[col].astype(str)
    back = back[list(EVENT_COLUMNS)].sort_values(["team", "timestamp", "user", "item"], kind="stable")
    want = events.sort_values(["team", "timestamp", "user", "item"], kind="stable")
    pd.testing.assert_frame_equal(back.reset_index(drop=True), want.reset_index(drop=True), check_dtype=False)


def test_too_few_events_is_a_config_error():
    with pytest.raises(ConfigError):
        generate_workload(0, 10)


def test_cli_generate(tmp_path, capsys):
    assert main(["generate", "--teams", "5", "--events", "5000", "--seed", "1", "--out", str(tmp_path / "g")]) == 0
    assert "wrote 5000 events of 5 teams" in capsys.readouterr().out
    assert len(list((tmp_path / "g").glob("team=*/part-0.parquet"))) == 5
