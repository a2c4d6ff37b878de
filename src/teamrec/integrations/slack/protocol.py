"""What the Slack app needs from teamrec's service layer, as a small :class:`typing.Protocol`.

The app never touches a model: it asks a :class:`SlackService` for answers whose reasons are
*structured* (:class:`Reason`: a kind, the ids it refers to, counts), and renders them the
Slack way in :mod:`teamrec.integrations.slack.blocks` (``<#C123>``, ``<@U123>``). Binding the
protocol to the team service of the service layer is one adapter; until then
:class:`~teamrec.integrations.slack.local.ModelService` implements it over a
:class:`~teamrec.recommender.TeamModel`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, Protocol, runtime_checkable

import pandas as pd

#: Why an item is recommended:
#: ``channels``: you are in ``items`` (the channels that say most about you);
#: ``people``: ``people`` like you are there; ``overlap``: ``count`` of the ``total`` members
#: of ``items[0]`` are in it; ``popular``: popular in this team; ``new``: you are new here.
ReasonKind = Literal["channels", "people", "overlap", "popular", "new"]
#: Where an answer was shown, so the experiment report can give each surface its click-through rate.
Surface = Literal["slack_home", "slack_command", "slack_digest"]
#: What a person did with a recommendation.
FeedbackAction = Literal["click", "join", "dismiss"]


@dataclass(frozen=True)
class Reason:
    kind: ReasonKind
    items: tuple[str, ...] = ()
    people: tuple[str, ...] = ()
    count: int | None = None
    total: int | None = None


@dataclass(frozen=True)
class Recommended:
    """One recommended channel of an answer, at its 1-based ``position``."""

    item: str
    name: str
    score: float
    position: int
    reasons: tuple[Reason, ...] = ()
    private: bool = False
    archived: bool = False


@dataclass(frozen=True)
class Answer:
    """A recommendation answer: feedback on its items cites ``recommendation_id``."""

    recommendation_id: str
    team: str
    person: str
    items: tuple[Recommended, ...] = ()
    surface: str = "slack_home"


@dataclass(frozen=True)
class Colleague:
    """A person like the asker, with the channels they share (only ones the asker may see)."""

    user: str
    name: str
    score: float
    shared: tuple[str, ...] = ()
    shared_count: int = 0


@dataclass(frozen=True)
class PersonFacts:
    """What the digest rules need to know about a person (from the service's data)."""

    user: str
    first_seen: float | None  # epoch seconds of their first event; None: never seen
    channels: int  # channels they are in now
    tz_offset: float | None = None  # seconds east of UTC (Slack's ``tz_offset``)
    members: frozenset[str] = frozenset()  # channels they are in now
    left: frozenset[str] = frozenset()  # channels they left


@dataclass
class IngestResult:
    stored: int
    duplicate: bool = False
    details: dict[str, int] = field(default_factory=dict)


@runtime_checkable
class SlackService(Protocol):
    """The service layer as the Slack app sees it (one implementation per deployment)."""

    def recommend(self, team: str, person: str, k: int = 5, *, surface: Surface = "slack_home") -> Answer:
        """Channels for ``person`` (private ones only if they are a member; never left or
        dismissed ones), each with structured reasons; the answer is logged as an impression
        on ``surface``."""
        ...

    def people(self, team: str, person: str, k: int = 5) -> list[Colleague]:
        """People like ``person``."""
        ...

    def ingest(self, team: str, events: pd.DataFrame, *, batch_id: str | None = None) -> IngestResult:
        """Store events (the project's schema); they change the person's next answer at once."""
        ...

    def update_items(self, team: str, items: pd.DataFrame) -> None:
        """Upsert channel metadata (name, private, archived...) keyed by ``item``."""
        ...

    def feedback(self, team: str, person: str, recommendation_id: str, item: str, action: FeedbackAction) -> None:
        """Record what ``person`` did with ``item`` of an answer; ``join`` is also a learning
        event, ``dismiss`` hides the item from them for good. Unknown ids or items are an error."""
        ...

    def person_facts(self, team: str, people: list[str]) -> list[PersonFacts]:
        """First-seen time and current channel count of each person, for the digest rules."""
        ...
