"""The digest: a direct message with a few channel suggestions, sent only when it helps.

The triggering rules, each a setting of :class:`DigestSettings` (the deployed systems this
project comes from chose theirs so as not to seem disruptive):

1. the team is in the rollout: a share of teams, drawn by the experiment assignment's team
   draw (:func:`teamrec.experiments.assignment.in_rollout` named ``rollout_name``, salted with
   ``rollout_salt``: the teams an experiment of that name, rollout and salt would take), so
   raising the share keeps every team that was in;
2. not opted out, not snoozed;
3. at most one digest per person per ``min_days_between`` days;
4. only people in the workspace for at least ``min_tenure_days`` days (their first event) and
   in at most ``max_channels`` channels (newcomers still finding their way);
5. only in working hours of the person's time zone (Slack's ``tz_offset``), weekdays;
6. only when the best channel scores at least ``min_score``. Which channels may be suggested
   at all is the service's rule, not the digest's: never private ones the person is not in,
   joined, left, dismissed or archived ones (the policy and the matrix's masks).

Rules 2-5 are one vectorised pass over everyone (:func:`due`); rule 6 needs each person's
answer, so it runs only for the people who passed (:func:`digest_items`). Digest state (last
sent, snoozed until, opted out) is kept in :class:`DigestState`, a small SQLite table.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from teamrec.experiments.assignment import in_rollout

if TYPE_CHECKING:
    from teamrec.service.teams import Answer

DAY = 86_400.0


class DigestSettings(BaseModel):
    """When a digest is sent (validated once; unknown keys refused)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = True
    k: int = Field(default=3, ge=1, le=10, description="channels per digest")
    min_days_between: float = Field(default=14, ge=0, description="at most one digest per person per this many days")
    min_tenure_days: float = Field(default=14, ge=0, description="N: in the workspace for at least N days")
    max_channels: int = Field(default=10, ge=0, description="M: in at most M channels")
    min_score: float = Field(default=0.0, description="the best recommendation must score at least this")
    work_start_hour: int = Field(default=10, ge=0, le=23, description="local hour the window opens")
    work_end_hour: int = Field(default=17, ge=1, le=24, description="local hour the window closes")
    weekdays_only: bool = True
    snooze_days: int = Field(default=30, ge=1)
    rollout_share: float = Field(default=1.0, ge=0, le=1, description="share of teams that get digests")
    rollout_name: str = Field(default="slack-digest", description="the experiment name the rollout draw is salted with")
    rollout_salt: str = "teamrec-slack-digest"


#: Which rule stopped a digest (the first that failed), per person.
REASONS = ("rollout", "opted_out", "snoozed", "too_soon", "too_new", "too_many_channels", "outside_hours",
           "nothing_to_suggest", "low_score")


def digest_rollout(settings: DigestSettings) -> Callable[[str], bool]:
    """Whether a team is in the digest's rollout (sticky, stateless, ``rollout_share`` of teams):
    the experiment assignment's team draw, as for an experiment named ``rollout_name``."""

    def team_in_rollout(team: str) -> bool:
        return in_rollout(settings.rollout_name, team, settings.rollout_share, settings.rollout_salt)

    return team_in_rollout


def due(people: pd.DataFrame, settings: DigestSettings, now: float, *, in_rollout: bool = True) -> pd.DataFrame:
    """Rules 1-5 for everyone at once.

    ``people`` columns: ``user``, ``first_seen`` (epoch s, NaN = unknown), ``channels``,
    ``tz_offset`` (s east of UTC, NaN = unknown: treated as UTC), ``last_sent`` (NaN = never),
    ``snoozed_until`` (NaN = not), ``opted_out`` (bool). Returns ``user``, ``due`` and
    ``blocked_by`` (the first failing rule, "" when due).
    """
    n = len(people)
    first_seen = people["first_seen"].to_numpy(dtype=np.float64)
    last = people["last_sent"].to_numpy(dtype=np.float64)
    snoozed = people["snoozed_until"].to_numpy(dtype=np.float64)
    offset = np.nan_to_num(people["tz_offset"].to_numpy(dtype=np.float64), nan=0.0)
    local = now + offset
    hour = (local % DAY) / 3600.0
    weekday = (np.floor(local / DAY).astype(np.int64) + 3) % 7  # 1970-01-01 was a Thursday (3)
    in_hours = (hour >= settings.work_start_hour) & (hour < settings.work_end_hour)
    if settings.weekdays_only:
        in_hours &= weekday < 5
    checks = [
        ("rollout", np.full(n, in_rollout and settings.enabled)),
        ("opted_out", ~people["opted_out"].to_numpy(dtype=bool)),
        ("snoozed", ~(snoozed > now)),
        ("too_soon", ~(now - last < settings.min_days_between * DAY)),
        ("too_new", now - first_seen >= settings.min_tenure_days * DAY),
        ("too_many_channels", people["channels"].to_numpy() <= settings.max_channels),
        ("outside_hours", in_hours),
    ]
    ok = np.ones(n, dtype=bool)
    blocked = np.full(n, "", dtype=object)
    for name, passed in checks:
        newly = ok & ~passed
        blocked[newly] = name
        ok &= passed
    return pd.DataFrame({"user": people["user"].to_numpy(), "due": ok, "blocked_by": blocked})


def digest_items(answer: Answer, settings: DigestSettings) -> tuple[Answer | None, str]:
    """Rule 6: the answer cut to ``k`` and ``""``; or None and why not (``nothing_to_suggest``,
    ``low_score``). The answer holds only channels the person may be shown (the service's rules)."""
    if not answer.results:
        return None, "nothing_to_suggest"
    if answer.results[0].score < settings.min_score:
        return None, "low_score"
    return replace(answer, results=answer.results[: settings.k]), ""


def facts_frame(facts: pd.DataFrame, state: pd.DataFrame) -> pd.DataFrame:
    """The input of :func:`due`: the service's facts (``user, first_seen, channels, tz_offset``)
    joined with the digest state, by user."""
    return facts.merge(state, on="user", how="left").fillna({"opted_out": False})


class DigestState:
    """Per person: when the last digest went out, snoozed until when, opted out (SQLite)."""

    def __init__(self, path: str | Path = ":memory:") -> None:
        self._lock = threading.Lock()
        self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS digest_state (team TEXT NOT NULL, user TEXT NOT NULL, "
            "last_sent REAL, snoozed_until REAL, opted_out INTEGER NOT NULL DEFAULT 0, PRIMARY KEY (team, user))"
        )

    def get(self, team: str, users: list[str]) -> pd.DataFrame:
        """``user, last_sent, snoozed_until, opted_out`` for ``users`` (defaults for strangers)."""
        with self._lock:
            rows = self._db.execute(
                "SELECT user, last_sent, snoozed_until, opted_out FROM digest_state WHERE team = ?", (team,)
            ).fetchall()
        known = pd.DataFrame(rows, columns=["user", "last_sent", "snoozed_until", "opted_out"]).set_index("user")
        out = known.reindex(pd.Index(users, name="user"))
        return pd.DataFrame({
            "user": users,
            "last_sent": out["last_sent"].to_numpy(dtype=np.float64),
            "snoozed_until": out["snoozed_until"].to_numpy(dtype=np.float64),
            "opted_out": out["opted_out"].fillna(0).to_numpy(dtype=np.int64).astype(bool),
        })

    def _set(self, team: str, user: str, column: str, value: float | int) -> None:
        with self._lock:
            self._db.execute(
                f"INSERT INTO digest_state (team, user, {column}) VALUES (?, ?, ?) "
                f"ON CONFLICT (team, user) DO UPDATE SET {column} = excluded.{column}",
                (team, user, value),
            )

    def sent(self, team: str, user: str, when: float) -> None:
        self._set(team, user, "last_sent", when)

    def snooze(self, team: str, user: str, until: float) -> None:
        self._set(team, user, "snoozed_until", until)

    def opt_out(self, team: str, user: str) -> None:
        self._set(team, user, "opted_out", 1)

    def close(self) -> None:
        self._db.close()
