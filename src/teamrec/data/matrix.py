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
to let members, and only members, see a private item. ``archived`` flags the items nobody is
shown any more (an archived channel, from the item metadata the readers fill): the hidden masks
hide them from everyone, so no surface recommends them or lists them as similar.

Two event kinds are rules, not interactions (:data:`~teamrec.data.events.EXCLUDING_KINDS`): a
``leave`` removes the person's earlier events on that item (they left the channel: it is no
longer in their row nor their membership), and both ``leave`` and ``dismiss`` ("not
interested") put the pair in ``excluded``: never recommended to that person again.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd
import scipy.sparse as sp
from pydantic import BaseModel, ConfigDict, Field

from teamrec.data import weighting
from teamrec.data.dataset import Dataset
from teamrec.data.events import EXCLUDING_KINDS, LEAVE
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


#: Formats whose non-binary values are activity counts (plays, messages, replies): heavy-tailed,
#: so they are log-scaled, ``log(1 + x)``, unless ``log1p`` is set. On log activity the activity
#: model's per-pair transforms lower the one-class RMSE on Last.fm 2K and on the Slack export's
#: messages and replies; on raw counts they raise it (docs/benchmarks.md, issue 13).
LOG_ACTIVITY_FORMATS = frozenset({"lastfm", "slack-export"})


def default_config(fmt: str | None, overrides: dict[str, Any] | None = None) -> MatrixConfig:
    """The matrix defaults for a source format (plain sums for unknown formats) with
    ``overrides``; activity counts of :data:`LOG_ACTIVITY_FORMATS` (not binarised) are
    log-scaled unless ``overrides`` says otherwise. Pydantic's ``ValueError`` for a bad setting."""
    base = FORMAT_DEFAULTS.get(fmt or "", MatrixConfig())
    merged = {**base.model_dump(), **(overrides or {})}
    if fmt in LOG_ACTIVITY_FORMATS and "log1p" not in (overrides or {}) and not merged["binary"]:
        merged["log1p"] = True
    return MatrixConfig(**merged)


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
    #: users x items: True where the person dismissed or left the item (never recommended).
    excluded: sp.csr_matrix | None = None

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
        if self.excluded is None:
            self.excluded = sp.csr_matrix(self.matrix.shape, dtype=bool)
        self._names: dict[str, _NameIndex] = {}
        self._private: np.ndarray | None = None
        self._archived: np.ndarray | None = None
        self._name_arrays: dict[str, np.ndarray] = {}

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
        """Boolean mask of the items only their members may see (read-only, computed once)."""
        if self._private is None:
            private = self.item_meta["private"].to_numpy(dtype=bool).copy()
            private.setflags(write=False)
            self._private = private
        return self._private

    @property
    def archived(self) -> np.ndarray:
        """Boolean mask of the archived items, never shown to anyone (read-only, computed once;
        all False when the metadata has no ``archived`` column, as in models saved before it)."""
        if self._archived is None:
            if "archived" in self.item_meta.columns:
                archived = self.item_meta["archived"].fillna(False).to_numpy(dtype=bool).copy()
            else:
                archived = np.zeros(self.n_items, dtype=bool)
            archived.setflags(write=False)
            self._archived = archived
        return self._archived

    def item_names(self, index: np.ndarray | int) -> np.ndarray:
        return self._names_of("item")[index]

    def user_names(self, index: np.ndarray | int) -> np.ndarray:
        return self._names_of("user")[index]

    def _names_of(self, kind: str) -> np.ndarray:
        """The ``name`` column of the item or user metadata as an array, made once: a request
        indexes it instead of converting the whole column (10,000 strings) per call."""
        names = self._name_arrays.get(kind)
        if names is None:
            names = (self.item_meta if kind == "item" else self.user_meta)["name"].to_numpy(copy=True)
            self._name_arrays[kind] = names
        return names

    def find_item(self, key: str) -> int:
        """The index of an item by id, or by name (``#name`` or ``name``, case-insensitive)."""
        return self._find(self.items, self.item_meta, key, "item")

    def find_user(self, key: str) -> int:
        """The index of a user by id, or by name / handle (case-insensitive)."""
        return self._find(self.users, self.user_meta, key, "user")

    def _find(self, vocab: Vocab, meta: pd.DataFrame, key: str, kind: str) -> int:
        pos = vocab.get(key)
        if pos is not None:
            return pos
        if kind not in self._names:
            self._names[kind] = _NameIndex(meta, kind)
        return self._names[kind].find(key)

    def hidden_row(self, user: int | None, *, public_only: bool = False) -> np.ndarray:
        """A fresh boolean mask (n_items) of what ``user`` must not be shown: private items
        they are not a member of (every private item for ``None`` or ``public_only``), what
        they dismissed or left, and archived items (hidden from everyone, members too)."""
        mask = np.array(self.private, dtype=bool)
        if user is not None:
            members, excluded = self._masks()
            if not public_only and mask.any():
                start, end = members.indptr[user], members.indptr[user + 1]
                mask[members.indices[start:end]] = False
            start, end = excluded.indptr[user], excluded.indptr[user + 1]
            mask[excluded.indices[start:end]] = True
        mask |= self.archived
        return mask

    def _masks(self) -> tuple[sp.csr_matrix, sp.csr_matrix]:
        """``members`` and ``excluded`` (always set after construction)."""
        assert self.members is not None and self.excluded is not None
        return self.members, self.excluded

    def hidden_items(self, users: np.ndarray) -> sp.csr_matrix:
        """users x items mask (True = must not be shown): private items the user is not in,
        items the user dismissed or left, and archived items (every row)."""
        users = np.asarray(users, dtype=np.int64)
        members, excluded_all = self._masks()
        excluded = excluded_all[users]
        private, archived = self.private, self.archived
        if not private.any() and not archived.any():
            return sp.csr_matrix(excluded, dtype=bool)
        hidden = np.zeros((len(users), self.n_items), dtype=bool)
        if private.any():
            priv_cols = np.flatnonzero(private)
            hidden[:, priv_cols] = ~members[users][:, priv_cols].toarray()
        hidden[:, archived] = True
        return (sp.csr_matrix(hidden) + excluded).astype(bool).tocsr()


def _default_meta(ids: np.ndarray, kind: str) -> pd.DataFrame:
    frame = pd.DataFrame({kind: ids, "name": ids})
    if kind == "item":
        frame["description"] = ""
        frame["private"] = False
        frame["archived"] = False
    return frame


class _NameIndex:
    """Items or people by name, as dicts built once: the name, then the handle, then the real
    name, case-insensitive, ``#``/``@`` ignored; a name two share is no answer
    (:class:`UnknownIdError` saying to use the id)."""

    COLUMNS = ("name", "handle", "real_name")

    def __init__(self, meta: pd.DataFrame, kind: str) -> None:
        self.kind = kind
        self.tables: list[dict[str, list[int]]] = []
        for column in self.COLUMNS:
            if column in meta.columns:
                table: dict[str, list[int]] = {}
                for i, name in enumerate(meta[column].astype(str).str.casefold().tolist()):
                    table.setdefault(name, []).append(i)
                self.tables.append(table)

    def find(self, key: str) -> int:
        wanted = key.lstrip("#@").casefold()
        for table in self.tables:
            hits = table.get(wanted)
            if hits and len(hits) == 1:
                return hits[0]
            if hits:
                raise UnknownIdError(self.kind, key, f"{len(hits)} {self.kind}s have that name; use the id")
        raise UnknownIdError(self.kind, key)


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

    events, rules = apply_event_rules(events)
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
        excluded=_membership(rules, users, items),
    )


def apply_event_rules(events: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Split the rule events (``leave``, ``dismiss``) from the interactions, and drop every
    interaction of a (person, item) pair that comes before that pair's last ``leave`` (in
    the frame's order, which is the order events were stored): leaving a channel ends the
    membership, joining again later starts a new one. Returns ``(interactions, rules)``."""
    kinds = events["kind"].to_numpy()
    is_rule = np.isin(kinds, EXCLUDING_KINDS)
    if not is_rule.any():
        return events, events.iloc[:0]
    rules = events[is_rule]
    leaves = rules[rules["kind"].to_numpy() == LEAVE]
    rest_mask = ~is_rule
    if len(leaves):
        position = np.arange(len(events))
        key = events["user"].astype(str) + "\x1f" + events["item"].astype(str)
        last_leave = pd.Series(position[is_rule & (kinds == LEAVE)], index=key[is_rule & (kinds == LEAVE)].to_numpy())
        last_leave = last_leave.groupby(level=0).max()
        cutoff = key.map(last_leave).to_numpy(dtype=np.float64)
        rest_mask &= ~(cutoff > position)  # NaN (no leave) compares False: kept
    return events[rest_mask], rules


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



def fold_events(
    config: MatrixConfig, row: np.ndarray, events: pd.DataFrame, items: Vocab
) -> tuple[np.ndarray, np.ndarray]:
    """One person's stored matrix row with their newer ``events`` folded in, by the matrix
    settings' own rules, and the items those events hide from them (``leave``/``dismiss``).

    This is the request-time view of a person between two fits: kinds filtered and weighted
    as in :func:`build_matrix`, repeated cells combined by ``agg`` with the stored value
    (``sum``/``count`` add, ``max`` keeps the larger, ``last`` the newer), ``binary`` and
    ``log1p`` applied as the stored row has them; a ``leave`` empties its cell. Items the
    vocabulary does not know yet are left for the next fit (the model cannot score them), and
    so are time decay and the minimum-count filters (they need the whole team). Returns
    ``(row, hide)``: a new float row and a boolean mask over items.
    """
    out = np.array(row, dtype=np.float64)
    hide = np.zeros(len(out), dtype=bool)
    if events.empty:
        return out, hide
    cols = items.lookup(events["item"].to_numpy(), missing="ignore")
    kinds = events["kind"].to_numpy()
    known = cols >= 0
    rule = np.isin(kinds, EXCLUDING_KINDS) & known
    hide[cols[rule]] = True
    values = events["value"].to_numpy(dtype=np.float64)
    keep = known & ~np.isin(kinds, EXCLUDING_KINDS)
    if config.kinds is not None:
        keep &= np.isin(kinds, config.kinds)
    if config.kind_weights:
        values = values * events["kind"].map(config.kind_weights).fillna(1.0).to_numpy(dtype=np.float64)
    if config.log1p:
        out = np.expm1(out)  # back to the aggregated scale, to combine with it
    # In order: a leave empties its cell, later events fill it again.
    for c, v, k, ok in zip(cols.tolist(), values.tolist(), kinds.tolist(), keep.tolist(), strict=True):
        if k == LEAVE and c >= 0:
            out[c] = 0.0
            continue
        if not ok:
            continue
        if config.agg == "sum":
            out[c] += v
        elif config.agg == "count":
            out[c] += 1.0
        elif config.agg == "max":
            out[c] = v if out[c] == 0 else max(out[c], v)
        else:  # last
            out[c] = v
    if config.log1p:
        out = np.log1p(out)
    if config.binary:
        out = (out != 0).astype(np.float64)
    return out, hide


def extend_matrix(
    data: InteractionMatrix, events: pd.DataFrame, config: MatrixConfig
) -> tuple[InteractionMatrix, np.ndarray]:
    """``data`` with newer ``events`` of its team applied, built incrementally: the
    vocabularies are extended append-only (old people and items keep their indices; new ones
    come after, metadata named by id until the next full build), and only the rows of the
    people in ``events`` change. Returns the new matrix and those people's indices (what
    :meth:`~teamrec.algorithms.base.Algorithm.partial_fit_users` takes).

    Cells combine as in :func:`fold_events` (kinds and weights, ``agg`` with the stored value,
    ``binary``/``log1p``; a ``leave`` empties the cell and the membership, ``leave`` and
    ``dismiss`` exclude the pair). Time decay and the minimum-count filters need the whole
    team and wait for the next full build; everything here is vectorised over the batch.
    """
    if events.empty:
        return data, np.zeros(0, dtype=np.int64)
    interactions, rules = apply_event_rules(events)
    users = data.users.extend(events["user"].to_numpy())
    items = data.items.extend(interactions["item"].to_numpy())
    shape = (len(users), len(items))
    old = data.matrix.copy()
    old.resize(shape)
    members = sp.csr_matrix(data.members, dtype=bool)
    members.resize(shape)
    excluded = sp.csr_matrix(data.excluded, dtype=bool)
    excluded.resize(shape)
    changed = np.unique(users.lookup(events["user"].to_numpy()))

    leaves = rules[rules["kind"].to_numpy() == LEAVE]
    if len(leaves):
        lr = users.lookup(leaves["user"].to_numpy())
        lc = items.lookup(leaves["item"].to_numpy(), missing="ignore")
        ok = lc >= 0
        cut = sp.csr_matrix((np.ones(ok.sum()), (lr[ok], lc[ok])), shape=shape).astype(bool)
        old = old - old.multiply(cut)
        members = (members.astype(np.int8) - members.multiply(cut).astype(np.int8)).astype(bool)
    if len(rules):
        rr = users.lookup(rules["user"].to_numpy())
        rc = items.lookup(rules["item"].to_numpy(), missing="ignore")
        ok = rc >= 0
        added = sp.csr_matrix((np.ones(ok.sum(), dtype=bool), (rr[ok], rc[ok])), shape=shape)
        excluded = (excluded + added).astype(bool)
    members = (members + _membership(interactions, users, items)).astype(bool)

    kept = interactions
    if config.kinds is not None:
        kept = kept[kept["kind"].isin(config.kinds).to_numpy()]
    if len(kept):
        values = kept["value"].to_numpy(dtype=np.float64)
        if config.kind_weights:
            values = values * kept["kind"].map(config.kind_weights).fillna(1.0).to_numpy(dtype=np.float64)
        rows = users.lookup(kept["user"].to_numpy())
        cols = items.lookup(kept["item"].to_numpy())
        base = old.tocoo()
        base_values = np.expm1(base.data) if config.log1p else base.data
        if config.agg == "count":
            values = np.ones_like(values)
        # The stored cells and the new events in one aggregation: the stored value counts as
        # one earlier event of its cell (oldest: it loses "last" to any new event).
        times = np.r_[np.full(base.nnz, -np.inf), np.arange(len(values), dtype=np.float64)]
        merged = _aggregate(
            np.r_[base.row, rows].astype(np.int64), np.r_[base.col, cols].astype(np.int64),
            np.r_[base_values, values], times, "sum" if config.agg == "count" else config.agg, shape,
        )
        merged = sp.csr_matrix(merged)
        if config.log1p:
            merged.data = np.log1p(merged.data)
        if config.binary:
            merged.data = (merged.data != 0).astype(np.float64)
        old = merged
    matrix = sp.csr_matrix(old, dtype=np.float64)
    matrix.eliminate_zeros()
    item_meta = _grown_meta(data.item_meta, items, "item")
    user_meta = _grown_meta(data.user_meta, users, "user")
    out = InteractionMatrix(
        matrix=matrix, users=users, items=items, team=data.team, item_meta=item_meta, user_meta=user_meta,
        members=sp.csr_matrix(members), item_kind=data.item_kind, excluded=sp.csr_matrix(excluded),
    )
    return out, changed


def _grown_meta(meta: pd.DataFrame, vocab: Vocab, kind: str) -> pd.DataFrame:
    """``meta`` with default rows (named by id) appended for the ids ``vocab`` added."""
    extra = vocab.ids[len(meta):]
    if len(extra) == 0:
        return meta
    return pd.concat([meta, _default_meta(extra, kind)], ignore_index=True)
