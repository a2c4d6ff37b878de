"""Any bytes given to any reader either parse, into a dataset that can be saved, or raise
teamrec's own error (never a stray exception from pandas, pyarrow, json or zipfile).

Each format starts from a small valid file; hypothesis then hands the reader random bytes, or
that file with bytes overwritten, inserted or cut off, which reaches much deeper into each
parser than random bytes alone.
"""

from __future__ import annotations

import io
import json
import tempfile
import zipfile
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from teamrec.data.sources import read_source
from teamrec.errors import TeamrecError


def _parquet() -> bytes:
    buffer = io.BytesIO()
    table = pa.table({"user": ["a", "b"], "item": [1, 2], "value": [1.0, 2.5],
                      "timestamp": pa.array([0, 1_600_000_000], pa.timestamp("s"))})
    pq.write_table(table, buffer)
    return buffer.getvalue()


def _slack_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("users.json", json.dumps([{"id": "U1", "team_id": "T", "name": "a", "tz": "UTC"}]))
        zf.writestr("channels.json", json.dumps([{"id": "C1", "name": "general", "members": ["U1"],
                                                  "creator": "U1", "created": 1}]))
        zf.writestr("general/2022-01-01.json", json.dumps([{"user": "U1", "ts": "1.5", "text": "hi"}]))
    return buffer.getvalue()


#: format -> (file name, a valid file)
SEEDS: dict[str, tuple[str, bytes]] = {
    "csv": ("ev.csv", b"user,item,value,timestamp\nu1,i1,1,1600000000\nu2,i1,2.5,2020-01-01T00:00:00Z\n"),
    "jsonl": (
        "ev.jsonl",
        b'{"user": "u1", "item": "i1", "value": 1}\n{"user": "u2", "item": 7, "value": 2, "timestamp": 5}\n',
    ),
    "parquet": ("ev.parquet", _parquet()),
    "movielens": ("u.data", b"1\t10\t4\t881250949\n2\t10\t3\t891717742\n"),
    "lastfm": ("user_artists.dat", b"userID\tartistID\tweight\n2\t51\t13883\n2\t52\t11690\n"),
    "deskdrop": (
        "users_interactions.csv",
        b"timestamp,eventType,contentId,personId,sessionId\n1465413032,VIEW,-38,-81,-1\n",
    ),
    "slack-export": ("export.zip", _slack_zip()),
}


@st.composite
def damaged(draw, seed: bytes) -> bytes:
    """``seed`` with a few bytes overwritten or inserted, then maybe cut short; or any bytes."""
    if draw(st.integers(0, 4)) == 0:
        return draw(st.binary(max_size=200))
    data = bytearray(seed)
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, len(data)))
        chunk = draw(st.binary(min_size=1, max_size=4) | st.sampled_from(
            [b"\xff", b"\\ud800", b"1e30", b"1e200", b"true", b'"', b"\n", b"[[[[", b"/", b"\x00"]))
        if draw(st.booleans()):
            data[at:at + len(chunk)] = chunk
        else:
            data[at:at] = chunk
    if draw(st.integers(0, 3)) == 0:
        data = data[: draw(st.integers(0, len(data)))]
    return bytes(data)


@pytest.mark.parametrize("fmt", sorted(SEEDS))
def test_the_valid_seed_files_parse(fmt, tmp_path):
    name, content = SEEDS[fmt]
    (tmp_path / name).write_bytes(content)
    data = read_source(tmp_path / name, fmt)
    assert len(data.events) >= 1
    data.save(tmp_path / "saved")


@pytest.mark.parametrize("fmt", sorted(SEEDS))
def test_any_bytes_parse_or_raise_teamrecs_own_error(fmt):
    name, seed = SEEDS[fmt]

    @settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(content=damaged(seed), skip=st.booleans())
    def check(content: bytes, skip: bool) -> None:
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / name
            path.write_bytes(content)
            try:
                data = read_source(path, fmt, skip_bad_rows=skip)
                data.save(Path(folder) / "saved")  # what was read can be stored as it is
            except TeamrecError as exc:
                assert "\n" not in str(exc)

    check()
