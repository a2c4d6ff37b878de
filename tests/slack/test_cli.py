"""``teamrec slack sync / run / digest`` through the CLI, against the mock."""

from __future__ import annotations

import json

from teamrec.cli import main
from teamrec.store import open_store

from .conftest import SIGNING_SECRET, TEAM
from .mock_slack import TOKEN


def test_sync_then_socket_mode_check_over_the_service(mock_slack, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("SLACK_BOT_TOKEN", TOKEN)
    monkeypatch.delenv("SLACK_APP_TOKEN", raising=False)
    monkeypatch.delenv("SLACK_SIGNING_SECRET", raising=False)
    config = tmp_path / "teamrec.toml"
    config.write_text(f"""
mode = "development"
database = "events.sqlite3"

[teams.{TEAM}]
source = "meta"
format = "teamrec"

[slack]
team = "{TEAM}"
api_url = "{mock_slack.base_url}"
""")
    sync = ["slack", "sync", "--config", str(config), "--since-days", "1", "--no-replies"]
    assert main(sync) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["people"] == 51 and report["channels"] == 38
    assert report["metadata_dir"] == str(tmp_path / "meta")  # the team's source folder
    events = open_store(tmp_path / "events.sqlite3")  # the service's database
    assert set(events.events(TEAM)["kind"]) == {"member"}  # nothing posted in the last day
    events.close()
    run = ["slack", "run", "--config", str(config), "--check"]
    assert main(run) == 2 and "teamrec serve" in capsys.readouterr().err  # HTTP mode is the service's
    assert main([*run, "--socket"]) == 2
    assert "SLACK_SIGNING_SECRET" in capsys.readouterr().err
    monkeypatch.setenv("SLACK_SIGNING_SECRET", SIGNING_SECRET)
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
