"""The impressions/feedback log contract against a real PostgreSQL server (conftest.py), and
what only a shared log does: its rules hold across connections (processes)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from teamrec.errors import DataError
from teamrec.store.feedback import open_feedback_log
from teamrec.store.pg_feedback import PostgresFeedbackLog
from teamrec.store.postgres import PostgresEventStore


def _load_contract():
    """test_feedback_log.py's contract (tests are not a package: load it by path)."""
    spec = importlib.util.spec_from_file_location("_teamrec_feedback_contract",
                                                  Path(__file__).with_name("test_feedback_log.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.FeedbackLogContract, module.shown, module.action


FeedbackLogContract, shown, action = _load_contract()


class TestPostgresFeedbackLog(FeedbackLogContract):
    @pytest.fixture
    def log(self, postgres_url):
        log = PostgresFeedbackLog(postgres_url)
        yield log
        log.close()


def test_open_feedback_log_picks_postgres_beside_the_event_store(postgres_url):
    store = PostgresEventStore(postgres_url)
    log = open_feedback_log(store)
    assert isinstance(log, PostgresFeedbackLog) and "PostgresFeedbackLog" in repr(log)
    log.log_impressions("acme", shown("r1"))
    log.record_fingerprint("exp", "abc")
    log.close()
    store.close()
    again = PostgresFeedbackLog(postgres_url)
    assert len(again.find("acme", "r1")) == 3 and again.running_fingerprint("exp") == "abc"
    again.close()


def test_rules_hold_across_two_logs_on_one_database(postgres_url):
    first, second = PostgresFeedbackLog(postgres_url), PostgresFeedbackLog(postgres_url)
    try:
        first.log_impressions("acme", shown("r1"))
        with pytest.raises(DataError):
            second.log_impressions("acme", shown("r1", items=("c", "d")))  # "c" shown already: none stored
        assert second.impressions("acme")["item"].tolist() == ["a", "b", "c"]
        second.log_feedback("acme", action("r1", "a"))
        with pytest.raises(DataError, match="already given"):
            first.log_feedback("acme", action("r1", "a"))
        assert first.record_fingerprint("exp", "abc") == "abc"
        assert second.record_fingerprint("exp", "zzz") == "abc"
    finally:
        first.close()
        second.close()
