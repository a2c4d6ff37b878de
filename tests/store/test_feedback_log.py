"""The impressions/feedback log contract, run against SQLite and its in-memory twin (a
PostgreSQL log inherits :class:`FeedbackLogContract` the same way)."""

from __future__ import annotations

import pandas as pd
import pytest

from teamrec.errors import DataError
from teamrec.store import MemoryEventStore, SQLiteEventStore
from teamrec.store.buffered_feedback import BufferedFeedbackLog
from teamrec.store.feedback import (
    FEEDBACK_LOG_COLUMNS,
    IMPRESSION_LOG_COLUMNS,
    FeedbackLog,
    MemoryFeedbackLog,
    SQLiteFeedbackLog,
    open_feedback_log,
)


def shown(rid: str, items=("a", "b", "c"), person="p1", experiment="exp", arm="control") -> pd.DataFrame:
    return pd.DataFrame({"recommendation_id": rid, "person": person, "experiment": experiment, "arm": arm,
                         "item": list(items), "position": range(1, len(items) + 1),
                         "explored": [False, True, False][: len(items)], "propensity": [1.0, 0.25, 1.0][: len(items)],
                         "surface": "web", "shown_at": 1.8e9})


def action(rid: str, item: str, what: str = "click", person: str = "p1") -> pd.DataFrame:
    return pd.DataFrame({"recommendation_id": [rid], "person": [person], "item": [item], "action": [what],
                         "surface": ["web"], "at": [1.8e9 + 5]})


class FeedbackLogContract:
    @pytest.fixture
    def log(self, tmp_path) -> FeedbackLog:  # pragma: no cover - overridden
        raise NotImplementedError

    def test_is_a_feedback_log(self, log):
        assert isinstance(log, FeedbackLog)

    def test_empty(self, log):
        assert list(log.impressions("acme").columns) == list(IMPRESSION_LOG_COLUMNS)
        assert list(log.feedback("acme").columns) == list(FEEDBACK_LOG_COLUMNS)
        assert len(log.find("acme", "r1")) == 0

    def test_impressions_round_trip(self, log):
        assert log.log_impressions("acme", shown("r1")) == 3
        log.log_impressions("acme", shown("r2", experiment=None, arm="default"))
        frame = log.impressions("acme")
        assert frame["recommendation_id"].tolist() == ["r1"] * 3 + ["r2"] * 3
        assert frame["position"].tolist() == [1, 2, 3, 1, 2, 3]
        assert frame["explored"].tolist() == [False, True, False] * 2
        assert frame["propensity"].tolist() == [1.0, 0.25, 1.0] * 2
        assert (frame["team"] == "acme").all()
        assert frame["shown_at"].iloc[0] == pd.Timestamp(1.8e9, unit="s", tz="UTC")
        assert frame["experiment"].tolist()[3:] == [None] * 3
        assert len(log.impressions("acme", "exp")) == 3
        assert log.find("acme", "r2")["item"].tolist() == ["a", "b", "c"]

    def test_teams_never_mix(self, log):
        log.log_impressions("acme", shown("r1"))
        assert len(log.find("globex", "r1")) == 0
        assert len(log.impressions("globex")) == 0

    def test_feedback_and_replays(self, log):
        log.log_impressions("acme", shown("r1"))
        assert log.log_feedback("acme", action("r1", "a")) == 1
        log.log_feedback("acme", action("r1", "a", "join"))
        with pytest.raises(DataError, match="already given"):
            log.log_feedback("acme", action("r1", "a"))
        with pytest.raises(DataError, match="already given"):  # a batch with a repeat stores none
            log.log_feedback("acme", pd.concat([action("r1", "b"), action("r1", "b")]))
        assert log.feedback("acme")["action"].tolist() == ["click", "join"]
        assert len(log.feedback("acme", "exp")) == 2 and len(log.feedback("acme", "other")) == 0

    def test_an_item_twice_in_one_recommendation_is_refused_whole(self, log):
        with pytest.raises(DataError):
            log.log_impressions("acme", shown("r1", items=("a", "a")))
        assert len(log.impressions("acme")) == 0

    def test_bad_propensity_is_refused(self, log):
        with pytest.raises(DataError, match="propensity"):
            log.log_impressions("acme", shown("r1").assign(propensity=0.0))

    def test_fingerprints_first_write_wins(self, log):
        assert log.running_fingerprint("exp") is None
        assert log.record_fingerprint("exp", "abc") == "abc"
        assert log.record_fingerprint("exp", "def") == "abc"
        assert log.running_fingerprint("exp") == "abc"


class TestMemoryFeedbackLog(FeedbackLogContract):
    @pytest.fixture
    def log(self):
        return MemoryFeedbackLog()


class TestSQLiteFeedbackLog(FeedbackLogContract):
    @pytest.fixture
    def log(self, tmp_path):
        log = SQLiteFeedbackLog(tmp_path / "events.sqlite3")
        yield log
        log.close()

    def test_lives_beside_the_events_and_survives_reopening(self, tmp_path):
        store = SQLiteEventStore(tmp_path / "events.sqlite3")
        log = open_feedback_log(store)
        assert isinstance(log, SQLiteFeedbackLog)
        log.log_impressions("acme", shown("r1"))
        log.record_fingerprint("exp", "abc")
        log.close()
        store.close()
        again = SQLiteFeedbackLog(tmp_path / "events.sqlite3")
        assert len(again.find("acme", "r1")) == 3 and again.running_fingerprint("exp") == "abc"
        again.close()


class TestBufferedSQLiteFeedbackLog(FeedbackLogContract):
    """The same contract through the group-committing buffer (a long interval: the rows are
    read back while still buffered, or through the flush that reads do first)."""

    @pytest.fixture
    def log(self, tmp_path):
        log = BufferedFeedbackLog(SQLiteFeedbackLog(tmp_path / "events.sqlite3"), flush_ms=60_000)
        yield log
        log.close()


def test_the_memory_store_gets_the_memory_log():
    assert isinstance(open_feedback_log(MemoryEventStore()), MemoryFeedbackLog)


def test_the_memory_log_adds_nothing_for_the_garbage_collector_to_walk():
    """A serving process logs every answer's impressions: the in-memory log keeps them in
    tuples the collector stops tracking, so its full passes (read latency) do not grow with
    the log (a list per recommendation made them ever longer)."""
    import gc

    log = MemoryFeedbackLog()
    rows = {"person": "p1", "item": ["a", "b", "c"], "position": [1, 2, 3], "explored": False,
            "propensity": 1.0, "arm": "default", "shown_at": 1.8e9}
    log.log_impressions("acme", {**rows, "recommendation_id": "r0"})
    gc.collect()
    before = len(gc.get_objects())
    for i in range(1, 2001):
        log.log_impressions("acme", {**rows, "recommendation_id": f"r{i}"})
    gc.collect()
    assert len(gc.get_objects()) - before < 100
    assert log.find("acme", "r1500")["item"].tolist() == ["a", "b", "c"]
