"""People like you on Last.fm 2K: each listener's most similar listeners (from plays alone)
against their declared friendships, through ``teamrec evaluate --protocol people-like-you``.

Figures printed by benchmarks/bench_activity_people.py (docs/benchmarks.md); issue 13, item 6.
"""

import json

import pytest

from teamrec.cli import main
from teamrec.data.sources.lastfm import read_friendships
from teamrec.errors import DataError


def run(capsys, *args):
    code = main(["evaluate", *map(str, args), "--json"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    return json.loads(captured.out)


def recalls(out):
    return {r["label"]: r["metrics"]["friends_recall@10"] for r in out["results"]}


COMPARED = ["--algorithm", "user-knn", "--algorithm", "plain=user-knn", "--param", "plain.weighting=none",
            "--param", "plain.hubness=0", "--algorithm", "iuf=user-knn", "--param", "iuf.hubness=0"]


@pytest.mark.parametrize(
    "scale, default, plain, iuf",
    [(["--no-log1p"], 0.2235, 0.1948, 0.2175), (["--binary"], 0.1908, 0.1582, 0.1742)],
)
def test_lastfm_friends_recall(capsys, lastfm_dir, scale, default, plain, iuf):
    out = run(capsys, lastfm_dir / "user_artists.dat", "--format", "lastfm", *scale,
              "--protocol", "people-like-you", *COMPARED)
    got = recalls(out)
    assert got["user-knn"] == pytest.approx(default, abs=0.002)
    assert got["plain"] == pytest.approx(plain, abs=0.002)
    assert got["iuf"] == pytest.approx(iuf, abs=0.002)
    assert got["user-knn"] > got["iuf"] > got["plain"]
    assert out["results"][0]["metrics"]["random_recall@10"] == pytest.approx(0.0091, abs=0.0002)
    assert out["data"]["test_cells"] == 25_434  # both directions of 12,717 friendships


def test_friendships_file_is_found_beside_the_plays_or_given(capsys, lastfm_dir, tmp_path):
    pairs = tmp_path / "pairs.csv"
    pairs.write_text("a,b\n2,275\n2,428\n")
    out = run(capsys, lastfm_dir / "user_artists.dat", "--format", "lastfm", "--protocol", "people-like-you",
              "--friends", pairs, "--algorithm", "user-knn")
    assert out["data"]["test_cells"] == 4 and "--friends" in out["command"]


def test_read_friendships(lastfm_dir, tmp_path):
    frame = read_friendships(lastfm_dir)
    assert len(frame) == 25_434 and frame.iloc[0].tolist() == ["2", "275"]
    bad = tmp_path / "f.dat"
    bad.write_text("userID\tfriendID\n2\t275\n3\t\n")
    with pytest.raises(DataError, match="line 3"):
        read_friendships(bad)
    with pytest.raises(DataError, match="no such"):
        read_friendships(tmp_path / "none.dat")
    one = tmp_path / "one.csv"
    one.write_text("userID\n2\n")
    with pytest.raises(DataError, match="two id columns"):
        read_friendships(one)
