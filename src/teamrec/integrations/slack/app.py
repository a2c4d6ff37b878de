"""The Bolt app: thin listeners over a :class:`~teamrec.integrations.slack.protocol.SlackService`.

=========================  ===============================================================
Slack sends                the app does
=========================  ===============================================================
app_home_opened (Home)     publishes the Home tab (views.publish): channels and people
the slash command          answers only the asker (ephemeral, through ``response_url``)
Join (button)              feedback ``click`` and ``join`` on that recommendation id; the
                           button is a link that opens the channel in the person's client
                           (a bot token cannot add a person to a channel; joining is theirs)
Not interested (button)    feedback ``dismiss``; the item is never shown to them again
Snooze / Stop (digest)     the digest state: snoozed for ``snooze_days``, or opted out
membership, messages,      translated (:mod:`.events`) and ingested at once; channel
reactions, channel events  metadata changes go to the service's item metadata; a join or
                           leave republishes that person's Home if this app showed it
=========================  ===============================================================

Every listener ``ack()``\\ s at once and does its work in a ``lazy`` listener (Bolt runs those
after the acknowledgement), so Slack gets its answer within 3 seconds whatever the service
costs. Bolt verifies every HTTP request with the signing secret and refuses bad signatures
and timestamps older than 5 minutes. Tokens are :class:`~pydantic.SecretStr` and never logged.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, SecretStr
from slack_bolt import App
from slack_sdk import WebClient

from teamrec.errors import ConfigError, TeamrecError
from teamrec.integrations.slack import blocks
from teamrec.integrations.slack.client import call, web_client
from teamrec.integrations.slack.digest import (
    DAY,
    DigestSettings,
    DigestState,
    digest_items,
    due,
    facts_frame,
    hashed_rollout,
)
from teamrec.integrations.slack.events import EVENT_TYPES, translate
from teamrec.integrations.slack.protocol import SlackService

log = logging.getLogger(__name__)


class SlackSettings(BaseModel):
    """The Slack app's settings (secrets from the environment; see :meth:`from_env`)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    team: str = Field(..., min_length=1, description="the teamrec team this workspace feeds")
    bot_token: SecretStr
    signing_secret: SecretStr
    app_token: SecretStr | None = Field(default=None, description="xapp- token, for Socket Mode only")
    command: str = Field(default="/channels", pattern=r"^/[a-z0-9_-]+$")
    k: int = Field(default=5, ge=1, le=20)
    people_k: int = Field(default=5, ge=0, le=20)
    digest: DigestSettings = Field(default_factory=DigestSettings)

    @classmethod
    def from_env(cls, team: str, env: dict[str, str] | None = None, **overrides: Any) -> SlackSettings:
        """Secrets from ``SLACK_BOT_TOKEN``, ``SLACK_SIGNING_SECRET`` and (Socket Mode) ``SLACK_APP_TOKEN``."""
        env = dict(os.environ if env is None else env)
        missing = [k for k in ("SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET") if not env.get(k)]
        if missing:
            raise ConfigError(f"{' and '.join(missing)} not set: the Slack app needs its bot token and signing secret")
        app_token = env.get("SLACK_APP_TOKEN")
        return cls(team=team, bot_token=SecretStr(env["SLACK_BOT_TOKEN"]),
                   signing_secret=SecretStr(env["SLACK_SIGNING_SECRET"]),
                   app_token=SecretStr(app_token) if app_token else None, **overrides)


def create_slack_app(
    settings: SlackSettings,
    service: SlackService,
    client: WebClient | None = None,
    *,
    digest_state: DigestState | None = None,
) -> App:
    """The Bolt app for one workspace feeding ``settings.team``.

    ``client`` replaces the Web API client (tests point one at a mock server); by default one
    with the bot token and rate-limit retries.
    """
    client = client or web_client(settings.bot_token.get_secret_value())
    app = App(client=client, signing_secret=settings.signing_secret.get_secret_value(),
              token_verification_enabled=False, logger=logging.getLogger("teamrec.slack.bolt"))
    state = digest_state or DigestState()
    team = settings.team
    app._teamrec = {"service": service, "digest_state": state}  # type: ignore[attr-defined]

    home_users: set[str] = set()  # people whose Home this process has published: kept fresh

    def publish_home(user: str, team_id: str | None, api: WebClient) -> None:
        answer = service.recommend(team, user, settings.k, surface="slack_home")
        people = service.people(team, user, settings.people_k) if settings.people_k else []
        view = blocks.home_view(answer, people, team_id=team_id)
        call(api, "views.publish", user_id=user, view=view)
        home_users.add(user)

    def just_ack(ack: Callable[..., None]) -> None:
        ack()

    # -- App Home ---------------------------------------------------------------------------
    def on_home_opened(event: dict[str, Any], context: Any, client: WebClient) -> None:
        if event.get("tab", "home") != "home":
            return
        _guarded("app_home_opened", lambda: publish_home(event["user"], context.team_id, client))

    app.event("app_home_opened")(ack=just_ack, lazy=[on_home_opened])

    # -- the slash command -------------------------------------------------------------------
    def command_answer(body: dict[str, Any], respond: Callable[..., Any], context: Any) -> None:
        def work() -> None:
            answer = service.recommend(team, body["user_id"], settings.k, surface="slack_command")
            respond(**blocks.command_message(answer, team_id=context.team_id))

        _guarded("command", work, respond)

    app.command(settings.command)(ack=just_ack, lazy=[command_answer])

    # -- buttons ---------------------------------------------------------------------------
    def on_feedback(actions: list[str]) -> Callable[..., None]:
        def handler(body: dict[str, Any], action: dict[str, Any], respond: Callable[..., Any], context: Any,
                    client: WebClient) -> None:
            user = body["user"]["id"]

            def work() -> None:
                recommendation_id, item = blocks.parse_button_value(action["value"])
                for what in actions:
                    service.feedback(team, user, recommendation_id, item, what)  # type: ignore[arg-type]
                if (body.get("view") or {}).get("type") == "home":
                    publish_home(user, context.team_id, client)
                elif "dismiss" in actions:
                    respond(**blocks.notice(f"Got it: you will not see {blocks.channel(item)} again."))

            _guarded(action["action_id"], work, respond if body.get("response_url") else None)

        return handler

    app.action(blocks.JOIN)(ack=just_ack, lazy=[on_feedback(["click", "join"])])
    app.action(blocks.DISMISS)(ack=just_ack, lazy=[on_feedback(["dismiss"])])

    def on_snooze(body: dict[str, Any], respond: Callable[..., Any]) -> None:
        days = settings.digest.snooze_days
        state.snooze(team, body["user"]["id"], time.time() + days * DAY)
        respond(**blocks.notice(f"Snoozed: no channel suggestions for {days} days."))

    def on_opt_out(body: dict[str, Any], respond: Callable[..., Any]) -> None:
        state.opt_out(team, body["user"]["id"])
        respond(**blocks.notice("Done: you will get no more channel suggestions by message."))

    app.action(blocks.SNOOZE)(ack=just_ack, lazy=[on_snooze])
    app.action(blocks.OPT_OUT)(ack=just_ack, lazy=[on_opt_out])

    # -- workspace events -> teamrec events --------------------------------------------------
    def on_workspace_event(event: dict[str, Any], context: Any, client: WebClient) -> None:
        def work() -> None:
            change = translate(event, team)
            if change.items is not None:
                service.update_items(team, change.items)
            if len(change.events):
                result = service.ingest(team, change.events, batch_id=_event_batch_id(event))
                user = str(change.events["user"].iloc[0])
                # A join or a leave changes that person's suggestions at once: refresh their Home.
                if (not result.duplicate and user in home_users
                        and event.get("type") in ("member_joined_channel", "member_left_channel")):
                    publish_home(user, context.team_id, client)

        _guarded(event.get("type", "event"), work)

    for kind in EVENT_TYPES:
        if kind != "app_home_opened":
            app.event(kind)(ack=just_ack, lazy=[on_workspace_event])
    return app


def _event_batch_id(event: dict[str, Any]) -> str:
    """Slack retries deliveries; the same event gets the same batch id, so it is stored once."""
    channel = event.get("channel")
    channel_id = channel.get("id") if isinstance(channel, dict) else channel
    item: dict[str, Any] = event["item"] if isinstance(event.get("item"), dict) else {}
    parts = [event.get("type"), event.get("user"), channel_id or item.get("channel"), event.get("event_ts")
             or event.get("ts"), event.get("reaction")]
    return "slack-event:" + ":".join(str(p) for p in parts if p)


def _guarded(what: str, work: Callable[[], None], respond: Callable[..., Any] | None = None) -> None:
    """Run a listener's work; teamrec's own errors become a log line (and a notice to the person)."""
    try:
        work()
    except TeamrecError as exc:
        log.warning("slack %s: %s", what, exc)
        if respond is not None:
            respond(**blocks.notice(f"Sorry, that did not work: {exc}"))


def send_digests(
    client: WebClient,
    service: SlackService,
    settings: SlackSettings,
    state: DigestState,
    people: list[str],
    *,
    now: float | None = None,
    in_rollout: Callable[[str], bool] | None = None,
    team_id: str | None = None,
) -> dict[str, str]:
    """Send the digest to each of ``people`` the rules allow; returns what happened per person
    (``"sent"`` or the rule that stopped it, see :data:`~teamrec.integrations.slack.digest.REASONS`)."""
    now = time.time() if now is None else now
    rules = settings.digest
    team = settings.team
    rollout = (in_rollout or hashed_rollout(rules))(team)
    facts = service.person_facts(team, people)
    verdict = due(facts_frame(facts, state.get(team, people)), rules, now, in_rollout=rollout)
    outcome = dict(zip(verdict["user"], verdict["blocked_by"], strict=True))
    by_user = {f.user: f for f in facts}
    for user in verdict.loc[verdict["due"], "user"]:
        asked = service.recommend(team, user, max(rules.k * 3, settings.k), surface="slack_digest")
        answer, why_not = digest_items(asked, by_user[user], rules)
        if answer is None:
            outcome[user] = why_not
            continue
        message = blocks.digest_message(answer, team_id=team_id, snooze_days=rules.snooze_days)
        call(client, "chat.postMessage", channel=user, **message)
        state.sent(team, user, now)
        outcome[user] = "sent"
    return outcome
