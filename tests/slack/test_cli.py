"""``teamrec slack sync / run / digest`` through the CLI, against the mock."""

from __future__ import annotations

import json
from pathlib import Path

from teamrec.cli import main
from teamrec.store import open_store

from .conftest import SIGNING_SECRET, TEAM, is_closed
from .mock_slack import TOKEN


def write_config(folder: Path, database: str | Path, source: str | Path, api_url: str, slack: str = "") -> Path:
    """``folder/teamrec.toml``: the team's source and the service's database, the ``[slack]``
    table over the mock (``slack``: more of that table, and its sub-tables)."""
    config = folder / "teamrec.toml"
    config.write_text(f"""
mode = "development"
database = "{database}"

[teams.{TEAM}]
source = "{source}"
format = "teamrec"

[slack]
team = "{TEAM}"
api_url = "{api_url}"
{slack}""")
    return config


def test_sync_then_socket_mode_check_over_the_service(mock_slack, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("SLACK_BOT_TOKEN", TOKEN)
    monkeypatch.delenv("SLACK_APP_TOKEN", raising=False)
    monkeypatch.delenv("SLACK_SIGNING_SECRET", raising=False)
    config = write_config(tmp_path, "events.sqlite3", "meta", mock_slack.base_url)
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


def test_digest_and_socket_mode_close_their_digest_state(synced, mock_slack, tmp_path, capsys, monkeypatch,
                                                         digest_states):
    db, meta = synced
    monkeypatch.setenv("SLACK_BOT_TOKEN", TOKEN)
    monkeypatch.setenv("SLACK_SIGNING_SECRET", SIGNING_SECRET)
    monkeypatch.setenv("SLACK_APP_TOKEN", "xapp-1-A0-1-abc")
    config = write_config(tmp_path, db, meta, mock_slack.base_url, f"""digest_state = "{tmp_path / 'digest.sqlite3'}"

[slack.digest]
min_tenure_days = 0
max_channels = 1000
work_start_hour = 0
work_end_hour = 24
weekdays_only = false
""")
    assert main(["slack", "digest", "--config", str(config)]) == 0
    outcome = json.loads(capsys.readouterr().out)
    assert "sent" in outcome.values() and len(mock_slack.calls_to("chat.postMessage")) > 0
    assert main(["slack", "run", "--socket", "--check", "--config", str(config)]) == 0
    assert len(digest_states) == 2 and all(is_closed(s) for s in digest_states)
