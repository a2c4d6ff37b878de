"""A search index over one fitted :class:`~teamrec.recommender.TeamModel`, for the pickers.

Built once per model, *before* the model is swapped in: items and people by name (exact
matches first, then names starting with the query, then the rest, each by size), the
descriptions and sizes the pickers show, and the private mask. Recommendations are not
answered here: they come from the one policy through :class:`TeamModel` (the speed a mirror
of it once bought now comes from the data layer: O(1) id lookups, arrays cached once, a fast
one-person path). An index is immutable once built and safe to share between threads.

No stalls (issue 11): everything that takes a Python loop over the items or people (the
case-folded search keys, the pickers' default orders, the name ranks) is prepared
(:func:`prepare`) where the model is fitted -- the service's worker process -- and written with the model folder
(:func:`save_prepared`, two small Arrow tables), so the serving process builds its index
from columns (:func:`load_prepared`) with no per-item Python work and next to no objects for
the garbage collector to walk. An index built from a model alone prepares the same tables
in-process; either way the index is the same.
"""

from __future__ import annotations

import bisect
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from teamrec._steps import Steps, run_steps
from teamrec._tables import has_table, read_table, write_table
from teamrec.errors import AccessDeniedError, UnknownIdError
from teamrec.recommender import TeamModel

log = logging.getLogger(__name__)

#: The subfolder of a model folder that holds the prepared tables of its serving index.
PREPARED_DIR = "serving"


@dataclass(frozen=True)
class Prepared:
    """The per-item and per-person columns a :class:`ServingIndex` is built from.

    ``items`` (one row per item): ``name``, ``key`` (the name case-folded, what searches
    match), ``description``, and two permutations of the items stored as columns: ``order``
    (the pickers' default order: most people first, then by key) and ``by_key`` (sorted by
    key, ties by index: the items sharing a name are one contiguous run). ``users`` (one row
    per person): ``name``, ``name_key``, ``handle``, ``handle_key``, ``title``, ``order`` (most
    items first, then by name key) and ``name_rank`` (each person's rank by name key)."""

    items: pd.DataFrame
    users: pd.DataFrame


def prepare(model: TeamModel) -> Prepared:
    """The prepared tables of ``model``'s index: the Python work done once per model (in the
    worker process when the service fits it)."""
    data = model.data
    n_items, n_users = data.n_items, data.n_users
    item_names = [str(n) for n in data.item_meta["name"].tolist()]
    user_names = [str(n) for n in data.user_meta["name"].tolist()]
    handles = _column(data.user_meta, "handle", n_users)
    item_keys = [n.casefold() for n in item_names]
    name_keys = [n.casefold() for n in user_names]
    item_size, user_size = _sizes(model)
    name_rank = np.empty(n_users, dtype=np.int64)
    name_rank[sorted(range(n_users), key=name_keys.__getitem__)] = np.arange(n_users)
    items = pd.DataFrame({
        "name": pd.Series(item_names, dtype=object),
        "key": pd.Series(item_keys, dtype=object),
        "description": pd.Series(_column(data.item_meta, "description", n_items), dtype=object),
        "order": np.array(sorted(range(n_items), key=lambda i: (-item_size[i], item_keys[i])), dtype=np.int64),
        "by_key": np.array(sorted(range(n_items), key=item_keys.__getitem__), dtype=np.int64),
    })
    users = pd.DataFrame({
        "name": pd.Series(user_names, dtype=object),
        "name_key": pd.Series(name_keys, dtype=object),
        "handle": pd.Series(handles, dtype=object),
        "handle_key": pd.Series([h.casefold() for h in handles], dtype=object),
        "title": pd.Series(_column(data.user_meta, "title", n_users), dtype=object),
        "order": np.array(sorted(range(n_users), key=lambda u: (-user_size[u], name_keys[u])), dtype=np.int64),
        "name_rank": name_rank,
    })
    return Prepared(items=items, users=users)


def save_prepared(prepared: Prepared, folder: str | os.PathLike[str]) -> None:
    """Write ``prepared`` into the model folder ``folder`` (its :data:`PREPARED_DIR`); called
    inside the model's own whole-or-nothing write, so the tables always match the model."""
    out = Path(folder) / PREPARED_DIR
    out.mkdir()
    write_table(prepared.items, out, "items")
    write_table(prepared.users, out, "users")


def load_prepared(folder: str | os.PathLike[str], model: TeamModel) -> Prepared | None:
    """The prepared tables saved with the model folder ``folder`` (None when it has none, as a
    model saved by ``teamrec`` commands, or when they do not fit ``model``)."""
    src = Path(folder) / PREPARED_DIR
    if not has_table(src, "items") or not has_table(src, "users"):
        return None
    items = read_table(src, "items")
    users = read_table(src, "users")
    if len(items) != model.data.n_items or len(users) != model.data.n_users:
        log.warning("prepared serving tables in %s do not fit the model: built here instead", folder)
        return None
    return Prepared(items=items, users=users)


def _sizes(model: TeamModel) -> tuple[np.ndarray, np.ndarray]:
    """People per item and items per person (stored interactions)."""
    matrix = model.data.matrix
    item_size = np.bincount(matrix.indices, minlength=model.data.n_items).astype(np.int64)
    return item_size, np.diff(matrix.indptr).astype(np.int64)


class ServingIndex:
    """Precomputed lookups for one team model (see the module docstring)."""

    def __init__(self, model: TeamModel, prepared: Prepared | None = None) -> None:
        """The index of ``model``, from its ``prepared`` tables (prepared here when None).
        Lists come from columns in one call each (``tolist``), never a Python loop per item."""
        run_steps(self._build(model, prepared))

    @classmethod
    def build_steps(cls, model: TeamModel, prepared: Prepared | None = None) -> Steps[ServingIndex]:
        """The index in steps of a few milliseconds, for a swap run between requests."""
        index = cls.__new__(cls)
        yield from index._build(model, prepared)
        return index

    def _build(self, model: TeamModel, prepared: Prepared | None) -> Steps[None]:
        data = model.data
        if prepared is None:
            prepared = prepare(model)
        items, users = prepared.items, prepared.users
        self.model = model
        self.algorithm = model.algorithm
        self.n_items = data.n_items
        self.n_users = data.n_users
        self.item_ids: list[str] = data.items.ids.tolist()  # a Vocab's ids are str already
        self.user_ids: list[str] = data.users.ids.tolist()
        yield
        self.item_names: list[str] = items["name"].tolist()
        self.user_names: list[str] = users["name"].tolist()
        self.item_descriptions: list[str] = items["description"].tolist()
        self.item_archived: list[bool] = list(map(bool, data.item_meta["archived"].tolist()))
        self.user_handles: list[str] = users["handle"].tolist()
        self.user_titles: list[str] = users["title"].tolist()
        self.private = np.asarray(data.private, dtype=bool).copy()
        self.private.setflags(write=False)
        self.has_private = bool(self.private.any())
        assert data.members is not None  # build_matrix always fills it
        self.members = data.members.tocsr()
        matrix = data.matrix
        self.item_size, self.user_size = _sizes(model)
        yield
        # Search keys and the default order of the pickers (largest first, then by name).
        self._item_keys: list[str] = items["key"].tolist()
        self._user_name_keys: list[str] = users["name_key"].tolist()
        self._user_handle_keys: list[str] = users["handle_key"].tolist()
        self._item_order: list[int] = items["order"].tolist()
        self._user_order: list[int] = users["order"].tolist()
        yield
        # For readers who may not see every item: items by name (to resolve a name among
        # the items the reader may see: the run of equal keys in key order, found by
        # bisection), each person's name rank (to order people by what the reader may see
        # of them) and the people x items pattern to count it with.
        self._by_key = items["by_key"].to_numpy(dtype=np.int64)
        self._sorted_keys: list[str] = np.asarray(items["key"].to_numpy(dtype=object))[self._by_key].tolist()
        self._user_name_rank = users["name_rank"].to_numpy(dtype=np.int64)
        yield
        self._pattern = matrix.copy().tocsr()
        self._pattern.data = np.ones_like(self._pattern.data, dtype=np.float64)
        self.public_user_size = self.seen_sizes(self.private)
        self.n_public_items = int((~self.private).sum())
        self.public_interactions = int(self.public_user_size.sum())

    # -- lookups ---------------------------------------------------------------------------
    def user_index(self, key: str) -> int:
        """A person by id, or by name or handle; :class:`UnknownIdError` if unknown."""
        u = self.model.data.users.get(key)  # the vocabulary's own id -> index dict
        return u if u is not None else self.model.data.find_user(key)

    def item_index(self, key: str, hidden: np.ndarray | None = None) -> int:
        """An item by id, or by name (``#name``); :class:`UnknownIdError` if unknown.

        With ``hidden`` (what the reader may not see) a name is resolved among the items the
        reader may see: a private channel sharing the name neither makes the name ambiguous
        nor is counted in the message. A name only one hidden item has resolves to it, and
        the caller's privacy rule then refuses it (403 for a named non-member, 404 anonymous)."""
        i = self.model.data.items.get(key)
        if i is not None:
            return i
        if hidden is None:
            return self.model.data.find_item(key)
        wanted = key.lstrip("#@").casefold()
        start = bisect.bisect_left(self._sorted_keys, wanted)
        hits = self._by_key[start:bisect.bisect_right(self._sorted_keys, wanted, lo=start)].tolist()
        seen = [i for i in hits if not hidden[i]]
        if len(seen) == 1:
            return seen[0]
        if seen:
            raise UnknownIdError("item", key, f"{len(seen)} items have that name; use the id")
        if len(hits) == 1:
            return hits[0]
        raise UnknownIdError("item", key)

    def viewer_index(self, key: str | None) -> int | None:
        if key is None:
            return None
        try:
            return self.user_index(key)
        except UnknownIdError:
            return None

    def hidden(self, viewer: int | None) -> np.ndarray:
        """A fresh boolean mask of the items ``viewer`` may not see (private, not a member)."""
        mask = self.private.copy()
        if viewer is not None and self.has_private:
            start, end = self.members.indptr[viewer], self.members.indptr[viewer + 1]
            mask[self.members.indices[start:end]] = False
        return mask

    # -- items and people --------------------------------------------------------------------
    def item_ref(self, i: int) -> dict[str, Any]:
        return {
            "id": self.item_ids[i],
            "name": self.item_names[i],
            "description": self.item_descriptions[i],
            "private": bool(self.private[i]),
            "archived": self.item_archived[i],
            "people": int(self.item_size[i]),
        }

    def seen_sizes(self, hidden: np.ndarray) -> np.ndarray:
        """How many items each person has among those not ``hidden`` (one sparse product)."""
        return np.asarray(self._pattern @ (~hidden).astype(np.float64)).ravel().round().astype(np.int64)

    def person_ref(self, u: int, hidden: np.ndarray | None = None) -> dict[str, Any]:
        """One person; ``items`` counts only what is not ``hidden`` from the reader (a private
        membership is not even counted for a reader who may not see it)."""
        if hidden is None:
            size = int(self.user_size[u])
        else:
            start, end = self._pattern.indptr[u], self._pattern.indptr[u + 1]
            size = int((~hidden[self._pattern.indices[start:end]]).sum())
        return {
            "id": self.user_ids[u],
            "name": self.user_names[u],
            "handle": self.user_handles[u] or None,
            "title": self.user_titles[u] or None,
            "items": size,
        }

    def item(self, key: str, viewer: str | None = None) -> dict[str, Any]:
        """One item's description; a private one only for its members."""
        hidden = self.hidden(self.viewer_index(viewer))
        i = self.item_index(key, hidden)
        if hidden[i]:
            raise AccessDeniedError(f"{key!r} is private to its members")
        return self.item_ref(i)

    def search_items(self, query: str, limit: int = 10, viewer: str | None = None) -> list[dict[str, Any]]:
        """Items whose name contains ``query`` (case-insensitive; ``#`` ignored), exact matches
        first, then names starting with it, then the rest, each by size; private items only
        for their members. An empty query lists the largest items."""
        hidden = self.hidden(self.viewer_index(viewer))
        q = query.strip().lstrip("#").casefold()
        if not q:
            order = self._item_order
        else:
            hits = []
            for i, name in enumerate(self._item_keys):
                pos = name.find(q)
                if pos >= 0 or self.item_ids[i] == query:
                    rank = 0 if name == q or self.item_ids[i] == query else 1 if pos == 0 else 2
                    hits.append((rank, -self.item_size[i], name, i))
            order = [h[3] for h in sorted(hits)]
        return [self.item_ref(i) for i in _take_visible(order, hidden, limit)]

    def search_people(self, query: str, limit: int = 10, hidden: np.ndarray | None = None) -> list[dict[str, Any]]:
        """People whose name or handle contains ``query`` (case-insensitive), ranked like
        :meth:`search_items` (exact, then a word starting with it, then anywhere), each group
        by how many items they have: only the items not ``hidden`` from the reader count."""
        sizes = self.user_size if hidden is None else (
            self.public_user_size if np.array_equal(hidden, self.private) else self.seen_sizes(hidden))
        q = query.strip().lstrip("@").casefold()
        if not q:
            if hidden is None:
                order = self._user_order[:limit]
            else:
                order = [int(u) for u in np.lexsort((self._user_name_rank, -sizes))[:limit]]
        else:
            hits = []
            for u, (name, handle) in enumerate(zip(self._user_name_keys, self._user_handle_keys, strict=True)):
                if q in name or q in handle or self.user_ids[u] == query:
                    if name == q or handle == q or self.user_ids[u] == query:
                        rank = 0
                    elif any(w.startswith(q) for w in name.split()) or handle.startswith(q):
                        rank = 1
                    else:
                        rank = 2
                    hits.append((rank, -sizes[u], name, u))
            order = [h[3] for h in sorted(hits)[:limit]]
        return [self.person_ref(u, hidden) for u in order]

    def warm_up(self) -> None:
        """Fit the TeamModel's lazy helpers now, before this index serves a request (so no
        request pays for them, and no two requests fit them at once)."""
        run_steps(self.warm_up_steps())

    def warm_up_steps(self) -> Steps[None]:
        """:meth:`warm_up` in steps (one helper each), for a swap run between requests."""
        if not (self.n_users and self.n_items):
            return
        user = self.user_ids[int(np.argmax(self.user_size))]
        # People like you from the public items: cached with the model when some items are
        # private, else the algorithm's own (or its helper's) similarities, fitted now.
        self.model.similar_users(user, 1, public_only=True)
        yield
        public = np.flatnonzero(~self.private)
        if len(public):
            self.model.similar_items(self.item_ids[int(public[np.argmax(self.item_size[public])])], 1)
            yield
        self.model.recommend(user, 1, explain=True)
        yield
        self.model.recommend(user, 1)


def _column(meta, name: str, n: int) -> list[str]:
    if name not in meta.columns:
        return [""] * n
    return ["" if v is None or (isinstance(v, float) and np.isnan(v)) else str(v) for v in meta[name].tolist()]


def _take_visible(order: list[int], hidden: np.ndarray, limit: int) -> list[int]:
    out = []
    for i in order:
        if not hidden[i]:
            out.append(i)
            if len(out) >= limit:
                break
    return out
