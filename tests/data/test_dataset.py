import json

import pandas as pd
import pytest

from teamrec.data.dataset import Dataset
from teamrec.data.events import make_events, normalize_events
from teamrec.errors import DataError, UnknownIdError


def small():
    ev = make_events(user=["a", "b", "a"], item=["x", "x", "y"], value=[1, 2, 3], team=["t", "t", "u"])
    return Dataset(events=ev, items=pd.DataFrame({"team": ["t"], "item": ["x"], "name": ["Ex"]}),
                   info={"format": "csv", "source": "mem"})


def test_save_load_roundtrip(tmp_path):
    ds = small()
    ds.save(tmp_path / "out")
    back = Dataset.load(tmp_path / "out")
    pd.testing.assert_frame_equal(back.events, ds.events)
    assert back.items["name"].tolist() == ["Ex"] and back.info["format"] == "csv"


def test_save_replaces_whole_and_failed_save_keeps_old(tmp_path, monkeypatch):
    ds = small()
    ds.save(tmp_path / "out")
    before = (tmp_path / "out" / "events.parquet").read_bytes()

    def boom(*a, **k):
        raise OSError("disk full")

    monkeypatch.setattr(pd.DataFrame, "to_parquet", boom)
    with pytest.raises(DataError, match="cannot write a teamrec dataset here \\(disk full\\)"):
        ds.save(tmp_path / "out")
    monkeypatch.undo()
    assert (tmp_path / "out" / "events.parquet").read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["out"]  # no half-written folder left


def test_save_refuses_foreign_folder(tmp_path):
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep me")
    with pytest.raises(DataError, match="refusing to overwrite"):
        small().save(tmp_path / "mine")
    assert (tmp_path / "mine" / "notes.txt").read_text() == "keep me"


def test_load_errors_name_the_file(tmp_path):
    with pytest.raises(DataError, match="no events.parquet"):
        Dataset.load(tmp_path)
    small().save(tmp_path / "d")
    (tmp_path / "d" / "dataset.json").write_text("{broken")
    with pytest.raises(DataError, match="dataset.json, line 1"):
        Dataset.load(tmp_path / "d")


def test_team_split_and_stats():
    ds = small()
    assert ds.teams() == ["t", "u"]
    t = ds.team("t")
    assert set(t.events["team"]) == {"t"} and t.stats()["events"] == 2
    st = ds.stats()
    assert st["per_team"]["t"]["users"] == 2 and st["per_team"]["u"]["items"] == 1
    with pytest.raises(UnknownIdError):
        ds.team("nope")
    json.dumps(st)


def test_normalize_events_errors_name_field_and_line():
    frame = pd.DataFrame({"team": ["t"] * 2, "user": ["a", None], "item": ["x", "y"], "kind": ["k"] * 2,
                          "value": [1, 2], "timestamp": [0, 0]})
    with pytest.raises(DataError, match="line 3, field 'user'"):
        normalize_events(frame, source="f.csv")
    frame["user"] = ["a", "b"]
    frame["value"] = ["1", "two"]
    with pytest.raises(DataError, match="f.csv, line 3, field 'value': not a number"):
        normalize_events(frame, source="f.csv")
    with pytest.raises(DataError, match="missing column"):
        normalize_events(frame.drop(columns=["kind"]), source="f.csv")
