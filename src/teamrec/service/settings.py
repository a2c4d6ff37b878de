"""The service's settings: one TOML file, environment variables over it, validated once.

A settings file (``teamrec serve --config teamrec.toml``, or ``TEAMREC_CONFIG``)::

    mode = "production"          # or "development": weak keys are then only a warning
    host = "127.0.0.1"
    port = 8000
    database = "events.sqlite3"  # the event store: a SQLite path, sqlite:///PATH or memory:
    read_keys = false            # true: reading needs a key too (writing and admin always do)

    [teams.acme]                 # the team's name in URLs: /api/v1/teams/acme/...
    source = "../shared/data/slack-export-sample"
    format = "slack-export"
    algorithm = "item-knn"
    params = { neighbors = 50 }
    matrix = { kinds = ["member"] }   # over the format's defaults
    options = { columns = { user = "personId" } }  # reader options (csv/jsonl/parquet columns ...)
    kind_values = { VIEW = 1.0 }      # every event of a kind gets this value
    model_dir = "models/acme"         # load a saved model at start; retrains are saved here

    [online]                     # events reach models at once (fold-in); snapshots refresh:
    refit_events = 1000          #   after this many new events per team (0: never)
    refit_seconds = 300          #   or when events have waited this long
    retrain_seconds = 86400      #   and a full retrain on this schedule (default: none)
    catch_up_seconds = 1.0       # events stored by other processes (shared PostgreSQL) reach
                                 #   answers within this delay (0: read on every request)

    [teams.acme.feedback_events]      # which feedback actions are learning events, as what
    join = { kind = "member" }        # (defaults per format: see DEFAULT_FEEDBACK_EVENTS)

    [impressions]                # every recommendation's shown items, logged off the request path:
    flush_ms = 50                #   written in one commit at least this often (0: on the request path)
    flush_rows = 5000            #   or sooner when this many rows wait
    max_rows = 100000            #   buffered at most; past it a request writes its own rows

    [[experiments]]              # served side by side (docs/experiments.md)
    name = "knn-vs-popularity"
    start = 2026-12-01T00:00:00Z
    arms = [{ name = "control", algorithm = "popularity" }, { name = "knn", algorithm = "item-knn" }]

    [[keys]]
    team = "acme"
    scopes = ["admin"]           # read < write < admin: each includes the ones before it
    key_env = "ACME_ADMIN_KEY"   # or key = "..." (not in a file you commit)

    [batch]                      # optional: serve every team of a `teamrec batch` output too
    path = "batch-out"           #   models/team=T/ under it; loaded on first request,
    max_teams_loaded = 200       #   the least recently used dropped beyond this many

    [slack]                      # optional: serve the Slack app at /slack/* (docs/slack.md)
    team = "acme"

Relative paths are relative to the file. Every top-level setting can be overridden by an
environment variable ``TEAMREC_<NAME>`` (``TEAMREC_PORT=9000``, ``TEAMREC_DATABASE=...``,
``TEAMREC_MODE``, ``TEAMREC_READ_KEYS=true``), and nested ones with ``__`` between the parts
(``TEAMREC_TEAMS__ACME__ALGORITHM=user-knn``); values are read as JSON when they parse
(``TEAMREC_KEYS='[{"team": "acme", "key": "...", "scopes": ["write"]}]'``), else as text.

Outside development mode, settings refuse empty, well-known or short (< 16 characters) keys
and keys shared between teams: a key belongs to exactly one team.
"""

from __future__ import annotations

import json
import logging
import os
import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from teamrec.errors import ConfigError
from teamrec.experiments.settings import Experiment, describe
from teamrec.integrations.slack.settings import SlackSettings
from teamrec.spec import TeamSpec

log = logging.getLogger(__name__)

ENV_PREFIX = "TEAMREC_"
TEAM_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
#: Secrets that templates and tutorials ship with; never acceptable outside development.
WEAK_SECRETS = frozenset(
    {"", "changethis", "changeme", "change-me", "secret", "password", "admin", "key", "apikey",
     "api-key", "test", "demo", "teamrec", "default", "1234", "12345678"}
)
MIN_SECRET_LENGTH = 16
SCOPES = ("read", "write", "admin")

Scope = Literal["read", "write", "admin"]


def default_database(env: Mapping[str, str] | None = None) -> str:
    """Where events are stored unless told: ``$XDG_DATA_HOME/teamrec/events.sqlite3``."""
    env = os.environ if env is None else env
    base = Path(env.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
    return str(base / "teamrec" / "events.sqlite3")


class FeedbackEvent(BaseModel):
    """The learning event a feedback action is stored as (``value`` its strength)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: str = Field(min_length=1, max_length=64)
    value: float = 1.0


#: Which feedback actions are learning events, per source format (``"*"``: any other format).
#: A join or a rating changes the person's recommendations at once; a click only where it is
#: what the data call an interaction (Deskdrop's VIEW); a dismiss is always the ``dismiss``
#: event (never recommended again), whatever the settings say.
DEFAULT_FEEDBACK_EVENTS: dict[str, dict[str, FeedbackEvent]] = {
    "slack-export": {"join": FeedbackEvent(kind="member"), "rate_up": FeedbackEvent(kind="reaction")},
    "demo": {"join": FeedbackEvent(kind="member"), "rate_up": FeedbackEvent(kind="reaction")},
    "movielens": {"join": FeedbackEvent(kind="rating", value=4.0), "rate_up": FeedbackEvent(kind="rating", value=5.0),
                  "rate_down": FeedbackEvent(kind="rating", value=1.0)},
    "deskdrop": {"click": FeedbackEvent(kind="VIEW"), "join": FeedbackEvent(kind="FOLLOW"),
                 "rate_up": FeedbackEvent(kind="LIKE")},
    "*": {"join": FeedbackEvent(kind="join"), "rate_up": FeedbackEvent(kind="rate_up"),
          "rate_down": FeedbackEvent(kind="rate_down", value=-1.0)},
}
FEEDBACK_ACTION_NAMES = ("click", "join", "dismiss", "rate_up", "rate_down")


class TeamSettings(TeamSpec):
    """One team of the service: its :class:`~teamrec.spec.TeamSpec` (source, reader options,
    matrix, algorithm) plus where its model is saved. Every reader option works here::

        [teams.news]
        source = "shared_articles_and_interactions.csv"
        format = "csv"
        options = { columns = { user = "personId", item = "contentId", kind = "eventType" } }
        kind_values = { VIEW = 1, LIKE = 2, FOLLOW = 3 }
    """

    model_dir: str | None = Field(None, description="saved model to load at start; retrains are saved here")
    feedback_events: dict[str, FeedbackEvent | None] | None = Field(
        None, description="feedback action -> the learning event it is stored as (null: none); default per format"
    )
    impression_kind: str | None = Field(
        None, description="store every shown item as a learning event of this kind too (default: impressions "
                          "are not interactions)",
    )

    @field_validator("feedback_events")
    @classmethod
    def _feedback_actions(cls, value: dict[str, FeedbackEvent | None] | None) -> dict | None:
        unknown = sorted(set(value or {}) - set(FEEDBACK_ACTION_NAMES) | ({"dismiss"} & set(value or {})))
        if unknown:
            raise ValueError(f"feedback_events: {', '.join(unknown)} cannot be set (settable: click, join, "
                             "rate_up, rate_down; dismiss is always the dismiss event)")
        return value

    def feedback_event(self, action: str, fmt: str | None = None) -> FeedbackEvent | None:
        """The learning event ``action`` is stored as for this team (None: not a learning event)."""
        if self.feedback_events is not None and action in self.feedback_events:
            return self.feedback_events[action]
        fmt = fmt or self.format or "*"
        return DEFAULT_FEEDBACK_EVENTS.get(fmt, DEFAULT_FEEDBACK_EVENTS["*"]).get(action)

    @model_validator(mode="after")
    def _has_data(self) -> TeamSettings:
        if self.format != "demo" and self.source is None and self.model_dir is None:
            raise ValueError("a team needs a source (with its format), format = 'demo', or a model_dir")
        return self

    @property
    def spec(self) -> TeamSpec:
        """The team's spec alone (what the team builder reads)."""
        return TeamSpec.model_validate(self.model_dump(exclude={"model_dir", "feedback_events", "impression_kind"}))


class KeySettings(BaseModel):
    """An API key: the team it belongs to and what it may do there."""

    model_config = ConfigDict(extra="forbid")

    team: str
    key: SecretStr = Field(SecretStr(""), description="the secret (or give key_env)")
    key_env: str | None = Field(None, description="name of an environment variable holding the secret")
    scopes: tuple[Scope, ...] = ("read",)
    name: str | None = Field(None, description="a label for logs (the secret never is logged)")

    def allows(self, scope: Scope) -> bool:
        """Whether this key may ``scope``: admin includes write, write includes read."""
        return any(SCOPES.index(s) >= SCOPES.index(scope) for s in self.scopes)

    @property
    def label(self) -> str:
        return self.name or f"{self.team}:{'+'.join(self.scopes)}"


class OnlineSettings(BaseModel):
    """How events reach the models: at once through fold-in, and by background refits."""

    model_config = ConfigDict(extra="forbid")

    refit_events: int = Field(1000, ge=0, description="background refit after this many new events (0: never)")
    refit_seconds: float | None = Field(300.0, gt=0, description="refit when events waited this long (None: never)")
    retrain_seconds: float | None = Field(None, gt=0, description="full retrain on this schedule (None: never)")
    catch_up_seconds: float = Field(
        1.0, ge=0,
        description="a request reads events other processes stored when the last read is older (0: every request)",
    )


class ImpressionLogSettings(BaseModel):
    """How impressions reach a durable log (SQLite, PostgreSQL): buffered and group-committed by
    a background thread, off the request path (:mod:`teamrec.store.buffered_feedback`)."""

    model_config = ConfigDict(extra="forbid")

    flush_ms: float = Field(
        50.0, ge=0, description="impressions are written (one commit) at least this often; 0: on the request path",
    )
    flush_rows: int = Field(5_000, ge=1, description="write sooner when this many rows wait")
    max_rows: int = Field(100_000, ge=1, description="rows buffered at most; past it a request writes its own")

    @model_validator(mode="after")
    def _bounds(self) -> ImpressionLogSettings:
        if self.max_rows < self.flush_rows:
            raise ValueError(f"max_rows ({self.max_rows}) must be at least flush_rows ({self.flush_rows})")
        return self


class BatchServingSettings(BaseModel):
    """Teams served from a ``teamrec batch`` output folder (each team's saved model under
    ``PATH/models/team=T``): loaded on a team's first request, the least recently used
    dropped beyond ``max_teams_loaded``, so thousands of teams are served in bounded memory."""

    model_config = ConfigDict(extra="forbid")

    path: str = Field(description="the batch output folder (teamrec batch ... --out PATH)")
    max_teams_loaded: int = Field(200, ge=1, description="models kept in memory at most (least recently used go)")
    teams: list[str] | None = Field(None, description="serve only these teams of the folder (default: every one)")


class Settings(BaseModel):
    """Everything the service needs, validated once at start."""

    model_config = ConfigDict(extra="forbid")

    mode: Literal["development", "production"] = "production"
    host: str = "127.0.0.1"
    port: int = Field(8000, ge=0, le=65535)
    database: str = Field(default_factory=default_database)
    read_keys: bool = Field(False, description="reading needs a key too")
    access_log: bool = True
    max_body_bytes: int = Field(
        8 * 1024 * 1024, ge=1024,
        description="the largest request body accepted (413 past it, counted while it streams in)",
    )
    max_url_bytes: int = Field(8192, ge=256, description="the longest path and query accepted (414 past it)")
    teams: dict[str, TeamSettings] = Field(default_factory=dict)
    keys: list[KeySettings] = Field(default_factory=list)
    online: OnlineSettings = Field(default_factory=OnlineSettings)
    impressions: ImpressionLogSettings = Field(default_factory=ImpressionLogSettings)
    experiments: tuple[Experiment, ...] = Field((), description="[[experiments]]: arms served side by side")
    batch: BatchServingSettings | None = Field(None, description="[batch]: also serve the teams of a batch output")

    @field_validator("experiments")
    @classmethod
    def _experiment_names(cls, value: tuple[Experiment, ...]) -> tuple[Experiment, ...]:
        names = [e.name for e in value]
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            raise ValueError(f"experiment names must be unique; repeated: {', '.join(repeated)}")
        return value
    slack: SlackSettings | None = Field(None, description="the Slack app for one team (see docs/slack.md)")

    @model_validator(mode="after")
    def _slack_team(self) -> Settings:
        if self.slack is not None and self.slack.team not in self.teams:
            raise ValueError(f"slack.team {self.slack.team!r} is not a configured team")
        return self

    @field_validator("teams")
    @classmethod
    def _team_names(cls, teams: dict[str, TeamSettings]) -> dict[str, TeamSettings]:
        for name in teams:
            if not TEAM_NAME.match(name):
                raise ValueError(f"team name {name!r}: use letters, digits, '.', '_' or '-' (at most 64)")
        return teams

    @model_validator(mode="after")
    def _check_keys(self, info: ValidationInfo) -> Settings:
        # The variables a key_env names: load_settings(env=...) passes its own mapping.
        env = (info.context or {}).get("env", os.environ)
        seen: dict[str, str] = {}
        for entry in self.keys:
            if entry.key_env is not None and not entry.key.get_secret_value():
                entry.key = SecretStr(env.get(entry.key_env, ""))
            secret = entry.key.get_secret_value()
            if entry.team not in self.teams and not self.serves_batch_team(entry.team):
                raise ValueError(f"key {entry.label!r} is for team {entry.team!r}, which is not configured")
            weak = secret.strip().lower() in WEAK_SECRETS or len(secret) < MIN_SECRET_LENGTH
            if weak:
                what = "empty" if not secret else "a default or too short (< 16 characters)"
                if self.mode != "development":
                    raise ValueError(
                        f"key {entry.label!r} is {what}; set a strong secret "
                        "(e.g. python -c 'import secrets; print(secrets.token_urlsafe(32))')"
                    )
                if not secret:
                    raise ValueError(f"key {entry.label!r} is empty")
                log.warning("key %s is %s: acceptable in development mode only", entry.label, what)
            if secret in seen and seen[secret] != entry.team:
                raise ValueError(f"one key is given to two teams ({seen[secret]!r} and {entry.team!r})")
            seen[secret] = entry.team
        return self

    def serves_batch_team(self, team: str) -> bool:
        """Whether ``team`` may be served from the batch output (it need not be there yet)."""
        if self.batch is None or team in self.teams or not TEAM_NAME.match(team):
            return False
        return self.batch.teams is None or team in self.batch.teams

    def keys_for(self, team: str) -> list[KeySettings]:
        return [k for k in self.keys if k.team == team]


def load_settings(
    path: str | os.PathLike[str] | None = None,
    *,
    env: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> Settings:
    """Settings from a TOML file (optional), then ``TEAMREC_*`` variables, then ``overrides``.

    Raises :class:`ConfigError` naming the file and the setting for anything invalid.
    """
    env = os.environ if env is None else env
    data: dict[str, Any] = {}
    where = "settings"
    if path is not None:
        file = Path(path)
        where = str(file)
        try:
            data = tomllib.loads(file.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ConfigError(f"{file}: no such settings file") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{file}: not valid TOML: {exc}") from None
        _resolve_paths(data, file.resolve().parent)
    _apply_env(data, env)
    for key, value in (overrides or {}).items():
        data[key] = value
    try:
        return Settings.model_validate(data, context={"env": env})
    except ValidationError as exc:
        raise ConfigError(f"{where}: {describe(exc)}") from None


def _resolve_paths(data: dict[str, Any], base: Path) -> None:
    def resolve(value: Any) -> Any:
        if isinstance(value, str) and value and "://" not in value and value not in ("memory:", ":memory:"):
            path = Path(value).expanduser()
            return str(path if path.is_absolute() else base / path)
        return value

    if "database" in data:
        data["database"] = resolve(data["database"])
    for team in (data.get("teams") or {}).values():
        if isinstance(team, dict):
            for key in ("source", "model_dir"):
                if key in team:
                    team[key] = resolve(team[key])
    batch = data.get("batch")
    if isinstance(batch, dict) and "path" in batch:
        batch["path"] = resolve(batch["path"])
    slack = data.get("slack")
    if isinstance(slack, dict) and "digest_state" in slack:
        slack["digest_state"] = resolve(slack["digest_state"])


def _apply_env(data: dict[str, Any], env: Mapping[str, str]) -> None:
    """``TEAMREC_A__B=value`` sets ``data[a][b]``; names that are not settings are ignored."""
    fields = set(Settings.model_fields)
    for name in sorted(env):
        if not name.startswith(ENV_PREFIX):
            continue
        parts = name[len(ENV_PREFIX):].split("__")
        top = parts[0].lower()
        if top not in fields:
            continue  # TEAMREC_CONFIG, TEAMREC_ADMIN_KEY ... are not settings
        value = _parse(env[name])
        if len(parts) == 1:
            data[top] = value
            continue
        node = data.setdefault(top, {})
        if not isinstance(node, dict):
            raise ConfigError(f"{name}: {top} is not a table")
        for i, part in enumerate(parts[1:], start=1):
            key = _match(node, part) if (top == "teams" and i == 1) else part.lower()
            if i == len(parts) - 1:
                node[key] = value
            else:
                node = node.setdefault(key, {})
                if not isinstance(node, dict):
                    raise ConfigError(f"{name}: {key} is not a table")


def _match(node: dict[str, Any], part: str) -> str:
    """A team name as the file spells it (environment names are often upper case)."""
    for key in node:
        if key.lower() == part.lower():
            return key
    return part.lower()


def _parse(raw: str) -> Any:
    try:
        return json.loads(raw)
    except json.JSONDecodeError:
        return raw
