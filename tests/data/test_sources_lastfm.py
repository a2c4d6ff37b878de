"""Last.fm 2K reader: the published counts, artist names, CRLF files and bad lines."""

from __future__ import annotations

import numpy as np
import pytest

from teamrec.data.sources import read_source
from teamrec.data.sources.lastfm import read_lastfm
from teamrec.errors import DataError


@pytest.fixture(scope="module")
def lastfm(lastfm_dir):
    return read_lastfm(lastfm_dir)


def test_published_counts(lastfm):
    stats = lastfm.stats()
    assert (stats["users"], stats["items"], stats["events"]) == (1892, 17632, 92834)
    assert lastfm.events["value"].min() == 1 and lastfm.events["value"].max() == 352698
    assert set(lastfm.events["kind"]) == {"play"}
    assert lastfm.events["timestamp"].isna().all()
    assert lastfm.events["value"].sum() == lastfm.events["value"].round().sum()


def test_artist_names(lastfm):
    artists = lastfm.items.set_index("item")
    assert len(artists) == 17632
    assert artists.loc["1", "name"] == "MALICE MIZER"
    assert artists.loc["1", "url"] == "http://www.last.fm/music/MALICE+MIZER"
    # Every played artist is named.
    assert set(lastfm.events["item"]) <= set(artists.index)


def test_file_and_folder_agree(lastfm, lastfm_dir):
    data = read_source(lastfm_dir / "user_artists.dat", "lastfm", metadata=False)
    assert data.events.equals(lastfm.events) and len(data.items) == 0


def test_bad_lines_in_a_crlf_file(tmp_path):
    path = tmp_path / "user_artists.dat"
    path.write_bytes(b"userID\tartistID\tweight\r\n2\t51\t13883\r\n2\t52\tmany\r\n")
    with pytest.raises(DataError) as exc:
        read_lastfm(path)
    assert str(exc.value) == f"{path}, line 3, field 'weight': not a finite number: 'many'"
    data = read_lastfm(path, skip_bad_rows=True)
    assert data.events["value"].tolist() == [13883.0] and data.info["rows_skipped"] == 1
    assert np.isnan(data.events["timestamp"]).all()


def test_header_problems(tmp_path):
    path = tmp_path / "user_artists.dat"
    path.write_bytes(b"userID\tartistID\r\n2\t51\r\n")
    with pytest.raises(DataError) as exc:
        read_lastfm(path)
    assert str(exc.value).startswith(f"{path}, line 1, field 'weight': missing column")
    path.write_bytes(b"")
    with pytest.raises(DataError, match="empty file"):
        read_lastfm(path)
