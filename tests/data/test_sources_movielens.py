"""MovieLens 100K reader: the published counts, the splits, metadata and bad lines."""

from __future__ import annotations

import pandas as pd
import pytest

from teamrec.data.sources import read_source
from teamrec.data.sources.movielens import read_movielens
from teamrec.errors import DataError


@pytest.fixture(scope="module")
def ml100k(ml100k_dir):
    return read_movielens(ml100k_dir)


def test_published_counts(ml100k, ml100k_dir):
    stats = ml100k.stats()
    assert (stats["users"], stats["items"], stats["events"]) == (943, 1682, 100000)
    assert ml100k.info["source"] == str(ml100k_dir / "u.data")
    counts = ml100k.events["value"].value_counts().sort_index()
    assert counts.to_dict() == {1.0: 6110, 2.0: 11370, 3.0: 27145, 4.0: 34174, 5.0: 21201}
    assert set(ml100k.events["kind"]) == {"rating"}
    assert ml100k.events["timestamp"].between(874724710, 893286638).all()
    # Every user rated at least 20 movies.
    assert ml100k.events.groupby("user").size().min() == 20


def test_movie_and_people_metadata(ml100k):
    movies = ml100k.items.set_index("item")
    assert len(movies) == 1682
    assert movies.loc["1", "name"] == "Toy Story (1995)"
    assert movies.loc["1", "genres"] == "Animation|Children's|Comedy"
    assert movies["name"].str.contains("é").any()  # latin-1 decoded
    people = ml100k.users.set_index("user")
    assert len(people) == 943
    assert people.loc["1", ["age", "gender", "occupation"]].tolist() == [24, "M", "technician"]


def test_the_file_and_the_folder_give_the_same_events(ml100k, ml100k_dir):
    from_file = read_source(ml100k_dir / "u.data", "movielens")
    pd.testing.assert_frame_equal(from_file.events, ml100k.events)


def test_base_and_test_splits_add_up_to_u_data(ml100k, ml100k_dir):
    base = read_movielens(ml100k_dir / "u1.base", metadata=False)
    test = read_movielens(ml100k_dir / "u1.test", metadata=False)
    assert (len(base.events), len(test.events)) == (80000, 20000)
    key = ["user", "item", "value", "timestamp"]
    both = pd.concat([base.events, test.events]).sort_values(key).reset_index(drop=True)
    pd.testing.assert_frame_equal(both, ml100k.events.sort_values(key).reset_index(drop=True))
    assert base.stats()["items"] < 1682  # without metadata, only the rated movies count
    assert read_movielens(ml100k_dir / "u1.base").stats()["items"] == 1682


def ratings_file(tmp_path, text):
    path = tmp_path / "u.data"
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    "text, expected",
    [
        ("1\t2\t3\t881250949\n1\t3\tfive\t881250949\n",
         "line 2, field 'rating': not a finite number: 'five'"),
        ("1\t2\t3\t881250949\n1\t3\t4\tlater\n", "line 2, field 'timestamp': not a timestamp"),
        ("1\t2\t3\t881250949\n\t3\t4\t881250949\n", "line 2, field 'user': empty value"),
        ("1\t2\t3\t881250949\t9\n", "line 1: more fields than the header has"),
        ("1\t2\t3\t881250949\n1\t2\t3\t881250949\t9\n", "line 2: expected 4 fields, saw 5"),
    ],
)
def test_bad_lines_name_file_line_and_field(tmp_path, text, expected):
    path = ratings_file(tmp_path, text)
    with pytest.raises(DataError) as exc:
        read_movielens(path)
    assert str(exc.value).startswith(f"{path}, {expected}")


def test_missing_timestamp_is_unknown_not_bad(tmp_path):
    # A missing last field is a short line: the timestamp is unknown (NaN), as in the schema.
    data = read_movielens(ratings_file(tmp_path, "1\t2\t3\t881250949\n1\t3\t4\t\n"))
    assert data.events["timestamp"].isna().tolist() == [False, True]


def test_skip_bad_rows_counts_them(tmp_path):
    path = ratings_file(tmp_path, "1\t2\t3\t1\n1\t3\tx\t1\n1\t4\t5\t1\t7\n2\t2\t1\t1\n")
    data = read_movielens(path, skip_bad_rows=True)
    assert data.events["user"].tolist() == ["1", "2"] and data.info["rows_skipped"] == 2


def test_empty_file_and_folder_without_u_data(tmp_path):
    empty = ratings_file(tmp_path, "")
    with pytest.raises(DataError, match="empty file"):
        read_movielens(empty)
    folder = tmp_path / "nothing"
    folder.mkdir()
    with pytest.raises(DataError, match="no u.data"):
        read_movielens(folder)
