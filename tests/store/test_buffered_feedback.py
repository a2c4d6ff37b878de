"""The group-committing impressions buffer: rows durable on close, found while buffered,
many requests -> few commits, a failed write retried, a full buffer written on the request."""

from __future__ import annotations

import threading
import time

import pytest

from teamrec.errors import DataError
from teamrec.store.buffered_feedback import BufferedFeedbackLog
from teamrec.store.feedback import SQLiteFeedbackLog

from .test_feedback_log import action, shown


class Counting(SQLiteFeedbackLog):
    """A SQLite log that counts its impression writes (each one transaction) and can fail them."""

    def __init__(self, path) -> None:
        super().__init__(path)
        self.writes = 0
        self.failures = 0  # the next this-many writes raise OSError

    def log_impressions(self, team, impressions):
        if self.failures:
            self.failures -= 1
            raise OSError("disk unavailable")
        self.writes += 1
        return super().log_impressions(team, impressions)


def test_close_flushes_what_is_left(tmp_path):
    log = BufferedFeedbackLog(SQLiteFeedbackLog(tmp_path / "e.sqlite3"), flush_ms=60_000)
    log.log_impressions("acme", shown("r1"))
    assert log.buffered_rows == 3
    log.close()
    again = SQLiteFeedbackLog(tmp_path / "e.sqlite3")
    assert again.find("acme", "r1")["item"].tolist() == ["a", "b", "c"]
    again.close()


def test_found_while_buffered_and_feedback_flushes_its_recommendation(tmp_path):
    backend = Counting(tmp_path / "e.sqlite3")
    log = BufferedFeedbackLog(backend, flush_ms=60_000)
    log.log_impressions("acme", shown("r1"))
    assert backend.writes == 0 and log.find("acme", "r1")["item"].tolist() == ["a", "b", "c"]
    assert len(log.find("globex", "r1")) == 0
    with pytest.raises(DataError, match="twice"):  # the same item again for a buffered recommendation
        log.log_impressions("acme", shown("r1", items=("c",)))
    log.log_feedback("acme", action("r1", "b"))
    assert backend.writes == 1 and log.buffered_rows == 0  # the impression is durable before its feedback
    assert backend.find("acme", "r1")["item"].tolist() == ["a", "b", "c"]
    log.close()


def test_many_concurrent_requests_become_few_commits(tmp_path):
    backend = Counting(tmp_path / "e.sqlite3")
    log = BufferedFeedbackLog(backend, flush_ms=100)
    n_threads, per_thread = 8, 50

    def requests(t: int) -> None:
        for i in range(per_thread):
            log.log_impressions("acme", shown(f"r{t}-{i}"))

    threads = [threading.Thread(target=requests, args=(t,)) for t in range(n_threads)]
    start = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - start
    log.close()
    requests_made = n_threads * per_thread
    # one commit per flush: at most one per interval elapsed, plus the closing one
    assert backend.writes <= elapsed / 0.1 + 2 and backend.writes < requests_made / 10
    again = SQLiteFeedbackLog(tmp_path / "e.sqlite3")
    assert len(again.impressions("acme")) == 3 * requests_made
    again.close()


def test_a_failed_write_is_retried_not_lost(tmp_path, caplog):
    backend = Counting(tmp_path / "e.sqlite3")
    backend.failures = 2
    log = BufferedFeedbackLog(backend, flush_ms=10)
    log.log_impressions("acme", shown("r1"))
    deadline = time.monotonic() + 10
    while log.buffered_rows and time.monotonic() < deadline:
        time.sleep(0.01)
    assert log.buffered_rows == 0 and backend.failures == 0 and backend.writes == 1
    assert "failed; retrying" in caplog.text
    assert backend.find("acme", "r1")["item"].tolist() == ["a", "b", "c"]
    log.close()


def test_a_failed_flush_keeps_the_rows_for_reads_and_the_next_try(tmp_path):
    backend = Counting(tmp_path / "e.sqlite3")
    log = BufferedFeedbackLog(backend, flush_ms=60_000)
    log.log_impressions("acme", shown("r1"))
    backend.failures = 1
    with pytest.raises(OSError):
        log.flush()
    assert log.buffered_rows == 3 and len(log.find("acme", "r1")) == 3
    assert len(log.impressions("acme")) == 3  # the read flushes (this time it works)
    log.close()


def test_a_full_buffer_writes_on_the_request_path(tmp_path):
    backend = Counting(tmp_path / "e.sqlite3")
    log = BufferedFeedbackLog(backend, flush_ms=60_000, flush_rows=4, max_rows=4)
    log.log_impressions("acme", shown("r1"))
    log.log_impressions("acme", shown("r2"))  # 3 + 3 > 4: written at once, not dropped or buffered
    assert log.buffered_rows == 3 and backend.writes == 1
    log.close()
    again = SQLiteFeedbackLog(tmp_path / "e.sqlite3")
    assert sorted(set(again.impressions("acme")["recommendation_id"])) == ["r1", "r2"]
    again.close()


def test_rows_the_backend_refuses_leave_out_only_their_request(tmp_path, caplog):
    backend = Counting(tmp_path / "e.sqlite3")
    backend.log_impressions("acme", shown("r1"))  # already stored: a buffered repeat is refused at flush
    log = BufferedFeedbackLog(backend, flush_ms=60_000)
    log.log_impressions("acme", shown("r1"))
    log.log_impressions("acme", shown("r2"))
    assert log.flush() == 3
    assert log.buffered_rows == 0 and "refused by the log" in caplog.text
    assert log.impressions("acme")["recommendation_id"].tolist() == ["r1"] * 3 + ["r2"] * 3
    log.close()
