"""Deskdrop reader: the published counts, event strengths, duplicates and bad event types."""

from __future__ import annotations

import pytest

from teamrec.data.sources import read_source
from teamrec.data.sources.deskdrop import EVENT_STRENGTHS, read_deskdrop
from teamrec.errors import ConfigError, DataError

HEADER = "timestamp,eventType,contentId,personId,sessionId,userAgent,userRegion,userCountry\n"


@pytest.fixture(scope="module")
def deskdrop(deskdrop_csv):
    return read_deskdrop(deskdrop_csv)


def test_published_counts(deskdrop):
    stats = deskdrop.stats()
    assert (stats["users"], stats["items"], stats["events"]) == (1895, 2987, 72312)
    assert deskdrop.info["rows_read"] == 72312
    assert stats["duplicates_dropped"] == 11 and stats["events_kept"] == 72301
    kinds = deskdrop.events["kind"].value_counts().to_dict()
    # Published counts are of the file's rows; the 11 exact repeats are all VIEWs.
    assert kinds == {"VIEW": 61086 - 11, "LIKE": 5745, "BOOKMARK": 2463,
                     "COMMENT CREATED": 1611, "FOLLOW": 1407}
    assert deskdrop.events["timestamp"].min() == 1457963676
    assert deskdrop.events["timestamp"].max() == 1488309711


def test_event_strengths_are_the_values(deskdrop):
    pairs = deskdrop.events[["kind", "value"]].drop_duplicates().set_index("kind")["value"]
    assert pairs.to_dict() == EVENT_STRENGTHS


def test_ids_are_exact_text(deskdrop):
    # 64-bit signed ids must survive unchanged (a float detour would round them).
    assert "-8845298781299428018" in set(deskdrop.events["user"])
    assert "-3499919498720038879" in set(deskdrop.events["item"])


def interactions(tmp_path, *rows):
    path = tmp_path / "users_interactions.csv"
    path.write_text(HEADER + "".join(r + "\n" for r in rows))
    return path


def test_unknown_event_type_names_file_line_and_field(tmp_path):
    path = interactions(
        tmp_path,
        "1465413032,VIEW,-3499919498720038879,-8845298781299428018,1264196770339959068,,,",
        "1465413033,LIKE,-3499919498720038879,-8845298781299428018,1264196770339959068,,,",
        "1465413032,DISLIKE,-3499919498720038879,-9223121837663643404,1264196770339959068,,,",
    )
    with pytest.raises(DataError) as exc:
        read_deskdrop(path)
    assert str(exc.value).startswith(f"{path}, line 4, field 'eventType': unknown event type "
                                     "'DISLIKE'")
    data = read_deskdrop(path, skip_bad_rows=True)
    assert data.info["rows_skipped"] == 1 and len(data.events) == 2
    assert data.events["kind"].tolist() == ["VIEW", "LIKE"]


def test_other_bad_fields(tmp_path):
    path = interactions(tmp_path, "soon,VIEW,1,2,3,,,")
    with pytest.raises(DataError) as exc:
        read_deskdrop(path)
    assert str(exc.value).startswith(f"{path}, line 2, field 'timestamp': not a timestamp")
    path = interactions(tmp_path, "1,VIEW,1,,3,,,")
    with pytest.raises(DataError, match=r"line 2, field 'personId': empty value"):
        read_deskdrop(path)
    wrong = tmp_path / "wrong.csv"
    wrong.write_text("timestamp,eventType,contentId,userId\n1,VIEW,1,2\n")
    with pytest.raises(DataError) as exc:
        read_deskdrop(wrong)
    assert str(exc.value).startswith(f"{wrong}, line 1, field 'personId': missing column")


def test_only_whole_line_repeats_are_duplicates(tmp_path):
    row = "1465413032,VIEW,10,20,30,Mozilla,SP,BR"
    path = interactions(tmp_path, row, row, row.replace(",30,", ",31,"),
                        "1465413032,LIKE,10,20,30,,,")
    data = read_deskdrop(path)
    assert data.info["duplicates_dropped"] == 1 and data.info["rows_read"] == 4
    assert len(data.events) == 3  # another session is another event


def test_event_strengths_option_overrides_and_adds(tmp_path):
    path = interactions(tmp_path, "1,VIEW,1,2,3,,,", "2,DISLIKE,1,2,3,,,")
    data = read_deskdrop(path, event_strengths={"VIEW": 0.5, "DISLIKE": -1})
    assert data.events["value"].tolist() == [0.5, -1.0]
    with pytest.raises(ConfigError):
        read_deskdrop(path, event_strengths={"VIEW": "a lot"})


def test_folder_and_article_titles(tmp_path):
    interactions(tmp_path, "1,VIEW,-7,2,3,,,", "2,LIKE,8,2,3,,,")
    (tmp_path / "shared_articles.csv").write_text(
        "timestamp,eventType,contentId,authorPersonId,url,title,text,lang\n"
        '1,CONTENT SHARED,-7,5,http://a,"Old, title",x,en\n'
        '2,CONTENT SHARED,-7,5,http://a,"New, title",x,en\n'
    )
    data = read_source(tmp_path, "deskdrop")
    assert data.info["source"] == str(tmp_path / "users_interactions.csv")
    names = data.items.set_index("item")["name"].to_dict()
    assert names == {"-7": "New, title"}
    assert data.stats()["items"] == 2


def test_empty_file(tmp_path):
    path = tmp_path / "users_interactions.csv"
    path.write_text("")
    with pytest.raises(DataError, match="empty file"):
        read_deskdrop(path)
