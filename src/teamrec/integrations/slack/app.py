"""The Bolt app: thin listeners over the team's service (:class:`~teamrec.integrations.slack.team.SlackTeam`).

=========================  ===============================================================
Slack sends                the app does
=========================  ===============================================================
app_home_opened (Home)     publishes the Home tab (views.publish): channels and people
the slash command          answers only the asker (ephemeral, through ``response_url``)
Join (button)              feedback ``click`` and ``join`` on that recommendation id (the
                           service stores the join as a ``member`` event at once); the
                           button is a link that opens the channel in the person's client
                           (a bot token cannot add a person to a channel; joining is theirs)
Not interested (button)    feedback ``dismiss``; the item is never shown to them again
Snooze / Stop (digest)     the digest state: snoozed for ``snooze_days``, or opted out
membership, messages,      translated (:mod:`.events`) and ingested at once; channel
reactions, channel events  metadata changes go to the team's metadata folder (retrain); a
                           join or leave republishes that person's Home if this app showed it
=========================  ===============================================================

Every listener ``ack()``\\ s at once and does its work in a ``lazy`` listener (Bolt runs those
after the acknowledgement), so Slack gets its answer within 3 seconds whatever the service
costs. Bolt verifies every HTTP request with the signing secret and refuses bad signatures
and timestamps older than 5 minutes. Tokens are :class:`~pydantic.SecretStr` and never logged.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from slack_bolt import App
from slack_sdk import WebClient

from teamrec.errors import TeamrecError
from teamrec.integrations.slack import blocks
from teamrec.integrations.slack.client import call, web_client
from teamrec.integrations.slack.digest import DAY, DigestState, digest_items, digest_rollout, due, facts_frame
from teamrec.integrations.slack.events import EVENT_TYPES, translate
from teamrec.integrations.slack.settings import SlackSettings
from teamrec.integrations.slack.team import COMMAND, DIGEST, HOME, SlackTeam

log = logging.getLogger(__name__)


def slack_client(settings: SlackSettings) -> WebClient:
    """The Web API client of ``settings`` (bot token, rate-limit retries, ``api_url``)."""
    return web_client(settings.secret("bot_token"), base_url=settings.api_url)


def create_slack_app(
    settings: SlackSettings,
    team: SlackTeam,
    client: WebClient | None = None,
    *,
    digest_state: DigestState | None = None,
) -> App:
    """The Bolt app for one workspace feeding ``team`` (``settings`` with its secrets, see
    :meth:`SlackSettings.with_env`). ``client`` replaces the Web API client of the settings."""
    client = client or slack_client(settings)
    app = App(client=client, signing_secret=settings.secret("signing_secret"),
              token_verification_enabled=False, logger=logging.getLogger("teamrec.slack.bolt"))
    state = digest_state or DigestState(settings.digest_state or ":memory:")
    app._teamrec = {"team": team, "digest_state": state}  # type: ignore[attr-defined]

    home_users: set[str] = set()  # people whose Home this process has published: kept fresh

    def publish_home(user: str, team_id: str | None, api: WebClient) -> None:
        answer = team.recommend(user, settings.k, surface=HOME)
        people = team.people(user, settings.people_k)
        view = blocks.home_view(answer, people, surface=HOME, team_id=team_id)
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
            answer = team.recommend(body["user_id"], settings.k, surface=COMMAND)
            respond(**blocks.command_message(answer, surface=COMMAND, team_id=context.team_id))

        _guarded("command", work, respond)

    app.command(settings.command)(ack=just_ack, lazy=[command_answer])

    # -- buttons: feedback on the answer they were shown in ---------------------------------------
    def on_feedback(actions: list[str]) -> Callable[..., None]:
        def handler(body: dict[str, Any], action: dict[str, Any], respond: Callable[..., Any], context: Any,
                    client: WebClient) -> None:
            user = body["user"]["id"]

            def work() -> None:
                recommendation_id, item, surface = blocks.parse_button_value(action["value"])
                for what in actions:
                    team.feedback(user, recommendation_id, item, what, surface)
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
        state.snooze(team.name, body["user"]["id"], time.time() + days * DAY)
        respond(**blocks.notice(f"Snoozed: no channel suggestions for {days} days."))

    def on_opt_out(body: dict[str, Any], respond: Callable[..., Any]) -> None:
        state.opt_out(team.name, body["user"]["id"])
        respond(**blocks.notice("Done: you will get no more channel suggestions by message."))

    app.action(blocks.SNOOZE)(ack=just_ack, lazy=[on_snooze])
    app.action(blocks.OPT_OUT)(ack=just_ack, lazy=[on_opt_out])

    # -- workspace events -> the team's events and metadata ----------------------------------------
    def on_workspace_event(event: dict[str, Any], context: Any, client: WebClient) -> None:
        def work() -> None:
            change = translate(event, team.name)
            if change.items is not None:
                team.update_channels(change.items.drop(columns=["team"]))
            if len(change.events):
                result = team.ingest(change.events, batch_id=_event_batch_id(event))
                user = str(change.events["user"].iloc[0])
                # A join or a leave changes that person's suggestions at once: refresh their Home.
                if (not result.stored.duplicate and user in home_users
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
    team: SlackTeam,
    settings: SlackSettings,
    state: DigestState,
    people: list[str],
    *,
    now: float | None = None,
    in_rollout: Callable[[str], bool] | None = None,
    team_id: str | None = None,
) -> dict[str, str]:
    """Send the digest to each of ``people`` the rules allow; returns what happened per person
    (``"sent"`` or the rule that stopped it, see :data:`~teamrec.integrations.slack.digest.REASONS`).
    The rollout is the experiment assignment's team draw (:func:`digest_rollout`) unless given."""
    now = time.time() if now is None else now
    rules = settings.digest
    rollout = (in_rollout or digest_rollout(rules))(team.name)
    verdict = due(facts_frame(team.person_facts(people), state.get(team.name, people)), rules, now,
                  in_rollout=rollout)
    outcome = dict(zip(verdict["user"], verdict["blocked_by"], strict=True))
    for user in verdict.loc[verdict["due"], "user"]:
        asked = team.recommend(user, rules.k, surface=DIGEST)
        answer, why_not = digest_items(asked, rules)
        if answer is None:
            outcome[user] = why_not
            continue
        message = blocks.digest_message(answer, surface=DIGEST, team_id=team_id, snooze_days=rules.snooze_days)
        call(client, "chat.postMessage", channel=user, **message)
        state.sent(team.name, user, now)
        outcome[user] = "sent"
    return outcome
