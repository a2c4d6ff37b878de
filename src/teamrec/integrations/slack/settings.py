"""The Slack app's settings: the ``[slack]`` table of the service's settings file.

Plain pydantic, no Slack import, so the service reads its settings without the extra::

    [slack]
    team = "acme"                 # the teamrec team (a [teams.acme] table) this workspace feeds
    command = "/channels"         # the slash command (as in the manifest)
    k = 5                         # channels on App Home and in the command's answer
    people_k = 5                  # people like you on App Home (0: none)
    digest_state = "digest.sqlite3"   # who got a digest when, snoozes, opt-outs (default: in memory)
    [slack.digest]                # the digest's triggering rules (DigestSettings)
    min_days_between = 14
    rollout_share = 0.2

Secrets are never in the file: the bot token, the signing secret and (Socket Mode) the
app-level token come from ``SLACK_BOT_TOKEN``, ``SLACK_SIGNING_SECRET`` and ``SLACK_APP_TOKEN``
(or ``TEAMREC_SLACK__SIGNING_SECRET`` ...); they are :class:`~pydantic.SecretStr` and never logged.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, SecretStr

from teamrec.errors import ConfigError
from teamrec.integrations.slack.digest import DigestSettings

#: The environment variables each secret is read from.
SECRET_ENV = {"bot_token": "SLACK_BOT_TOKEN", "signing_secret": "SLACK_SIGNING_SECRET", "app_token": "SLACK_APP_TOKEN"}


class SlackSettings(BaseModel):
    """One workspace feeding one teamrec team (validated once; unknown keys refused)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    team: str = Field(..., min_length=1, description="the teamrec team this workspace feeds")
    bot_token: SecretStr | None = Field(default=None, description="xoxb- token (default: SLACK_BOT_TOKEN)")
    signing_secret: SecretStr | None = Field(default=None, description="default: SLACK_SIGNING_SECRET")
    app_token: SecretStr | None = Field(default=None, description="xapp- token, Socket Mode only (SLACK_APP_TOKEN)")
    command: str = Field(default="/channels", pattern=r"^/[a-z0-9_-]+$")
    k: int = Field(default=5, ge=1, le=20)
    people_k: int = Field(default=5, ge=0, le=20)
    digest: DigestSettings = Field(default_factory=DigestSettings)
    digest_state: str | None = Field(default=None, description="SQLite file of the digest state (None: in memory)")
    api_url: str | None = Field(default=None, description="Web API base URL (a proxy; the tests' mock)")

    def with_env(self, env: Mapping[str, str] | None = None) -> SlackSettings:
        """These settings with the secrets not given filled from the environment; a
        :class:`ConfigError` when the bot token or the signing secret is still missing."""
        env = os.environ if env is None else env
        found: dict[str, Any] = {}
        for name, variable in SECRET_ENV.items():
            if getattr(self, name) is None and env.get(variable):
                found[name] = SecretStr(env[variable])
        settings = self.model_copy(update=found)
        missing = [SECRET_ENV[n] for n in ("bot_token", "signing_secret") if getattr(settings, n) is None]
        if missing:
            raise ConfigError(f"{' and '.join(missing)} not set: the Slack app needs its bot token and signing secret")
        return settings

    @classmethod
    def from_env(cls, team: str, env: Mapping[str, str] | None = None, **overrides: Any) -> SlackSettings:
        """Settings for ``team`` with every secret from the environment."""
        return cls(team=team, **overrides).with_env(env)

    def secret(self, name: str) -> str:
        """A secret's value (``bot_token``, ``signing_secret``, ``app_token``); call after :meth:`with_env`."""
        value = getattr(self, name)
        if value is None:
            raise ConfigError(f"{SECRET_ENV[name]} not set")
        return value.get_secret_value()
