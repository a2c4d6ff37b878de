"""Settings: one TOML file, environment overrides, and no weak secrets outside development."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from teamrec.errors import ConfigError
from teamrec.service.settings import KeySettings, Settings, load_settings

STRONG = "s3cr3t-long-enough-key-1234"

TOML = f"""
mode = "production"
port = 8123
database = "data/events.sqlite3"
read_keys = true

[teams.acme]
source = "exports/acme"
format = "slack-export"
algorithm = "user-knn"
params = {{ neighbors = 20 }}
matrix = {{ kinds = ["member", "message"] }}
model_dir = "models/acme"

[teams.demo]
format = "demo"

[[keys]]
team = "acme"
key = "{STRONG}"
scopes = ["write"]

[[keys]]
team = "demo"
key_env = "DEMO_KEY_FOR_TEST"
scopes = ["admin"]
"""


@pytest.fixture
def config(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("DEMO_KEY_FOR_TEST", "another-long-secret-key-5678")
    path = tmp_path / "teamrec.toml"
    path.write_text(TOML)
    return path


#: The variable the TOML's key_env names, as load_settings(env=...) sees it.
KEY_ENV = {"DEMO_KEY_FOR_TEST": "another-long-secret-key-5678"}


def test_a_settings_file(config):
    settings = load_settings(config, env=KEY_ENV)
    assert settings.port == 8123 and settings.read_keys and settings.mode == "production"
    assert settings.database == str(config.parent / "data" / "events.sqlite3")  # relative to the file
    acme = settings.teams["acme"]
    assert acme.source == str(config.parent / "exports" / "acme")
    assert acme.model_dir == str(config.parent / "models" / "acme")
    assert acme.algorithm == "user-knn" and acme.params == {"neighbors": 20}
    assert acme.matrix == {"kinds": ["member", "message"]}
    assert settings.keys[1].key.get_secret_value() == "another-long-secret-key-5678"
    assert STRONG not in repr(settings)  # secrets do not print


def test_environment_overrides(config):
    env = {
        "TEAMREC_PORT": "9001",
        "TEAMREC_DATABASE": "/var/lib/teamrec/events.sqlite3",
        "TEAMREC_READ_KEYS": "false",
        "TEAMREC_TEAMS__ACME__ALGORITHM": "item-knn",
        "TEAMREC_TEAMS__ACME__PARAMS": '{"neighbors": 5}',
        "TEAMREC_TEAMS__NEWTEAM__FORMAT": "demo",
        "TEAMREC_CONFIG": "ignored: not a setting",
        "TEAMREC_ADMIN_KEY": "ignored too",
        **KEY_ENV,
    }
    settings = load_settings(config, env=env)
    assert settings.port == 9001 and not settings.read_keys
    assert settings.database == "/var/lib/teamrec/events.sqlite3"
    assert settings.teams["acme"].algorithm == "item-knn" and settings.teams["acme"].params == {"neighbors": 5}
    assert settings.teams["newteam"].format == "demo"


def test_keys_from_the_environment():
    env = {"TEAMREC_TEAMS__DEMO__FORMAT": "demo",
           "TEAMREC_KEYS": f'[{{"team": "demo", "key": "{STRONG}", "scopes": ["read", "write"]}}]'}
    settings = load_settings(None, env=env)
    assert settings.keys[0].allows("write") and not settings.keys[0].allows("admin")


def test_scopes_include_the_lesser_ones():
    admin = KeySettings(team="t", key=STRONG, scopes=("admin",))
    write = KeySettings(team="t", key=STRONG, scopes=("write",))
    read = KeySettings(team="t", key=STRONG)
    assert [admin.allows(s) for s in ("read", "write", "admin")] == [True, True, True]
    assert [write.allows(s) for s in ("read", "write", "admin")] == [True, True, False]
    assert [read.allows(s) for s in ("read", "write", "admin")] == [True, False, False]


@pytest.mark.parametrize("secret", ["", "changethis", "CHANGEME", "secret", "short-key"])
def test_weak_secrets_are_refused_outside_development(secret):
    data = {"teams": {"demo": {"format": "demo"}}, "keys": [{"team": "demo", "key": secret}]}
    with pytest.raises(ConfigError, match="strong secret"):
        load_settings(None, env={}, overrides=data)


def test_weak_secrets_only_warn_in_development(caplog):
    data = {
        "mode": "development",
        "teams": {"demo": {"format": "demo"}},
        "keys": [{"team": "demo", "key": "changethis"}],
    }
    with caplog.at_level(logging.WARNING, logger="teamrec.service.settings"):
        settings = load_settings(None, env={}, overrides=data)
    assert settings.mode == "development" and "development mode only" in caplog.text
    with pytest.raises(ConfigError, match="empty"):
        load_settings(None, env={}, overrides={**data, "keys": [{"team": "demo", "key": ""}]})


def test_key_env_reads_the_given_environment_else_the_process(config, monkeypatch):
    """env= is the whole environment: a key_env is looked up there, not in os.environ."""
    assert load_settings(config, env={"DEMO_KEY_FOR_TEST": "y" * 20}).keys[1].key.get_secret_value() == "y" * 20
    with pytest.raises(ConfigError, match="is empty"):
        load_settings(config, env={})
    # Without env=, the process environment (the fixture sets the variable there).
    assert load_settings(config).keys[1].key.get_secret_value() == "another-long-secret-key-5678"


def test_a_missing_key_env_is_an_empty_secret(monkeypatch):
    monkeypatch.delenv("NO_SUCH_VARIABLE", raising=False)
    data = {"teams": {"demo": {"format": "demo"}}, "keys": [{"team": "demo", "key_env": "NO_SUCH_VARIABLE"}]}
    with pytest.raises(ConfigError, match="empty"):
        load_settings(None, env={}, overrides=data)


@pytest.mark.parametrize(
    "data, message",
    [
        ({"teams": {"demo": {"format": "demo"}}, "keys": [{"team": "other", "key": STRONG}]}, "not configured"),
        ({"teams": {"a": {"format": "demo"}, "b": {"format": "demo"}},
          "keys": [{"team": "a", "key": STRONG}, {"team": "b", "key": STRONG}]}, "two teams"),
        ({"teams": {"bad name!": {"format": "demo"}}}, "team name"),
        ({"teams": {"t": {}}}, "needs a source"),
        ({"teams": {"t": {"format": "demo", "colour": "blue"}}}, "colour"),
        ({"port": 70000}, "port"),
        ({"mode": "yolo"}, "mode"),
        ({"keys": [{"team": "t", "key": STRONG, "scopes": ["root"]}], "teams": {"t": {"format": "demo"}}}, "scopes"),
    ],
)
def test_invalid_settings_name_the_setting(data, message):
    with pytest.raises(ConfigError, match=message):
        load_settings(None, env={}, overrides=data)


def test_file_errors(tmp_path):
    with pytest.raises(ConfigError, match="no such settings file"):
        load_settings(tmp_path / "missing.toml", env={})
    bad = tmp_path / "bad.toml"
    bad.write_text("port = [unclosed")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_settings(bad, env={})
    bad.write_text('port = "eighty"')
    with pytest.raises(ConfigError, match=r"bad.toml: port"):
        load_settings(bad, env={})


def test_defaults():
    settings = Settings()
    assert (settings.host, settings.port, settings.read_keys) == ("127.0.0.1", 8000, False)
    assert settings.database.endswith("teamrec/events.sqlite3") and settings.teams == {} and settings.keys == []
