"""Every bad input of issue 11 is one line on stderr and exit status 2, and nothing is
half-written: each case ran into a traceback (exit 1) or was silently misread before."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from teamrec.cli import main


def _text(name: str, text: str):
    def make(folder: Path) -> Path:
        (folder / name).write_text(text, encoding="utf-8")
        return folder / name
    return make


def _parquet(name: str, table: pa.Table):
    def make(folder: Path) -> Path:
        pq.write_table(table, folder / name)
        return folder / name
    return make


def _folder(folder: Path) -> Path:
    (folder / "events.csv").mkdir()
    return folder / "events.csv"


def _slack_types(folder: Path) -> Path:
    root = folder / "export"
    (root / "general").mkdir(parents=True)
    (root / "users.json").write_text(json.dumps([
        {"id": "U1", "team_id": "T", "name": "ann", "tz": "Europe/Paris"},
        {"id": "U2", "team_id": "T", "name": {"first": "bo"}, "tz": 3600},
    ]))
    (root / "channels.json").write_text(json.dumps([
        {"id": "C1", "name": "general", "members": ["U1", "U2"], "creator": "U1"},
        {"id": "C2", "name": "random", "members": ["U1"], "creator": {"id": "U1"}},
    ]))
    return root


def _deep(folder: Path) -> Path:
    path = folder / "deep.jsonl"
    path.write_text('{"user": "u", "item": "i"}\n{"user": "u", "item": ' + "[" * 100_000 + "]" * 100_000 + "}\n")
    return path


#: (what, how to make the input, format, the one line expected on stderr)
CASES = [
    ("a folder given as a file", _folder, "csv", r"events\.csv: a folder, not a csv file"),
    ("JSON nested 100,000 deep", _deep, "jsonl", r"deep\.jsonl, line 2: JSON nested too deeply"),
    (
        "a lone surrogate in JSONL",
        _text("s.jsonl", '{"user": "u\\ud800", "item": "i"}\n'),
        "jsonl",
        r"s\.jsonl, line 1: a string holds a lone surrogate",
    ),
    (
        "binary Parquet ids",
        _parquet("b.parquet", pa.table({"user": pa.array([b"ok", b"\xff\xfe"]), "item": ["i", "j"]})),
        "parquet",
        r"b\.parquet, line 2, field 'user': bytes that are not UTF-8 text",
    ),
    (
        "out-of-range Parquet times",
        _parquet(
            "t.parquet", pa.table({"user": ["a"], "item": ["i"], "timestamp": pa.array([2**62], pa.timestamp("us"))})
        ),
        "parquet",
        r"t\.parquet, line 1, field 'timestamp': .*not a time between 1970 and 2100",
    ),
    (
        "Parquet list ids",
        _parquet("l.parquet", pa.table({"user": pa.array([[1, 2]]), "item": ["i"]})),
        "parquet",
        r"l\.parquet, field 'user': a column of list<.*>, not of ids",
    ),
    (
        "a value of 1e200",
        _text("v.csv", "user,item,value\nu,i,1\nv,i,1e200\n"),
        "csv",
        r"v\.csv, line 3, field 'value': '1e200': its size must be at most 1e\+09",
    ),
    (
        "true/false in an all-boolean column",
        _text("b.jsonl", '{"user": "u", "item": "i", "value": true}\n'),
        "jsonl",
        r"b\.jsonl, line 1, field 'value': not a finite number: True",
    ),
    (
        "a duplicated CSV header",
        _text("d.csv", "user,item,user\nu,i,v\n"),
        "csv",
        r"d\.csv, line 1, field 'user': this column name appears twice in the header",
    ),
    (
        "an unterminated quote",
        _text("q.csv", 'user,item\nu,i\n\nv,"j\nw,k\n'),
        "csv",
        r"q\.csv, line 4: unterminated quote",
    ),
    (
        "ids containing '/'",
        _text("slash.csv", "user,item\nu,i\nv,a/b\n"),
        "csv",
        r"slash\.csv, line 3, field 'item': 'a/b': ids may not contain '/'",
    ),
]


@pytest.mark.parametrize(("what", "make", "fmt", "message"), CASES, ids=[c[0] for c in CASES])
def test_bad_input_is_one_line_and_exit_2_and_nothing_is_written(tmp_path, capsys, what, make, fmt, message):
    source = make(tmp_path)
    out = tmp_path / "ingested"
    assert main(["ingest", str(source), "--format", fmt, "--out", str(out)]) == 2, what
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("teamrec: error: "), err
    assert __import__("re").search(message, err), err
    assert not out.exists() and not [p for p in tmp_path.iterdir() if p.name.startswith(".ingested")]


def test_slack_fields_that_change_type_still_ingest(tmp_path, capsys):
    # Only the commands that write Parquet failed (a tz that is a number, a creator object).
    out = tmp_path / "ingested"
    assert main(["ingest", str(_slack_types(tmp_path)), "--format", "slack-export", "--out", str(out)]) == 0
    assert (out / "users.parquet").exists()


def test_an_unwritable_output_is_one_line(tmp_path, capsys):
    source = _text("ok.csv", "user,item\nu,i\n")(tmp_path)
    blocker = tmp_path / "file"
    blocker.write_text("x")
    assert main(["ingest", str(source), "--format", "csv", "--out", str(blocker / "out")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "cannot write a teamrec dataset here" in err


def test_an_absurd_k_is_a_usage_error(tmp_path, capsys):
    source = _text("ok.csv", "user,item\nu,i\nv,i\nu,j\n")(tmp_path)
    assert main(["recommend", str(source), "u", "--format", "csv", "-k", "1000000000000"]) == 2
    err = capsys.readouterr().err
    assert "Invalid value for '-k'" in err and "Traceback" not in err


def test_retrain_with_a_url_that_is_not_one(capsys):
    assert main(["retrain", "--url", "notaurl"]) == 2
    assert capsys.readouterr().err == (
        "teamrec: error: --url must be an http:// or https:// address of the service, got 'notaurl'\n"
    )


def test_a_missing_extra_is_an_install_hint(monkeypatch, capsys):
    import importlib.util

    from teamrec import _extras

    real = importlib.util.find_spec
    monkeypatch.setattr(
        _extras.importlib.util, "find_spec", lambda name, *a: None if name == "uvicorn" else real(name, *a)
    )
    assert main(["serve"]) == 2
    assert capsys.readouterr().err == (
        "teamrec: error: teamrec serve needs the service extra: pip install 'teamrec[service]' (missing: uvicorn)\n"
    )


def test_a_report_without_its_extra_is_an_install_hint(tmp_path, monkeypatch, capsys):
    import importlib.util

    from teamrec import _extras

    real = importlib.util.find_spec
    monkeypatch.setattr(
        _extras.importlib.util, "find_spec", lambda name, *a: None if name == "matplotlib" else real(name, *a)
    )
    source = _text("ok.csv", "user,item\nu,i\nv,i\nu,j\nw,j\n")(tmp_path)
    report = tmp_path / "r.html"
    argv = [
        "evaluate",
        str(source),
        "--format",
        "csv",
        "--protocol",
        "holdout",
        "-a",
        "popularity",
        "--report",
        str(report),
    ]
    assert main(argv) == 2
    assert "needs the report extra: pip install 'teamrec[report]' (missing: matplotlib)" in capsys.readouterr().err
    assert not report.exists()


def test_multi_line_messages_become_one_line(capsys, monkeypatch):
    from teamrec.errors import ConfigError

    def broken(*args, **kwargs):
        raise ConfigError("1 validation error for X\nk\n  Input should be a valid integer\n"
                          "    For further information visit https://errors.pydantic.dev/2.14/v/int_parsing")

    monkeypatch.setattr("teamrec.data.sources.tabular.read_csv", broken)
    assert main(["stats", os.devnull, "--format", "csv"]) == 2
    assert capsys.readouterr().err == "teamrec: error: 1 validation error for X k Input should be a valid integer\n"


def test_a_thrift_error_is_one_line(tmp_path, capsys):
    path = tmp_path / "broken.parquet"
    good = tmp_path / "good.parquet"
    pq.write_table(pa.table({"user": ["a"] * 50, "item": ["b"] * 50}), good)
    data = bytearray(good.read_bytes())
    footer = int.from_bytes(data[-8:-4], "little")
    data[-8 - footer: -8] = b"\x19" * footer  # a footer thrift cannot decode
    path.write_bytes(bytes(data))
    assert main(["stats", str(path), "--format", "parquet"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "broken.parquet" in err


