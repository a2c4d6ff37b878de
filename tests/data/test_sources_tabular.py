"""Generic CSV / JSON Lines / Parquet readers: column mapping, errors that point, skipping."""

from __future__ import annotations

import json
import math
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from teamrec.data.sources import _common, read_source
from teamrec.data.sources.tabular import read_csv, read_jsonl, read_parquet
from teamrec.errors import ConfigError, DataError

MAPPING = {
    "user": "personId",
    "item": "contentId",
    "value": "rating",
    "timestamp": "ts",
    "kind": "eventType",
    "team": "teamId",
}
HEADER = "personId,contentId,rating,ts,eventType,teamId\n"


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


# -- CSV ---------------------------------------------------------------------------------------
def test_csv_with_a_full_column_mapping(tmp_path):
    path = write(tmp_path, "ev.csv", HEADER
                 + "u1,i1,4.5,1600000000,VIEW,acme\n"
                 + "u2,i2,1,2020-01-01T00:00:00Z,LIKE,acme\n"
                 + "u1,i2,2,2020-01-01T02:00:00+02:00,VIEW,globex\n")
    events = read_csv(path, columns=MAPPING).events
    assert events["user"].tolist() == ["u1", "u2", "u1"]
    assert events["item"].tolist() == ["i1", "i2", "i2"]
    assert events["value"].tolist() == [4.5, 1.0, 2.0]
    assert events["kind"].tolist() == ["VIEW", "LIKE", "VIEW"]
    assert events["team"].tolist() == ["acme", "acme", "globex"]
    assert events["timestamp"].tolist() == [1600000000.0, 1577836800.0, 1577836800.0]


def test_csv_defaults_when_only_user_and_item_are_there(tmp_path):
    path = write(tmp_path, "ev.csv", "user,item\nNA,null\n7,8\n")
    data = read_csv(path)
    events = data.events
    # Only an empty cell is missing: "NA" and "null" are ids like any other.
    assert events["user"].tolist() == ["NA", "7"] and events["item"].tolist() == ["null", "8"]
    assert events["value"].tolist() == [1.0, 1.0]
    assert set(events["kind"]) == {"event"} and set(events["team"]) == {"default"}
    assert events["timestamp"].isna().all()
    assert data.info["format"] == "csv" and data.info["rows_read"] == 2


def test_csv_same_named_columns_are_used_without_a_mapping(tmp_path):
    path = write(tmp_path, "ev.csv", "item,user,value,kind\na,b,3,click\n")
    events = read_csv(path, team="acme", kind="x").events
    assert events.iloc[0][["user", "item", "value", "kind", "team"]].tolist() == [
        "b", "a", 3.0, "click", "acme"]


def test_csv_tab_separated_and_kind_values(tmp_path):
    path = write(tmp_path, "ev.tsv", "who\twhat\tevent\nu\ti\tVIEW\nu\tj\tLIKE\n")
    events = read_csv(path, sep="\t", columns={"user": "who", "item": "what", "kind": "event"},
                      kind_values={"VIEW": 1, "LIKE": 2.5}).events
    assert events["value"].tolist() == [1.0, 2.5]


def test_csv_unknown_kind_with_kind_values_names_line_and_field(tmp_path):
    path = write(tmp_path, "ev.csv", "user,item,kind\nu,i,VIEW\nu,i,DISLIKE\n")
    with pytest.raises(DataError) as exc:
        read_csv(path, kind_values={"VIEW": 1})
    assert str(exc.value).startswith(f"{path}, line 3, field 'kind': unknown event type 'DISLIKE'")


def test_csv_missing_column_names_file_header_line_and_field(tmp_path):
    path = write(tmp_path, "ev.csv", "personId,rating\n1,2\n")
    with pytest.raises(DataError) as exc:
        read_csv(path, columns=MAPPING)
    assert str(exc.value).startswith(f"{path}, line 1, field 'contentId': missing column")
    assert "personId" in str(exc.value)  # the columns it did find


def test_csv_unparseable_number(tmp_path):
    path = write(tmp_path, "ev.csv", HEADER + "u,i,3,1,VIEW,t\nu,i,three,1,VIEW,t\n")
    with pytest.raises(DataError) as exc:
        read_csv(path, columns=MAPPING)
    assert str(exc.value) == f"{path}, line 3, field 'rating': not a finite number: 'three'"


def test_csv_unparseable_timestamp(tmp_path):
    path = write(tmp_path, "ev.csv",
                 HEADER + "u,i,3,1,VIEW,t\nu,i,3,1,VIEW,t\nu,i,3,yesterday,V,t\n")
    with pytest.raises(DataError) as exc:
        read_csv(path, columns=MAPPING)
    assert str(exc.value).startswith(f"{path}, line 4, field 'ts': not a timestamp")
    assert "'yesterday'" in str(exc.value)


def test_csv_first_bad_row_and_leftmost_field_are_reported(tmp_path):
    path = write(tmp_path, "ev.csv", "user,item,value,timestamp\nu,i,1,1\nu,,x,bad\nu,i,x,1\n")
    with pytest.raises(DataError) as exc:
        read_csv(path)
    assert str(exc.value) == f"{path}, line 3, field 'item': empty value"


def test_csv_empty_and_header_only_files(tmp_path):
    empty = write(tmp_path, "empty.csv", "")
    with pytest.raises(DataError) as exc:
        read_csv(empty)
    assert str(exc.value) == f"{empty}: empty file"
    header_only = write(tmp_path, "header.csv", "user,item\n")
    with pytest.raises(DataError) as exc:
        read_csv(header_only)
    assert str(exc.value).startswith(f"{header_only}, line 2: empty file")


def test_csv_wrong_field_count_names_the_line(tmp_path):
    path = write(tmp_path, "ev.csv", "user,item\na,b\nc,d,e\n")
    with pytest.raises(DataError) as exc:
        read_csv(path)
    assert str(exc.value).startswith(f"{path}, line 3:") and "saw 3" in str(exc.value)
    data = read_csv(path, skip_bad_rows=True)
    assert len(data.events) == 1 and data.info["rows_skipped"] == 1


def test_csv_long_first_row_is_not_taken_as_an_index(tmp_path):
    # pandas would quietly use the first field as the row index; here it is a bad line.
    path = write(tmp_path, "ev.csv", "user,item\nu,i,x\nv,j\n")
    with pytest.raises(DataError) as exc:
        read_csv(path)
    assert str(exc.value) == f"{path}, line 2: more fields than the header has"
    data = read_csv(path, skip_bad_rows=True)
    assert data.events["user"].tolist() == ["v"] and data.info["rows_skipped"] == 1


def test_csv_line_numbers_count_quoted_line_breaks_and_blank_lines(tmp_path):
    path = write(tmp_path, "ev.csv",
                 'user,item,note\nu,i,"two\nlines"\n\nu,i,x\n\nu,,y\n')
    with pytest.raises(DataError) as exc:
        read_csv(path)
    assert str(exc.value) == f"{path}, line 7, field 'item': empty value"


def test_csv_skip_bad_rows_skips_and_counts(tmp_path):
    path = write(tmp_path, "ev.csv", HEADER
                 + "u,i,3,1,VIEW,t\n"
                 + "u,i,three,1,VIEW,t\n"
                 + ",i,3,1,VIEW,t\n"
                 + "u,i,3,never,VIEW,t\n"
                 + "v,j,5,2,LIKE,t\n")
    data = read_csv(path, columns=MAPPING, skip_bad_rows=True)
    assert data.events["user"].tolist() == ["u", "v"]
    assert data.info["rows_skipped"] == 3 and data.info["rows_read"] == 2
    assert data.stats()["rows_skipped"] == 3


def test_csv_chunks_report_progress_and_global_line_numbers(tmp_path, monkeypatch):
    monkeypatch.setattr(_common, "CHUNK_ROWS", 10)
    rows = [f"u{i},i{i % 7},{i}" for i in range(45)]
    rows[33] = "u33,i5,oops"  # file line 35: header + 34th data row
    path = write(tmp_path, "ev.csv", "user,item,value\n" + "\n".join(rows) + "\n")
    calls = []
    with pytest.raises(DataError) as exc:
        read_csv(path, progress=lambda done, total: calls.append((done, total)))
    assert str(exc.value).startswith(f"{path}, line 35, field 'value'")
    calls.clear()
    data = read_csv(path, skip_bad_rows=True, progress=lambda d, t: calls.append((d, t)))
    assert len(data.events) == 44 and data.info["rows_skipped"] == 1
    size = path.stat().st_size
    assert len(calls) >= 5 and calls[-1] == (size, size)
    assert [d for d, _ in calls] == sorted(d for d, _ in calls)


def test_csv_drop_duplicates_counts_whole_line_repeats(tmp_path):
    path = write(tmp_path, "ev.csv", "user,item,session\nu,i,1\nu,i,1\nu,i,2\n")
    data = read_csv(path, drop_duplicates=True)
    assert len(data.events) == 2 and data.info["duplicates_dropped"] == 1
    assert data.info["rows_read"] == 3 and data.stats()["events"] == 3


def test_csv_option_mistakes_are_config_errors(tmp_path):
    path = write(tmp_path, "ev.csv", "user,item,value,kind\nu,i,1,VIEW\n")
    with pytest.raises(ConfigError, match="colums"):
        read_csv(path, colums={"user": "u"})
    with pytest.raises(ConfigError, match="usr"):
        read_csv(path, columns={"usr": "user"})
    with pytest.raises(ConfigError, match="not both"):
        read_csv(path, columns={"value": "value"}, kind_values={"VIEW": 1})
    with pytest.raises(ConfigError, match="sep"):
        read_csv(path, sep="::")
    with pytest.raises(ConfigError, match="encoding"):
        read_csv(path, encoding="klingon")


def test_csv_through_the_registry(tmp_path):
    path = write(tmp_path, "ev.csv", HEADER + "u,i,3,1,VIEW,t\n")
    data = read_source(path, "csv", columns=MAPPING)
    assert data.events.iloc[0]["value"] == 3.0 and data.info["source"] == str(path)


ALPHABET = st.sampled_from(list('ui,1.5"\n\r\t -:TZaé\x00;'))
HEADERS = st.sampled_from(["", "user,item\n", "user,item,value,timestamp\n", "user,item,kind\n"])


@settings(max_examples=300, deadline=None)
@given(header=HEADERS, body=st.text(ALPHABET, max_size=60), raw=st.binary(max_size=12))
def test_csv_any_text_parses_or_raises_data_error(header, body, raw):
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "fuzz.csv"
        path.write_bytes(header.encode() + body.encode() + raw)
        for skip in (False, True):
            try:
                data = read_csv(path, skip_bad_rows=skip)
            except DataError as exc:
                assert str(path) in str(exc)
            else:
                assert list(data.events.columns) == ["team", "user", "item", "kind", "value",
                                                     "timestamp"]
                assert np.isfinite(data.events["value"]).all()


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=2) | st.dictionaries(st.text(max_size=3), inner,
                                                                max_size=2),
    max_leaves=4,
)
RECORDS = st.dictionaries(st.sampled_from(["user", "item", "value", "timestamp", "kind"]),
                          JSON_VALUES)


@settings(max_examples=200, deadline=None)
@given(records=st.lists(RECORDS | JSON_VALUES, max_size=4), junk=st.text(max_size=10))
def test_jsonl_any_lines_parse_or_raise_data_error(records, junk):
    text = "\n".join(json.dumps(r) for r in records) + "\n" + junk
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "fuzz.jsonl"
        path.write_text(text, encoding="utf-8")
        for skip in (False, True):
            try:
                data = read_jsonl(path, skip_bad_rows=skip)
            except DataError as exc:
                assert str(path) in str(exc)
            else:
                assert np.isfinite(data.events["value"]).all()


# -- JSON Lines --------------------------------------------------------------------------------
def test_jsonl_with_a_mapping_blank_lines_and_exact_big_ids(tmp_path):
    lines = [
        {"personId": 123456789012345678901, "contentId": "a", "rating": 2, "ts": 1.5},
        {"personId": -8845298781299428018, "contentId": 7, "rating": "3", "ts": "2020-01-01"},
    ]
    path = write(tmp_path, "ev.jsonl", "\n" + json.dumps(lines[0]) + "\n\n" + json.dumps(lines[1]))
    events = read_jsonl(path, columns={"user": "personId", "item": "contentId",
                                       "value": "rating", "timestamp": "ts"}).events
    assert events["user"].tolist() == ["123456789012345678901", "-8845298781299428018"]
    assert events["item"].tolist() == ["a", "7"]
    assert events["value"].tolist() == [2.0, 3.0]
    assert events["timestamp"].tolist() == [1.5, 1577836800.0]


def test_jsonl_blocks_keep_line_numbers_and_report_progress(tmp_path, monkeypatch):
    monkeypatch.setattr(_common, "BLOCK_BYTES", 64)
    lines = [json.dumps({"user": f"u{i}", "item": "i", "value": i}) for i in range(30)]
    lines[26] = json.dumps({"user": "u26", "item": "i", "value": "lots"})
    path = write(tmp_path, "ev.jsonl", "\n".join(lines) + "\n")
    with pytest.raises(DataError) as exc:
        read_jsonl(path)
    assert str(exc.value) == f"{path}, line 27, field 'value': not a finite number: 'lots'"
    calls = []
    data = read_jsonl(path, skip_bad_rows=True, progress=lambda d, t: calls.append((d, t)))
    assert len(data.events) == 29 and len(calls) > 5 and calls[-1] == (path.stat().st_size,) * 2


def test_jsonl_errors_name_the_line_of_the_file(tmp_path):
    good = json.dumps({"user": "u", "item": "i"})
    broken = write(tmp_path, "broken.jsonl", f"{good}\n\n{good}\n{{\"user\": \n{good}\n")
    with pytest.raises(DataError) as exc:
        read_jsonl(broken)
    assert str(exc.value).startswith(f"{broken}, line 4: broken JSON")
    data = read_jsonl(broken, skip_bad_rows=True)
    assert len(data.events) == 3 and data.info["rows_skipped"] == 1

    not_object = write(tmp_path, "list.jsonl", f"{good}\n[1, 2]\n")
    with pytest.raises(DataError, match=r"line 2: not a JSON object"):
        read_jsonl(not_object)

    no_item = write(tmp_path, "noitem.jsonl", f"{good}\n" + json.dumps({"user": "u"}) + "\n")
    with pytest.raises(DataError) as exc:
        read_jsonl(no_item)
    assert str(exc.value) == f"{no_item}, line 2, field 'item': missing or null"

    bad_value = write(tmp_path, "value.jsonl", json.dumps({"u": 1, "i": 2, "v": "x"}) + "\n")
    with pytest.raises(DataError) as exc:
        read_jsonl(bad_value, columns={"user": "u", "item": "i", "value": "v"})
    assert str(exc.value) == f"{bad_value}, line 1, field 'v': not a finite number: 'x'"

    empty = write(tmp_path, "empty.jsonl", "\n\n")
    with pytest.raises(DataError, match="empty file"):
        read_jsonl(empty)


# -- Parquet -----------------------------------------------------------------------------------
def test_parquet_with_a_mapping(tmp_path):
    path = tmp_path / "ev.parquet"
    pd.DataFrame({
        "personId": pd.array([1, 2, 3], dtype="Int64"),
        "contentId": ["a", "b", "c"],
        "rating": [1.0, 2.0, 3.5],
        "ts": pd.to_datetime(["2020-01-01", "2020-01-02", "2020-01-03"]),
        "eventType": ["VIEW", "LIKE", "VIEW"],
    }).to_parquet(path)
    data = read_parquet(path, columns={k: v for k, v in MAPPING.items() if k != "team"})
    events = data.events
    assert events["user"].tolist() == ["1", "2", "3"]
    assert events["value"].tolist() == [1.0, 2.0, 3.5]
    assert events["timestamp"].tolist() == [1577836800.0, 1577923200.0, 1578009600.0]
    assert data.info["format"] == "parquet"


def test_parquet_batches_keep_row_numbers_and_report_progress(tmp_path, monkeypatch):
    monkeypatch.setattr(_common, "CHUNK_ROWS", 4)
    path = tmp_path / "ev.parquet"
    values = [float(i) for i in range(10)]
    values[9] = math.nan
    pd.DataFrame({"user": list("abcdefghij"), "item": "x", "value": values}).to_parquet(path)
    with pytest.raises(DataError) as exc:
        read_parquet(path)
    assert str(exc.value) == f"{path}, line 10, field 'value': empty value"
    calls = []
    data = read_parquet(path, skip_bad_rows=True, progress=lambda d, t: calls.append((d, t)))
    assert len(data.events) == 9 and len(calls) >= 3 and calls[-1] == (path.stat().st_size,) * 2


def test_parquet_bad_rows_missing_columns_and_broken_files(tmp_path):
    path = tmp_path / "ev.parquet"
    pd.DataFrame({"user": pd.array([1, None, 3], dtype="Int64"), "item": ["a", "b", "c"],
                  "value": [1.0, 2.0, math.inf]}).to_parquet(path)
    with pytest.raises(DataError) as exc:
        read_parquet(path)
    assert str(exc.value) == f"{path}, line 2, field 'user': empty value"
    data = read_parquet(path, skip_bad_rows=True)
    assert data.events["user"].tolist() == ["1"] and data.info["rows_skipped"] == 2
    with pytest.raises(DataError) as exc:
        read_parquet(path, columns={"item": "contentId"})
    assert str(exc.value).startswith(f"{path}, field 'contentId': missing column")
    broken = write(tmp_path, "broken.parquet", "PAR1 this is not parquet")
    with pytest.raises(DataError, match="not a readable Parquet file"):
        read_parquet(broken)
    empty = write(tmp_path, "empty.parquet", "")
    with pytest.raises(DataError, match="empty file"):
        read_parquet(empty)


@pytest.mark.parametrize("sep", [",", "\t", ";", "|"])
def test_csv_separator_comes_from_the_header(tmp_path, sep):
    path = tmp_path / "events.txt"
    path.write_text(sep.join(["user", "item", "value"]) + "\n" + sep.join(["u1", "i1", "2.5"]) + "\n")
    events = read_csv(path).events
    assert events[["user", "item", "value"]].values.tolist() == [["u1", "i1", 2.5]]


@pytest.mark.parametrize(("row", "field", "reason"), [
    ("u,i,1,1e30", "ts", "not a time between 1970 and 2100"),
    ("u,i,1,1700000000000", "ts", "not a time between 1970 and 2100"),  # milliseconds
    ("u,i,1e200,1", "v", r"its size must be at most 1e\+09"),
])
def test_csv_values_and_times_out_of_bounds_name_line_and_field(tmp_path, row, field, reason):
    # Issue 11: a row at timestamp 1e30 (or a value of 1e200) was accepted and wrecked decay.
    path = write(tmp_path, "ev.csv", f"user,item,v,ts\nu,j,1,1\n{row}\n")
    with pytest.raises(DataError, match=rf"ev\.csv, line 3, field '{field}': .*{reason}"):
        read_csv(path, columns={"value": "v", "timestamp": "ts"})
    kept = read_csv(path, columns={"value": "v", "timestamp": "ts"}, skip_bad_rows=True)
    assert kept.info["rows_skipped"] == 1 and len(kept.events) == 1
