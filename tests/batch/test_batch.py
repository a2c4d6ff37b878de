"""The batch job: the spec, the per-team function, the local engine and the output layout."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from teamrec.batch import BatchSpec, load_spec, read_output, run_team
from teamrec.batch.job import OUTPUTS, bounded, read_partition, team_partitions
from teamrec.batch.local import run_local
from teamrec.cli import main
from teamrec.data.events import make_events
from teamrec.data.generate import ACTIVITY_MATRIX
from teamrec.errors import ConfigError
from teamrec.pipeline import fit_team
from teamrec.recommender import TeamModel
from teamrec.spec import TeamSpec

SPEC = """
[default]
algorithm = "item-knn"
params = { neighbors = 20 }
matrix = { kinds = ["read", "write"], kind_weights = { read = 1.0, write = 5.0 }, agg = "sum", log1p = true }

[teams.t1]
algorithm = "popularity"

[teams.t2]
params = { neighbors = 5 }
"""


@pytest.fixture
def spec(tmp_path):
    path = tmp_path / "spec.toml"
    path.write_text(SPEC)
    return load_spec(path)


def test_spec_defaults_and_overrides(spec, tmp_path):
    assert spec.for_team("t0") == spec.default and spec.default.matrix_config() == ACTIVITY_MATRIX
    assert spec.for_team("t1").algorithm == "popularity" and spec.for_team("t1").params == {}
    assert spec.for_team("t1").matrix_config() == ACTIVITY_MATRIX  # what is not overridden is inherited
    assert spec.for_team("t2").algorithm == "item-knn" and spec.for_team("t2").params == {"neighbors": 5}
    as_json = tmp_path / "spec.json"
    as_json.write_text(json.dumps(spec.model_dump(mode="json")))
    assert load_spec(as_json) == spec
    assert load_spec(None) == BatchSpec()


@pytest.mark.parametrize(
    "text, message",
    [
        ("[default]\nalgoritm = 'ease'\n", "algoritm"),
        ("[teams.t1]\nmatrix = { agg = 'median' }\n", "t1"),
        ("[default\n", "not valid TOML"),
        ("[teams.t9]\nalgorithm = 'ease'\nparams = { l2 = 1.0 }\n", r"\[teams.t9\].*l2"),
        ("[default]\nalgorithm = 'nope'\n", "nope"),
    ],
)
def test_a_bad_spec_is_one_config_error(tmp_path, text, message):
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message):
        load_spec(path)


def test_thread_parameters_are_bounded():
    assert bounded(TeamSpec(algorithm="item-knn"), 1).params == {"threads": 1}
    assert bounded(TeamSpec(algorithm="als"), 1).params == {"num_threads": 1}
    assert bounded(TeamSpec(algorithm="als", params={"num_threads": 3}), 1).params == {"num_threads": 3}
    assert bounded(TeamSpec(algorithm="popularity"), 1).params == {}


def test_run_team_outputs(workload_dir, spec):
    events = read_partition("t0", team_partitions(workload_dir)["t0"])
    out = run_team(events, spec.for_team("t0"), k=7)
    assert set(out.tables()) == set(OUTPUTS)
    for name, frame in out.tables().items():
        assert list(frame.columns) == list(OUTPUTS[name]) and (frame["team"] == "t0").all()
        assert frame.groupby(list(OUTPUTS[name])[1])["rank"].max().max() <= 7
    # The recommendations are the team builder's own: the same as fitting and asking directly.
    direct = fit_team(events, spec.for_team("t0")).recommend_many(k=7)
    pd.testing.assert_frame_equal(out.recommendations, direct, check_dtype=False)
    # Never similar to oneself; ranks 1..n without gaps, scores non-increasing.
    for frame, key in ((out.similar_items, "item"), (out.similar_users, "user")):
        assert (frame[key] != frame["similar"]).all()
        assert (frame.groupby(key)["rank"].apply(lambda r: list(r) == list(range(1, len(r) + 1)))).all()
        assert (frame.groupby(key)["score"].apply(lambda s: bool(np.all(np.diff(s.to_numpy()) <= 1e-12)))).all()
    # Only this team's people and channels.
    assert set(out.recommendations["user"]) <= set(events["user"])
    assert set(out.similar_items["similar"]) <= set(events["item"])


def test_private_items_stay_with_their_members():
    users = [f"u{i}" for i in range(8)]
    rows = [(u, c) for u in users for c in ("general", "random")] + [(u, "secret") for u in users[:3]]
    rows += [(u, "ml") for u in users[:6]]
    events = make_events(user=[r[0] for r in rows], item=[r[1] for r in rows], value=1.0, kind="member", team="acme")
    items = pd.DataFrame({"team": "acme", "item": ["general", "random", "secret", "ml"],
                          "name": ["general", "random", "secret", "ml"], "private": [False, False, True, False]})
    out = run_team(events, TeamSpec(), k=5, items=items)
    assert "secret" not in set(out.similar_items["item"]) | set(out.similar_items["similar"])
    non_members = out.recommendations[~out.recommendations["user"].isin(users[:3])]
    assert "secret" not in set(non_members["item"])


def test_archived_items_are_never_recommended_nor_similar():
    users = [f"u{i}" for i in range(8)]
    rows = [(u, c) for u in users for c in ("general", "random")] + [(u, "old") for u in users[:5]]
    rows += [(u, "ml") for u in users[:6]]
    events = make_events(user=[r[0] for r in rows], item=[r[1] for r in rows], value=1.0, kind="member", team="acme")
    items = pd.DataFrame({"team": "acme", "item": ["old"], "name": ["old"], "archived": [True]})
    before = run_team(events, TeamSpec(), k=5)
    assert "old" in set(before.recommendations["item"]) and "old" in set(before.similar_items["similar"])
    out = run_team(events, TeamSpec(), k=5, items=items)
    assert "old" not in set(out.recommendations["item"]) | set(out.similar_items["similar"])
    assert "old" in set(out.similar_items["item"])  # an archived item may still be asked about


def test_local_engine_writes_the_layout_and_is_the_same_with_more_workers(workload_dir, spec, tmp_path):
    one = run_local(workload_dir, tmp_path / "one", spec, k=5, workers=1)
    two = run_local(workload_dir, tmp_path / "two", spec, k=5, workers=2)
    assert one["teams"] == two["teams"] == 6 and one["events"] == 30_000
    for name in OUTPUTS:
        a, b = read_output(tmp_path / "one", name), read_output(tmp_path / "two", name)
        assert len(a) > 0 and sorted(a["team"].unique()) == [f"t{i}" for i in range(6)]
        pd.testing.assert_frame_equal(a, b)
    manifest = json.loads((tmp_path / "one" / "_batch.json").read_text())
    assert manifest["engine"] == "local" and len(manifest["per_team"]) == 6
    assert all(r["peak_rss_mb"] > 0 and r["fit_seconds"] > 0 for r in manifest["per_team"])
    # Each team's model is saved, loads, and answers as the batch did.
    model = TeamModel.load(tmp_path / "one" / "models" / "team=t0")
    pd.testing.assert_frame_equal(
        model.recommend_many(k=5).astype({"rank": np.int32}).sort_values(["user", "rank"]).reset_index(drop=True),
        read_output(tmp_path / "one", "recommendations", teams=["t0"]),
        check_dtype=False,
    )
    assert TeamModel.load(tmp_path / "one" / "models" / "team=t1").algorithm.name == "popularity"


def test_any_source_with_teams(tmp_path):
    csv = tmp_path / "events.csv"
    rows = [(t, f"u{u}", f"c{(u * 7 + j) % 9}") for t in ("red", "blue") for u in range(12) for j in range(4)]
    pd.DataFrame(rows, columns=["team", "user", "item"]).assign(value=1.0).to_csv(csv, index=False)
    manifest = run_local(csv, tmp_path / "out", k=3, workers=1, fmt="csv", models=False)
    assert manifest["teams"] == 2 and not (tmp_path / "out" / "models").exists()
    assert sorted(read_output(tmp_path / "out", "recommendations")["team"].unique()) == ["blue", "red"]


def test_cli_batch(workload_dir, tmp_path, capsys):
    status = main(["batch", str(workload_dir), "--out", str(tmp_path / "b"), "--algorithm", "popularity",
                   "--k", "3", "--workers", "1", "--json"])
    assert status == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["teams"] == 6 and summary["engine"] == "local"
    assert read_output(tmp_path / "b", "recommendations")["rank"].max() == 3


def test_cli_batch_bad_spec(tmp_path, capsys):
    (tmp_path / "s.toml").write_text("[default]\nalgorithm = 'nope'\n")
    assert main(["batch", str(tmp_path), "--out", str(tmp_path / "o"), "--spec", str(tmp_path / "s.toml")]) == 2
