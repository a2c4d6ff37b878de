"""``teamrec serve`` (the README's first command) and ``teamrec retrain``: settings from the
command line, a real server on the Slack export and on the demo, retrains over HTTP and
offline, and one-line errors."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import time

import httpx
import pytest

from teamrec.cli import main
from teamrec.cli.serve import build_settings
from teamrec.errors import ConfigError
from teamrec.store import SQLiteEventStore

ADMIN = "cli-test-admin-key-0123456789"


def start(args: list[str], env: dict[str, str], timeout: float = 120) -> tuple[subprocess.Popen, str, list[str]]:
    """``teamrec serve ARGS`` in a subprocess; returns it, its URL and the lines it printed."""
    cmd = [sys.executable, "-c", "from teamrec.cli import run; run()", "serve", *args]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONUNBUFFERED": "1", **env})
    lines: list[str] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        lines.append(line.rstrip())
        if line.startswith("teamrec: admin key") or ("Ctrl-C" in line and "TEAMREC_KEYS" in env):
            break
    urls = [line.split(" at ", 1)[1].split()[0] for line in lines if line.startswith("teamrec: serving")]
    if not urls:
        proc.kill()
        _, err = proc.communicate()
        raise AssertionError(f"no URL printed: {lines} {err}")
    return proc, urls[0].rstrip("/"), lines


def stop(proc: subprocess.Popen) -> str:
    """Stop the server; returns what it wrote on stderr."""
    proc.terminate()
    try:
        _, err = proc.communicate(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        _, err = proc.communicate()
    return err


# -- settings from the command line ---------------------------------------------------------------
def test_no_source_serves_the_demo(tmp_path):
    settings, key = build_settings(None, env={"XDG_DATA_HOME": str(tmp_path)})
    assert list(settings.teams) == ["demo"] and settings.teams["demo"].format == "demo"
    assert settings.mode == "development" and not settings.read_keys
    assert settings.database == str(tmp_path / "teamrec" / "demo.sqlite3")
    assert key and len(key) >= 24 and settings.keys[0].allows("admin")
    again, other = build_settings(None, env={"XDG_DATA_HOME": str(tmp_path)})
    assert other != key  # a fresh key each start unless TEAMREC_ADMIN_KEY says otherwise


def test_a_source_is_one_team(slack_export_dir):
    settings, key = build_settings(slack_export_dir, fmt="slack-export", port=9000, host="0.0.0.0",
                                   algorithm="user-knn", params=["neighbors=10"], read_keys=True,
                                   env={"TEAMREC_ADMIN_KEY": ADMIN})
    team = settings.teams["slack-export-sample"]
    assert (team.source, team.format, team.algorithm, team.params) == (
        str(slack_export_dir), "slack-export", "user-knn", {"neighbors": 10})
    assert (settings.port, settings.host, settings.mode, settings.read_keys) == (9000, "0.0.0.0", "production", True)
    assert key == ADMIN
    named, _ = build_settings(slack_export_dir, fmt="slack-export", name="acme", env={"TEAMREC_ADMIN_KEY": ADMIN})
    assert list(named.teams) == ["acme"]


def test_keys_from_the_environment_replace_the_generated_one(tmp_path):
    env = {
        "XDG_DATA_HOME": str(tmp_path),
        "TEAMREC_KEYS": json.dumps([{"team": "demo", "key": ADMIN, "scopes": ["write"]}]),
    }
    settings, key = build_settings(None, env=env)
    assert key is None and [k.key.get_secret_value() for k in settings.keys] == [ADMIN]


def test_source_and_config_do_not_mix(tmp_path, slack_export_dir):
    config = tmp_path / "teamrec.toml"
    config.write_text('[teams.demo]\nformat = "demo"\n')
    with pytest.raises(ConfigError, match="not both"):
        build_settings(slack_export_dir, config=config, env={})
    with pytest.raises(ConfigError, match="set teams in the file"):
        build_settings(None, config=config, algorithm="user-knn", env={})
    settings, key = build_settings(None, config=config, port=8111, env={})
    assert key is None and settings.port == 8111 and list(settings.teams) == ["demo"]
    config.write_text("port = 8000\n")
    with pytest.raises(ConfigError, match="no team"):
        build_settings(None, config=config, env={})


def test_help_lists_both_commands(capsys):
    assert main(["serve", "--help"]) == 0
    assert "demo workspace" in capsys.readouterr().out
    assert main(["retrain", "--help"]) == 0
    assert "--offline" in capsys.readouterr().out


# -- bad input is one line and exit status 2 --------------------------------------------------------
def test_a_bad_source_stops_before_listening(tmp_path, capsys):
    code = main(["serve", str(tmp_path / "missing"), "--format", "slack-export", "--port", "0",
                 "--database", "memory:"])
    err = capsys.readouterr().err
    assert code == 2 and "no such file or folder" in err and "Traceback" not in err


def test_a_weak_key_is_refused_in_production(tmp_path, capsys, monkeypatch, slack_export_dir):
    monkeypatch.setenv("TEAMREC_ADMIN_KEY", "changethis")
    code = main(["serve", str(slack_export_dir), "--format", "slack-export", "--port", "0", "--database", "memory:"])
    assert code == 2 and "strong secret" in capsys.readouterr().err


def test_retrain_without_a_service(capsys):
    code = main(["retrain", "demo", "--url", "http://127.0.0.1:9", "--key", ADMIN])
    err = capsys.readouterr().err
    assert code == 2 and "no teamrec service at" in err and "Traceback" not in err


# -- a real server ------------------------------------------------------------------------------------
@pytest.mark.slow
def test_serve_the_slack_export_and_retrain_it(tmp_path, slack_export_dir, capsys):
    db = tmp_path / "events.sqlite3"
    proc, url, lines = start([str(slack_export_dir), "--format", "slack-export", "--name", "slack",
                              "--port", "0", "--database", str(db)], {"TEAMREC_ADMIN_KEY": ADMIN})
    try:
        assert lines[0].startswith("teamrec: serving slack (51 people, 38 channels) at http://127.0.0.1:")
        assert lines[-1] == f"teamrec: admin key (ingest, retrain): {ADMIN}"
        assert httpx.get(f"{url}/health").json()["status"] == "ok"  # ready when the URL is printed
        recs = httpx.get(f"{url}/api/v1/teams/slack/people/Rachel Mann/recommendations", params={"k": 3}).json()
        assert [r["name"] for r in recs["results"]] == ["dsa-sql", "all-de-week12", "all-ml-week12"]
        assert "<title>teamrec</title>" in httpx.get(url + "/").text

        # Ingest a membership, then retrain from the command line: the new model knows it.
        batch = {"events": [{"user": "U03T89ACUUW", "item": "C-new-channel", "kind": "member"}]}
        assert (
            httpx.post(f"{url}/api/v1/teams/slack/events", json=batch, headers={"X-API-Key": ADMIN}).status_code == 201
        )
        capsys.readouterr()
        assert main(["retrain", "--url", url, "--key", ADMIN, "--json"]) == 0  # the only team
        summary = json.loads(capsys.readouterr().out)
        assert summary["model_version"] == 2 and summary["items"] == 39
        assert summary["events"]["store"] == 1
        assert main(["retrain", "slack", "--url", url, "--key", ADMIN]) == 0
        assert "model version 3 in service" in capsys.readouterr().out

        assert main(["retrain", "slack", "--url", url, "--key", "wrong-key-0123456789"]) == 2
        assert "401 invalid API key" in capsys.readouterr().err
        assert main(["retrain", "other", "--url", url, "--key", ADMIN]) == 2
        assert "403 this key belongs to another team" in capsys.readouterr().err
    finally:
        stop(proc)
    store = SQLiteEventStore(db)  # the ingested event outlived the server
    assert store.count("slack") == 1
    store.close()


@pytest.mark.slow
def test_the_readmes_first_command_serves_the_demo(tmp_path):
    proc, url, lines = start(["--port", "0"], {"XDG_DATA_HOME": str(tmp_path)})
    try:
        assert "serving demo (200 people, 64 channels)" in lines[0]
        assert httpx.get(f"{url}/health").json() == {"status": "ok", "version": "0.1.0", "teams": 1}
        similar = httpx.get(f"{url}/api/v1/teams/demo/items/ml/similar", params={"k": 1}).json()
        assert similar["results"][0]["reason"] == "22 of the 35 people in #ml are also in #recsys"
    finally:
        stop(proc)
    assert (tmp_path / "teamrec" / "demo.sqlite3").exists()


def test_offline_retrain_saves_the_model_the_service_loads(tmp_path, slack_export_dir, capsys):
    config = tmp_path / "teamrec.toml"
    config.write_text(
        f'database = "events.sqlite3"\n'
        f'[teams.slack]\nsource = "{slack_export_dir}"\nformat = "slack-export"\nmodel_dir = "models/slack"\n'
    )
    store = SQLiteEventStore(tmp_path / "events.sqlite3")
    import pandas as pd

    store.append("slack", pd.DataFrame({"user": ["U03T89ACUUW"], "item": ["C-offline"], "kind": ["member"],
                                        "value": [1.0], "timestamp": [float("nan")]}))
    store.close()
    assert main(["retrain", "--offline", "--config", str(config), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["items"] == 39 and summary["events"] == {"source": 2904, "store": 1}
    assert (tmp_path / "models" / "slack" / "team.json").exists()
    # A second retrain replaces the folder whole.
    assert main(["retrain", "slack", "--offline", "--config", str(config)]) == 0
    assert "saved to" in capsys.readouterr().out

    from teamrec.service import create_app, load_settings

    with _client(create_app(load_settings(config, env={}))) as client:
        info = client.get("/api/v1/teams/slack/model").json()
        assert info["format"] == "saved model" and info["items"] == 39


def _client(app):
    import warnings

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*starlette.testclient.*")
        from fastapi.testclient import TestClient
    return TestClient(app)


def test_offline_retrain_needs_a_config_and_a_model_dir(tmp_path, capsys):
    assert main(["retrain", "--offline"]) == 2
    assert "--offline needs --config" in capsys.readouterr().err
    config = tmp_path / "teamrec.toml"
    config.write_text('[teams.demo]\nformat = "demo"\n')
    assert main(["retrain", "--offline", "--config", str(config)]) == 2
    assert "no model_dir" in capsys.readouterr().err


def test_serve_takes_the_reader_options_of_recommend(tmp_path):
    """Issue 10: ``teamrec serve t.csv --format csv --column user=personId ...`` works like
    ``teamrec recommend`` (one team spec), and the options land in the team's settings."""
    import pandas as pd

    path = tmp_path / "t.csv"
    pd.DataFrame({"personId": ["a", "a", "b", "c"], "contentId": ["x", "y", "x", "y"],
                  "eventType": ["VIEW", "LIKE", "VIEW", "VIEW"]}).to_csv(path, index=False)
    reader = {"columns": ["user=personId", "item=contentId", "kind=eventType"], "kind_value": ["LIKE=4"],
              "log1p": True}
    settings, _ = build_settings(path, fmt="csv", env={"XDG_DATA_HOME": str(tmp_path)}, reader=reader)
    team = settings.teams["t.csv"]
    assert team.options == {"columns": {"user": "personId", "item": "contentId", "kind": "eventType"}}
    assert team.kind_values == {"LIKE": 4.0} and team.matrix == {"log1p": True}
    from teamrec.spec import build_team

    model = build_team(team.spec, team="t.csv")
    assert model.data.n_users == 3 and model.data.matrix.max() == pytest.approx(math.log1p(4.0))
    with pytest.raises(ConfigError, match="with --config"):
        build_settings(None, config=tmp_path / "x.toml", reader={"log1p": True})
