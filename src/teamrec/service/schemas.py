"""The HTTP contract: request and response models, kept apart from the library's internals.

Everything a client sends is validated here (unknown fields refused); everything the service
answers has a model, so the OpenAPI document at ``/docs`` describes it exactly.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema, field_validator

# The event rules are the data layer's (every writer obeys them, HTTP or not); the schema only
# states the same limits to HTTP clients (OpenAPI) so a bad field is a 422 naming it.
from teamrec.data.events import MAX_EVENT_VALUE, MAX_ID_LENGTH, MAX_KIND_LENGTH, MAX_TIMESTAMP

#: Not only spaces, and no ``/`` (ids are URL path segments: the event rules refuse one).
Id = Annotated[str, Field(min_length=1, max_length=MAX_ID_LENGTH, pattern=r"^[^/]*[^\s/][^/]*$")]
#: An ISO 8601 time as the schema publishes it: the years 1970 to 2099 (the event rules' bounds,
#: checked exactly on the epoch seconds by EventIn).
IsoTime = Annotated[
    datetime,
    WithJsonSchema({"type": "string", "format": "date-time", "pattern": r"^(19[7-9][0-9]|20[0-9][0-9])-"}),
]


#: The most events one POST may carry.
MAX_BATCH = 10_000
#: The most results one question may ask for.
MAX_K = 200
#: The most item ids one recommendations question may list (exclude or candidates).
MAX_ITEM_LIST = 1000


class _Out(BaseModel):
    model_config = ConfigDict(extra="forbid")


# -- errors ----------------------------------------------------------------------------------
class ErrorDetail(_Out):
    loc: list[str | int]
    message: str
    index: int | None = Field(None, description="position of the event in the batch, for ingestion")
    field: str | None = Field(None, description="the field at fault")


class ErrorOut(_Out):
    error: str = Field(description="a stable code: not_found, forbidden, unauthorized, validation_error, ...")
    message: str = Field(description="what went wrong, for people")
    detail: list[ErrorDetail] | None = None


# -- health and teams ----------------------------------------------------------------------
class HealthOut(_Out):
    status: str = Field(description="'ok' once every team's model is in service")
    version: str
    teams: int


class TeamOut(_Out):
    name: str
    people: int
    items: int
    algorithm: str
    model_version: int


class TeamsOut(_Out):
    teams: list[TeamOut]


# -- items and people ------------------------------------------------------------------------
class ItemRef(_Out):
    id: str
    name: str
    description: str = ""
    private: bool = False
    archived: bool = False
    people: int = Field(description="how many people the model has with this item")


class PersonRef(_Out):
    id: str
    name: str
    handle: str | None = None
    title: str | None = None
    items: int = Field(description="how many items the model has for this person")


class Scored(_Out):
    id: str
    name: str
    score: float
    reason: str | None = Field(None, description="why, in words")
    details: dict[str, Any] = Field(default_factory=dict)
    position: int | None = Field(None, description="recommendations: the 1-based position served")
    explored: bool = Field(False, description="recommendations: put there by exploration, not by the ranking")
    propensity: float | None = Field(None, description="recommendations: the probability of being shown there")


class RecommendationsOut(_Out):
    team: str
    user: str
    model_version: int
    results: list[Scored]
    recommendation_id: str | None = Field(None, description="this answer's id: feedback on its items names it")
    arm: str | None = Field(None, description="the experiment arm that produced it (null: no experiment)")
    experiment: str | None = Field(None, description="the experiment of the arm")


class SimilarItemsOut(_Out):
    team: str
    item: ItemRef
    model_version: int
    results: list[Scored]


class SimilarPeopleOut(_Out):
    team: str
    user: PersonRef
    model_version: int
    results: list[Scored]


class ItemSearchOut(_Out):
    team: str
    query: str
    results: list[ItemRef]


class PeopleSearchOut(_Out):
    team: str
    query: str
    results: list[PersonRef]


class RecommendIn(BaseModel):
    """The body of ``POST .../recommendations`` (for long exclude or candidate lists)."""

    model_config = ConfigDict(extra="forbid")

    k: int = Field(10, ge=1, le=MAX_K)
    exclude: list[Id] = Field(default_factory=list, max_length=MAX_ITEM_LIST, description="item ids never to return")
    candidates: list[Id] | None = Field(None, max_length=MAX_ITEM_LIST, description="only rank these item ids")
    explain: bool = False


# -- model -----------------------------------------------------------------------------------
class EventCounts(_Out):
    source: int | None = Field(description="events from the configured source at training (None: a saved model)")
    store: int = Field(description="stored (ingested) events the model was trained on")
    stored_now: int = Field(description="events in the store now")
    since_training: int = Field(description="stored events the model has not seen yet")


class RetrainError(_Out):
    at: datetime
    message: str


class AutoChoice(_Out):
    """What ``auto`` chose for this team at its last full fit, and the validation figures behind it."""

    algorithm: str = Field(description="the algorithm chosen")
    params: dict[str, Any] = Field(description="its parameters")
    metric: str = Field(description="the validation metric it was chosen by")
    value: float = Field(description="the chosen candidate's validation figure")
    validation: list[dict[str, Any]] = Field(description="every candidate tried: algorithm, params, figure, seconds")
    budget_cut: bool = Field(description="the time budget stopped the search before every candidate was tried")
    not_tried: list[str]
    search_seconds: float


class ModelOut(_Out):
    team: str
    algorithm: str
    params: dict[str, Any]
    model_version: int
    trained_at: datetime
    train_seconds: float
    people: int
    items: int
    item_kind: Literal["channel", "item"] = Field(
        description="what the items are: channels (people are in them) or any other item"
    )
    private_items: int | None = Field(description="how many items are private (None: not told without the team's key)")
    interactions: int = Field(description="people x items pairs (without the team's key: on public items only)")
    format: str | None
    source: str | None
    events: EventCounts
    retraining: bool
    last_retrain_error: RetrainError | None = Field(
        None, description="the last retrain that failed, until one succeeds (the old model kept serving)"
    )
    choice: AutoChoice | None = Field(None, description="with algorithm auto: what it chose and why (else null)")


# -- ingestion -------------------------------------------------------------------------------
class EventIn(BaseModel):
    """One event: ``user`` did ``kind`` on ``item`` with strength ``value`` at ``timestamp``."""

    model_config = ConfigDict(extra="forbid")

    user: Id
    item: Id
    kind: Annotated[str, Field(min_length=1, max_length=MAX_KIND_LENGTH, pattern=r"\S")] = Field(
        description="member, message, reply, reaction, view, rating, ... (the team's matrix settings pick kinds)"
    )
    value: float = Field(1.0, allow_inf_nan=False, ge=-MAX_EVENT_VALUE, le=MAX_EVENT_VALUE)
    timestamp: Annotated[float, Field(ge=0, le=MAX_TIMESTAMP)] | IsoTime | None = Field(
        None, description="seconds since the Unix epoch (0 to 4102444800), or an ISO 8601 time (UTC when no zone), "
        "1970 to 2100"
    )

    @field_validator("value", "timestamp", mode="before")
    @classmethod
    def _not_bool(cls, value: Any) -> Any:
        if isinstance(value, bool):
            raise ValueError("must be a number, not true/false")
        return value

    @field_validator("timestamp")
    @classmethod
    def _epoch(cls, value: float | datetime | None) -> float | None:
        """The time as epoch seconds (an ISO time without a zone is UTC), within bounds."""
        if value is None:
            return value
        if isinstance(value, datetime):
            value = (value if value.tzinfo is not None else value.replace(tzinfo=UTC)).timestamp()
        if not math.isfinite(value) or not 0.0 <= value <= MAX_TIMESTAMP:
            raise ValueError("timestamp must be a time between 1970 and 2100")
        return value

    def epoch(self) -> float:
        """Epoch seconds, NaN when the event has no time."""
        return math.nan if self.timestamp is None else float(self.timestamp)  # type: ignore[arg-type]  # seconds by now


class EventBatch(BaseModel):
    """A batch of events, stored all or nothing."""

    model_config = ConfigDict(extra="forbid")

    events: list[EventIn] = Field(min_length=1, max_length=MAX_BATCH)
    batch_id: Annotated[str, Field(min_length=1, max_length=128)] | None = Field(
        None, description="an id for this batch: sending it again (a retry) stores nothing twice"
    )


class FeedbackIn(BaseModel):
    """A person's action on an item of a recommendation they were shown."""

    model_config = ConfigDict(extra="forbid")

    recommendation_id: str = Field(min_length=1, max_length=64, description="the answer the item was shown in")
    user: Id
    item: Id
    action: Literal["click", "join", "dismiss", "rate_up", "rate_down"] = Field(
        description="dismiss: 'not interested' (never shown again); join, rate_up, rate_down: also learnt from"
    )
    surface: str | None = Field(None, max_length=64, description="where it was shown (web, slack_home ...)")
    timestamp: datetime | None = Field(None, description="when (default: now)")


class FeedbackOut(_Out):
    team: str
    recommendation_id: str
    user: str
    item: str
    action: str
    event_kind: str | None = Field(None, description="the learning event stored with it (null: none)")
    stored: int = Field(0, description="learning events stored by this request")


class IngestOut(_Out):
    team: str
    stored: int = Field(description="events stored by this request (0 for a repeated batch_id)")
    duplicate: bool = Field(description="this batch_id was stored before")
    total: int = Field(description="events the team has in the store")
    since_training: int = Field(description="stored events the serving model has not seen yet")
    unused_kinds: list[str] = Field(
        default_factory=list,
        description="event kinds in this batch that the team's matrix settings leave out (stored, not learnt from)",
    )
