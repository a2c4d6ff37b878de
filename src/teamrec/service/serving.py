"""A search index over one fitted :class:`~teamrec.recommender.TeamModel`, for the pickers.

Built once per model, *before* the model is swapped in: items and people by name (exact
matches first, then names starting with the query, then the rest, each by size), the
descriptions and sizes the pickers show, and the private mask. Recommendations are not
answered here: they come from the one policy through :class:`TeamModel` (the speed a mirror
of it once bought now comes from the data layer: O(1) id lookups, arrays cached once, a fast
one-person path). An index is immutable once built and safe to share between threads.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from teamrec.errors import AccessDeniedError, UnknownIdError
from teamrec.recommender import TeamModel


class ServingIndex:
    """Precomputed lookups for one team model (see the module docstring)."""

    def __init__(self, model: TeamModel) -> None:
        data = model.data
        self.model = model
        self.algorithm = model.algorithm
        self.n_items = data.n_items
        self.n_users = data.n_users
        self.item_ids: list[str] = [str(x) for x in data.items.ids]
        self.user_ids: list[str] = [str(x) for x in data.users.ids]
        self.item_pos = {x: i for i, x in enumerate(self.item_ids)}
        self.user_pos = {x: u for u, x in enumerate(self.user_ids)}
        self.item_names: list[str] = [str(n) for n in data.item_meta["name"].tolist()]
        self.user_names: list[str] = [str(n) for n in data.user_meta["name"].tolist()]
        self.item_descriptions: list[str] = _column(data.item_meta, "description", self.n_items)
        self.item_archived: list[bool] = [bool(x) for x in data.item_meta["archived"].tolist()]
        self.user_handles: list[str] = _column(data.user_meta, "handle", self.n_users)
        self.user_titles: list[str] = _column(data.user_meta, "title", self.n_users)
        self.private = np.asarray(data.private, dtype=bool).copy()
        self.private.setflags(write=False)
        self.has_private = bool(self.private.any())
        assert data.members is not None  # build_matrix always fills it
        self.members = data.members.tocsr()
        matrix = data.matrix
        self.item_size = np.bincount(matrix.indices, minlength=self.n_items).astype(np.int64)
        self.user_size = np.diff(matrix.indptr).astype(np.int64)
        # Search keys and the default order of the pickers (largest first, then by name).
        self._item_keys = [n.casefold() for n in self.item_names]
        self._user_keys = [
            (n.casefold(), h.casefold()) for n, h in zip(self.user_names, self.user_handles, strict=True)
        ]
        self._item_order = sorted(range(self.n_items), key=lambda i: (-self.item_size[i], self._item_keys[i]))
        self._user_order = sorted(range(self.n_users), key=lambda u: (-self.user_size[u], self._user_keys[u][0]))
        # For readers who may not see every item: items by name (to resolve a name among
        # the items the reader may see), each person's name rank (to order people by what
        # the reader may see of them) and the people x items pattern to count it with.
        self._item_by_name: dict[str, list[int]] = {}
        for i, key in enumerate(self._item_keys):
            self._item_by_name.setdefault(key, []).append(i)
        self._user_name_rank = np.empty(self.n_users, dtype=np.int64)
        self._user_name_rank[np.argsort(np.array([k[0] for k in self._user_keys], dtype=object), kind="stable")] = (
            np.arange(self.n_users)
        )
        self._pattern = matrix.copy().tocsr()
        self._pattern.data = np.ones_like(self._pattern.data, dtype=np.float64)
        self.public_user_size = self.seen_sizes(self.private)
        self.n_public_items = int((~self.private).sum())
        self.public_interactions = int(self.public_user_size.sum())

    # -- lookups ---------------------------------------------------------------------------
    def user_index(self, key: str) -> int:
        """A person by id, or by name or handle; :class:`UnknownIdError` if unknown."""
        u = self.user_pos.get(key)
        return u if u is not None else self.model.data.find_user(key)

    def item_index(self, key: str, hidden: np.ndarray | None = None) -> int:
        """An item by id, or by name (``#name``); :class:`UnknownIdError` if unknown.

        With ``hidden`` (what the reader may not see) a name is resolved among the items the
        reader may see: a private channel sharing the name neither makes the name ambiguous
        nor is counted in the message. A name only one hidden item has resolves to it, and
        the caller's privacy rule then refuses it (403 for a named non-member, 404 anonymous)."""
        i = self.item_pos.get(key)
        if i is not None:
            return i
        if hidden is None:
            return self.model.data.find_item(key)
        hits = self._item_by_name.get(key.lstrip("#@").casefold(), [])
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

    def _known_items(self, keys: list[str]) -> np.ndarray:
        pos = self.item_pos
        return np.fromiter((pos[k] for k in keys if k in pos), dtype=np.int64)

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
            for u, (name, handle) in enumerate(self._user_keys):
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
        if not (self.n_users and self.n_items):
            return
        user = self.user_ids[int(np.argmax(self.user_size))]
        self.model.similar_users(user, 1)
        self.model.similar_users(user, 1, public_only=True)
        public = np.flatnonzero(~self.private)
        if len(public):
            self.model.similar_items(self.item_ids[int(public[np.argmax(self.item_size[public])])], 1)
        self.model.recommend(user, 1, explain=True)
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
