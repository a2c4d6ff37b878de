"""From one team's events to its users x items interaction matrix.

:func:`build_matrix` aggregates a team's events into a SciPy CSR matrix with stable id <->
index maps (:class:`~teamrec.data.vocab.Vocab`) and the item/user metadata aligned to the
indices, so every model and every display sees the same numbering. The steps, in order:

1. keep the event kinds asked for (``kinds``), each value times its ``kind_weights`` entry;
2. optional time decay with a half-life (per event, before aggregation);
3. aggregate duplicates of (user, item) by ``sum``, ``max``, ``count`` or ``last`` (latest
   timestamp wins);
4. drop entries below ``min_value``; then ``log1p`` or ``binary``;
5. drop users and items with fewer than ``min_user_interactions`` / ``min_item_interactions``.

Privacy travels with the matrix: ``private`` flags the items that only their members may see,
and ``members`` is the users x items membership (from *every* event kind, before filters) used
to let members, and only members, see a private item.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import pandas as pd
import scipy.sparse as sp
from pydantic import BaseModel, ConfigDict, Field

from teamrec.data import weighting
from teamrec.data.dataset import Dataset
from teamrec.data.vocab import Vocab
from teamrec.errors import ConfigError, DataError, UnknownIdError


class MatrixConfig(BaseModel):
    """How events become matrix values (validated once, unknown keys refused)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kinds: tuple[str, ...] | None = Field(None, description="event kinds to keep; None keeps all")
    kind_weights: dict[str, float] | None = Field(None, description="multiplier per kind")
    agg: Literal["sum", "max", "count", "last"] = "sum"
    binary: bool = False
    log1p: bool = False
    half_life_days: float | None = Field(None, gt=0)
    now: float | None = Field(
        None, description="reference time for decay; default: the latest event, but never later than the clock"
    )
    min_value: float | None = None
    min_user_interactions: int = Field(0, ge=0)
    min_item_interactions: int = Field(0, ge=0)


#: Sensible matrix defaults per source format (overridable).
FORMAT_DEFAULTS: dict[str, MatrixConfig] = {
    # The channel recommender works on membership: who is in which channel.
    "slack-export": MatrixConfig(kinds=("member",), agg="max", binary=True),
    "movielens": MatrixConfig(agg="last"),
    "deskdrop": MatrixConfig(agg="sum"),
    "lastfm": MatrixConfig(agg="sum"),
}


def default_config(fmt: str | None) -> MatrixConfig:
    """The matrix defaults for a source format (plain sums for unknown formats)."""
    return FORMAT_DEFAULTS.get(fmt or "", MatrixConfig())


@dataclass
class InteractionMatrix:
    """One team's users x items matrix with its vocabularies and aligned metadata.

    ``item_meta`` row *i* describes item index *i*; ``user_meta`` row *u* describes user *u*.
    ``item_kind`` says what the items are, for the words explanations use: ``"channel"``
    (people are *in* them; named ``#name``) or ``"item"`` (anything else: films, articles);
    :func:`build_matrix` takes it from the source, or from the presence of ``member`` events.
    """

    matrix: sp.csr_matrix
    users: Vocab
    items: Vocab
    team: str = "default"
    item_meta: pd.DataFrame = field(default_factory=pd.DataFrame)
    user_meta: pd.DataFrame = field(default_factory=pd.DataFrame)
    members: sp.csr_matrix | None = None
    item_kind: Literal["channel", "item"] = "item"

    def __post_init__(self) -> None:
        self.matrix = sp.csr_matrix(self.matrix, dtype=np.float64)
        self.matrix.sort_indices()
        if self.matrix.shape != (len(self.users), len(self.items)):
            raise ValueError(
                f"matrix shape {self.matrix.shape} does not match vocabularies "
                f"({len(self.users)} users, {len(self.items)} items)"
            )
        if self.item_meta.empty:
            self.item_meta = _default_meta(self.items.ids, "item")
        if self.user_meta.empty:
            self.user_meta = _default_meta(self.users.ids, "user")
        if self.members is None:
            self.members = sp.csr_matrix(self.matrix.shape, dtype=bool)

    @property
    def shape(self) -> tuple[int, int]:
        return self.matrix.shape

    @property
    def n_users(self) -> int:
        return self.matrix.shape[0]

    @property
    def n_items(self) -> int:
        return self.matrix.shape[1]

    @property
    def private(self) -> np.ndarray:
        """Boolean mask of the items only their members may see."""
        return self.item_meta["private"].to_numpy(dtype=bool)

    def item_names(self, index: np.ndarray | int) -> np.ndarray:
        return self.item_meta["name"].to_numpy()[index]

    def user_names(self, index: np.ndarray | int) -> np.ndarray:
        return self.user_meta["name"].to_numpy()[index]

    def find_item(self, key: str) -> int:
        """The index of an item by id, or by name (``#name`` or ``name``, case-insensitive)."""
        return _find(self.items, self.item_meta, key, "item")

    def find_user(self, key: str) -> int:
        """The index of a user by id, or by name / handle (case-insensitive)."""
        return _find(self.users, self.user_meta, key, "user")

    def hidden_items(self, users: np.ndarray) -> sp.csr_matrix:
        """users x items mask (True = must not be shown): private items the user is not in."""
        users = np.asarray(users, dtype=np.int64)
        private = self.private
        if not private.any():
            return sp.csr_matrix((len(users), self.n_items), dtype=bool)
        priv_cols = np.flatnonzero(private)
        if self.members is None:  # no membership known: nobody is in a private item
            return sp.csr_matrix(np.broadcast_to(private, (len(users), self.n_items)))
        member_part = self.members[users][:, priv_cols].toarray()
        hidden = np.zeros((len(users), self.n_items), dtype=bool)
        hidden[:, priv_cols] = ~member_part
        return sp.csr_matrix(hidden)


def _default_meta(ids: np.ndarray, kind: str) -> pd.DataFrame:
    frame = pd.DataFrame({kind: ids, "name": ids})
    if kind == "item":
        frame["description"] = ""
        frame["private"] = False
        frame["archived"] = False
    return frame


def _find(vocab: Vocab, meta: pd.DataFrame, key: str, kind: str) -> int:
    if key in vocab:
        return vocab.index_of(key)
    wanted = key.lstrip("#@").casefold()
    for column in ("name", "handle", "real_name"):
        if column in meta.columns:
            names = meta[column].astype(str).str.casefold().to_numpy()
            hits = np.flatnonzero(names == wanted)
            if len(hits) == 1:
                return int(hits[0])
            if len(hits) > 1:
                raise UnknownIdError(kind, key, f"{len(hits)} {kind}s have that name; use the id")
    raise UnknownIdError(kind, key)


def build_matrix(
    data: Dataset | pd.DataFrame,
    *,
    team: str | None = None,
    config: MatrixConfig | None = None,
) -> InteractionMatrix:
    """Aggregate one team's events into an :class:`InteractionMatrix`.

    ``data`` is a :class:`Dataset` (metadata travels along) or a bare events frame. ``team``
    may be omitted when the data holds a single team.
    """
    if isinstance(data, pd.DataFrame):
        data = Dataset(events=data)
    if config is None:
        config = default_config(data.info.get("format"))
    teams = sorted(data.events["team"].unique())
    if team is None:
        if len(teams) > 1:
            raise ConfigError(f"the data holds {len(teams)} teams; name one (known: {', '.join(teams[:10])})")
        team = teams[0] if teams else (data.teams()[0] if data.teams() else "default")
    events = data.events[data.events["team"].to_numpy() == team]
    if team not in teams and team not in data.teams():
        raise UnknownIdError("team", team)

    members_events = events
    if config.kinds is not None:
        events = events[events["kind"].isin(config.kinds).to_numpy()]
    if events.empty:
        raise DataError(
            f"team {team!r} has no events" + (f" of kinds {list(config.kinds)}" if config.kinds else ""),
            file=str(data.info.get("source", "<events>")),
        )
    values = events["value"].to_numpy(dtype=np.float64)
    if config.kind_weights:
        weights = events["kind"].map(config.kind_weights)
        values = values * weights.fillna(1.0).to_numpy(dtype=np.float64)
    timestamps = events["timestamp"].to_numpy(dtype=np.float64)
    if config.half_life_days is not None:
        now = weighting.decay_reference(timestamps, config.now)
        values = weighting.time_decay(values, timestamps, config.half_life_days, now)

    users = Vocab(pd.unique(events["user"].to_numpy()), kind="user")
    items = Vocab(pd.unique(events["item"].to_numpy()), kind="item")
    rows = users.lookup(events["user"].to_numpy())
    cols = items.lookup(events["item"].to_numpy())
    with np.errstate(over="ignore"):
        matrix = _aggregate(rows, cols, values, timestamps, config.agg, (len(users), len(items)))
    if not np.isfinite(matrix.data).all():
        raise DataError(
            f"team {team!r}: the values of some (user, item) pairs add up to more than a number can "
            "hold; the source has absurdly large values",
            file=str(data.info.get("source", "<events>")), field="value",
        )

    if config.min_value is not None:
        matrix = weighting.drop_below(matrix, config.min_value)
    if config.log1p:
        matrix = weighting.log1p(matrix)
    if config.binary:
        matrix = weighting.binarize(matrix)
    keep_u = np.arange(len(users))
    keep_i = np.arange(len(items))
    if config.min_user_interactions or config.min_item_interactions or config.min_value is not None:
        matrix, keep_u, keep_i = weighting.min_interactions(
            matrix, max(config.min_user_interactions, 1), max(config.min_item_interactions, 1)
        )
        users = Vocab(users.ids[keep_u], kind="user")
        items = Vocab(items.ids[keep_i], kind="item")

    item_meta = _aligned(data.items[data.items["team"] == team], items, "item")
    user_meta = _aligned(data.users[data.users["team"] == team], users, "user")
    members = _membership(members_events, users, items)
    return InteractionMatrix(
        matrix=matrix, users=users, items=items, team=str(team),
        item_meta=item_meta, user_meta=user_meta, members=members,
        item_kind=_item_kind(data.info.get("item_kind"), members_events),
    )


def _item_kind(declared: str | None, events: pd.DataFrame) -> Literal["channel", "item"]:
    """What the items are: as the source declares (``info["item_kind"]``), else channels when
    people are members of them (``member`` events), else plain items."""
    if declared in ("channel", "item"):
        return declared  # type: ignore[return-value]
    return "channel" if (events["kind"].to_numpy() == "member").any() else "item"


def _aggregate(rows, cols, values, timestamps, agg: str, shape) -> sp.csr_matrix:
    if agg in ("sum", "count"):
        data = values if agg == "sum" else np.ones_like(values)
        matrix = sp.coo_matrix((data, (rows, cols)), shape=shape).tocsr()
        matrix.sum_duplicates()
        return matrix
    # max / last: sort so the wanted event comes last within each cell, then keep it.
    key = values if agg == "max" else np.nan_to_num(timestamps, nan=-np.inf)
    cell = rows.astype(np.int64) * shape[1] + cols
    order = np.lexsort((key, cell))
    cell_sorted = cell[order]
    last = np.r_[cell_sorted[1:] != cell_sorted[:-1], True]
    chosen = order[last]
    matrix = sp.csr_matrix((values[chosen], (rows[chosen], cols[chosen])), shape=shape)
    matrix.eliminate_zeros()
    return matrix


def _aligned(meta: pd.DataFrame, vocab: Vocab, kind: str) -> pd.DataFrame:
    """Metadata rows in vocabulary order (ids without metadata get their id as name)."""
    base = _default_meta(vocab.ids, kind)
    if meta.empty:
        return base
    meta = meta.drop(columns=["team"]).drop_duplicates(kind, keep="last").set_index(kind)
    aligned = meta.reindex(pd.Index(vocab.ids, dtype=object))
    aligned.index.name = kind
    aligned = aligned.reset_index()
    aligned["name"] = aligned["name"].fillna(aligned[kind]).astype(str)
    if kind == "item":
        aligned["description"] = aligned["description"].fillna("").astype(str)
        aligned["private"] = aligned["private"].fillna(False).astype(bool)
        aligned["archived"] = aligned["archived"].fillna(False).astype(bool)
    return aligned


def _membership(events: pd.DataFrame, users: Vocab, items: Vocab) -> sp.csr_matrix:
    """users x items: True where the user has any event on the item (any kind)."""
    rows = users.lookup(events["user"].to_numpy(), missing="ignore")
    cols = items.lookup(events["item"].to_numpy(), missing="ignore")
    ok = (rows >= 0) & (cols >= 0)
    members = sp.csr_matrix(
        (np.ones(ok.sum(), dtype=bool), (rows[ok], cols[ok])), shape=(len(users), len(items))
    )
    members.sum_duplicates()
    members.data[:] = True
    return members

