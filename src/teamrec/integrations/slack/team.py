"""The Slack app's binding to the service layer: Slack ids and payloads -> :class:`TeamService` calls.

The app is a thin caller like the HTTP routes: every rule (privacy, online fold-in, what a
person already has, left and dismissed channels, feedback validation and the learning event of
a ``join``) lives once in :class:`~teamrec.service.teams.TeamService` and its policy. What is
left here is the mapping:

* a Slack user asking about themself is ``Caller(trusted=True, viewer=<their id>)``, so a
  private channel only reaches its members;
* channel metadata (names, private, archived) is the team's *source*: ``teamrec slack sync``
  writes it as a ``teamrec`` dataset folder (no events) and the team's spec names that folder
  (``source = ".../meta"``, ``format = "teamrec"``) while its events come from the event store.
  A channel created, renamed, archived or unarchived in Slack is upserted into that folder and
  the team is retrained (in the listener that runs after Slack got its ack);
* archived channels are never recommended: that is the service's rule for every surface (the
  matrix hides them), so an archive event reaches the App Home, the command and the digest
  through the retrain it triggers;
* the digest's per-person facts (first seen, channels they are in, time zone) come from the
  event store and the snapshot's people metadata, in one vectorised pass.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path

import numpy as np
import pandas as pd

from teamrec.data.dataset import Dataset
from teamrec.data.sources import read_ingested
from teamrec.errors import UnknownIdError
from teamrec.integrations.slack.events import merge_items
from teamrec.integrations.slack.membership import current_members
from teamrec.service.teams import Answer, Caller, FeedbackResult, Ingested, TeamService

log = logging.getLogger(__name__)

#: Where an answer was shown (the experiment report's surfaces).
HOME, COMMAND, DIGEST = "slack_home", "slack_command", "digest"
#: What the app itself does when it writes (ingests Slack's events): the team's own key.
APP = Caller(trusted=True)


def person(user: str) -> Caller:
    """A Slack user asking about themself: sees the private channels they are in, no others."""
    return Caller(trusted=True, viewer=user)


class SlackTeam:
    """One teamrec team as its Slack workspace sees it."""

    def __init__(self, service: TeamService) -> None:
        self.service = service
        spec = service.settings
        #: the team's metadata folder, when its source is one (what ``teamrec slack sync`` writes)
        self.metadata_dir: Path | None = (
            Path(spec.source) if spec.format == "teamrec" and spec.source is not None else None
        )
        self._meta_lock = threading.Lock()

    @property
    def name(self) -> str:
        return self.service.name

    # -- reading -------------------------------------------------------------------------------
    def recommend(self, user: str, k: int, *, surface: str) -> Answer:
        """Channels for ``user`` with their reasons (the service's rules); logged on ``surface``."""
        return self.service.recommend(person(user), user, k, explain=True, surface=surface)

    def people(self, user: str, k: int) -> Answer | None:
        """People like ``user`` (None for a person the model does not know yet)."""
        if k <= 0:
            return None
        try:
            return self.service.similar_people(person(user), user, k)
        except UnknownIdError:
            return None

    # -- writing -------------------------------------------------------------------------------
    def ingest(self, events: pd.DataFrame, *, batch_id: str | None = None) -> Ingested:
        """Slack's events into the event store; each changes that person's answers at once."""
        return self.service.ingest(APP, events, batch_id=batch_id)

    def feedback(
        self, user: str, recommendation_id: str, item: str, action: str, surface: str | None
    ) -> FeedbackResult:
        """A button press on ``item`` of recommendation ``recommendation_id``."""
        return self.service.feedback(person(user), user, item, action, recommendation_id=recommendation_id,
                                     surface=surface)

    def update_channels(self, items: pd.DataFrame) -> bool:
        """Upsert channel metadata rows (``item`` plus the fields that changed) into the team's
        metadata folder and retrain, so names, privacy and archive flags reach the model;
        False (and a log line) when the team's source is not such a folder."""
        if self.metadata_dir is None:
            log.warning("team %s: its source is not a teamrec metadata folder; channel change not kept", self.name)
            return False
        with self._meta_lock:
            current = read_ingested(self.metadata_dir)
            update = items.assign(team=self.name)
            merged = merge_items([current.items, update] if len(current.items) else [update])
            for flag in ("private", "archived"):
                if flag in merged:
                    merged[flag] = merged[flag].fillna(False).astype(bool)
            merged = merged.fillna({"name": merged["item"], "description": ""})
            Dataset(events=current.events, items=merged, users=current.users, info=dict(current.info)).save(
                self.metadata_dir)
        self.service.retrain()
        return True

    # -- the digest's facts ----------------------------------------------------------------------
    def person_facts(self, users: list[str]) -> pd.DataFrame:
        """``user, first_seen, channels, tz_offset`` for ``users`` (NaN / 0 for strangers)."""
        events = self.service.store.events(self.name)
        first = events.groupby("user")["timestamp"].min()
        channels = current_members(events).groupby("user").size()
        meta = self.service.state.model.data.user_meta
        tz = meta.set_index("user")["tz_offset"] if "tz_offset" in meta else pd.Series(dtype=np.float64)
        index = pd.Index(users, name="user")
        return pd.DataFrame({
            "user": users,
            "first_seen": first.reindex(index).to_numpy(dtype=np.float64),
            "channels": channels.reindex(index).fillna(0).to_numpy(dtype=np.int64),
            "tz_offset": pd.to_numeric(tz[~tz.index.duplicated()].reindex(index), errors="coerce").to_numpy(
                dtype=np.float64),
        })
