"""``teamrec slack sync / run / digest`` through the CLI, against the mock."""

from __future__ import annotations

import json

from teamrec.cli import main
from teamrec.store import open_store

from .conftest import SIGNING_SECRET, TEAM
from .mock_slack import TOKEN


def test_sync_then_run_check(mock_slack, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("SLACK_BOT_TOKEN", TOKEN)
    store = tmp_path / "events.sqlite3"
    args = ["slack", "sync", "--team", TEAM, "--store", str(store), "--metadata", str(tmp_path / "meta"),
            "--base-url", mock_slack.base_url, "--since-days", "1", "--no-replies"]
    assert main(args) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["people"] == 51 and report["channels"] == 38
    events = open_store(store)
    assert set(events.events(TEAM)["kind"]) == {"member"}  # nothing posted in the last day
    events.close()
    monkeypatch.setenv("SLACK_SIGNING_SECRET", SIGNING_SECRET)
    run = ["slack", "run", "--team", TEAM, "--store", str(store), "--metadata", str(tmp_path / "meta"), "--check"]
    assert main(run) == 0 and "ready: HTTP" in capsys.readouterr().out
    assert main([*run, "--socket"]) == 2
    assert "SLACK_APP_TOKEN" in capsys.readouterr().err
    monkeypatch.setenv("SLACK_APP_TOKEN", "xapp-1-A0-1-abc")
    assert main([*run, "--socket"]) == 0 and "ready: Socket Mode" in capsys.readouterr().out


def test_missing_or_wrong_token_is_one_line_without_the_token(mock_slack, tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("SLACK_BOT_TOKEN", raising=False)
    args = ["slack", "sync", "--team", TEAM, "--store", str(tmp_path / "e.sqlite3"), "--metadata",
            str(tmp_path / "meta"), "--base-url", mock_slack.base_url]
    assert main(args) == 2
    assert "SLACK_BOT_TOKEN is not set" in capsys.readouterr().err
    wrong = "xoxb-wrong-token-DONOTPRINT"
    monkeypatch.setenv("SLACK_BOT_TOKEN", wrong)
    assert main(args) == 2
    captured = capsys.readouterr()
    assert captured.err.strip() == "teamrec: error: Slack users.list failed: invalid_auth"
    assert wrong not in captured.err + captured.out
