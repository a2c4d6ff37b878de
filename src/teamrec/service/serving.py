"""A serving index over one fitted :class:`~teamrec.recommender.TeamModel`: the same answers,
with everything a request would otherwise rebuild computed once per model.

``TeamModel`` is written for clarity and batch use: each call looks ids up through pandas and
converts name columns to arrays. At hundreds of requests a second those conversions are most
of the cost, so the service builds this index once per model, *before* the model is swapped
in, and answers the hot question -- recommendations without explanations -- from it:

* ids -> indices through plain dicts; names, descriptions and sizes as plain lists;
* the private mask as one boolean array, and a person's hidden items (private channels they
  are not in) computed on demand from their membership row, never a DataFrame;
* scoring and ranking through the algorithm's own ``recommend`` (the contract), with the
  popularity fill and the privacy rules of ``TeamModel.recommend`` -- a test pins the two to
  the same results.

Explanations, similar items and similar people go to the ``TeamModel`` itself (their reasons
are per result, not per request). Search for the pickers (items and people by name) lives
here too. An index is immutable once built and safe to share between threads.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from teamrec.algorithms import _topk
from teamrec.algorithms.popularity import Popularity
from teamrec.errors import AccessDeniedError, UnknownIdError
from teamrec.recommender import TeamModel

_NEW_HERE = "new here: popular in this team"
_POPULAR = "popular in this team"


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
        self._item_names_index = _NameIndex(data.item_meta, "item")
        self._user_names_index = _NameIndex(data.user_meta, "user")
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
        self.fallback = self.algorithm if isinstance(self.algorithm, Popularity) else Popularity().fit(matrix)
        # Search keys and the default order of the pickers (largest first, then by name).
        self._item_keys = [n.casefold() for n in self.item_names]
        self._user_keys = [
            (n.casefold(), h.casefold()) for n, h in zip(self.user_names, self.user_handles, strict=True)
        ]
        self._item_order = sorted(range(self.n_items), key=lambda i: (-self.item_size[i], self._item_keys[i]))
        self._user_order = sorted(range(self.n_users), key=lambda u: (-self.user_size[u], self._user_keys[u][0]))
        self._popular_cache: dict[int, list[dict[str, Any]]] = {}

    # -- lookups ---------------------------------------------------------------------------
    def user_index(self, key: str) -> int:
        """A person by id, or by name or handle; :class:`UnknownIdError` if unknown."""
        u = self.user_pos.get(key)
        return u if u is not None else self._user_names_index.find(key)

    def item_index(self, key: str) -> int:
        """An item by id, or by name (``#name``); :class:`UnknownIdError` if unknown."""
        i = self.item_pos.get(key)
        return i if i is not None else self._item_names_index.find(key)

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

    # -- recommendations -------------------------------------------------------------------
    def recommend(
        self,
        user: str,
        k: int = 10,
        *,
        exclude: list[str] | None = None,
        candidates: list[str] | None = None,
        explain: bool = False,
        public_only: bool = False,
    ) -> list[dict[str, Any]]:
        """What ``TeamModel.recommend`` answers, as plain dicts (see the module docstring)."""
        if explain:
            explained = self.model.recommend(
                user, k, exclude=exclude, candidates=candidates, explain=True, public_only=public_only
            )
            return [r.to_dict() for r in explained]
        try:
            u = self.user_index(user)
        except UnknownIdError:
            return self.popular(k, exclude, candidates)
        mask = self.hidden(None if public_only else u)
        if exclude:
            mask[self._known_items(exclude)] = True
        cand = self._known_items(candidates) if candidates is not None else None
        users = np.array([u])
        items, scores = self._rank(u, k, mask, cand)
        results = self._results(items, scores, None, {})
        if len(results) < k and self.fallback is not self.algorithm:
            mask[items[items >= 0]] = True
            more, more_scores = self.fallback.recommend(
                users, k - len(results), exclude_seen=True, candidates=cand, exclude=mask[None, :]
            )
            results += self._results(more[0], more_scores[0], _POPULAR, {"fallback": "popularity"})
        return results

    def _rank(self, u: int, k: int, mask: np.ndarray, candidates: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
        """``algorithm.recommend([u], k, exclude_seen=True, exclude=mask, candidates=...)`` for
        one person, without its batch machinery: the algorithm's own ranking keys
        (``_rank_keys``, the contract's hook) and the shared top-k helper, with what the person
        already has added to ``mask`` straight from the CSR arrays (no sparse slicing)."""
        X = self.algorithm.X_
        start, end = X.indptr[u], X.indptr[u + 1]
        seen = X.indices[start:end][X.data[start:end] != 0]
        primary, secondary = self.algorithm._rank_keys(np.array([u]), None)
        full = mask.copy()
        full[seen] = True
        items, scores = _topk.topk(primary, k, exclude=full[None, :], candidates=candidates, secondary=secondary)
        return items[0], scores[0]

    def popular(
        self, k: int, exclude: list[str] | None = None, candidates: list[str] | None = None
    ) -> list[dict[str, Any]]:
        """The popular public items, for someone the model has never seen."""
        plain = not exclude and candidates is None
        if plain and k in self._popular_cache:
            return [dict(r) for r in self._popular_cache[k]]
        mask = self.hidden(None)
        if exclude:
            mask[self._known_items(exclude)] = True
        cand = self._known_items(candidates) if candidates is not None else None
        items, scores = self.fallback.recommend(
            np.array([0]), k, exclude_seen=False, candidates=cand, exclude=mask[None, :]
        )
        results = self._results(items[0], scores[0], _NEW_HERE, {})
        if plain and len(self._popular_cache) < 64:
            self._popular_cache[k] = [dict(r) for r in results]
        return results

    def _results(
        self, items: np.ndarray, scores: np.ndarray, reason: str | None, details: dict
    ) -> list[dict[str, Any]]:
        ids, names = self.item_ids, self.item_names
        return [
            {"id": ids[i], "name": names[i], "score": float(s), "reason": reason, "details": dict(details)}
            for i, s in zip(items.tolist(), scores.tolist(), strict=True)
            if i >= 0
        ]

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

    def person_ref(self, u: int) -> dict[str, Any]:
        return {
            "id": self.user_ids[u],
            "name": self.user_names[u],
            "handle": self.user_handles[u] or None,
            "title": self.user_titles[u] or None,
            "items": int(self.user_size[u]),
        }

    def item(self, key: str, viewer: str | None = None) -> dict[str, Any]:
        """One item's description; a private one only for its members."""
        i = self.item_index(key)
        if self.hidden(self.viewer_index(viewer))[i]:
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

    def search_people(self, query: str, limit: int = 10) -> list[dict[str, Any]]:
        """People whose name or handle contains ``query`` (case-insensitive), ranked like
        :meth:`search_items` (exact, then a word starting with it, then anywhere)."""
        q = query.strip().lstrip("@").casefold()
        if not q:
            order = self._user_order[:limit]
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
                    hits.append((rank, -self.user_size[u], name, u))
            order = [h[3] for h in sorted(hits)[:limit]]
        return [self.person_ref(u) for u in order]

    def warm_up(self) -> None:
        """Fit the TeamModel's lazy helpers now, before this index serves a request (so no
        request pays for them, and no two requests fit them at once)."""
        if not (self.n_users and self.n_items):
            return
        user = self.user_ids[int(np.argmax(self.user_size))]
        self.model.similar_users(user, 1)
        public = np.flatnonzero(~self.private)
        if len(public):
            self.model.similar_items(self.item_ids[int(public[np.argmax(self.item_size[public])])], 1)
        self.model.recommend(user, 1, explain=True)
        self.recommend(user, 1)


class _NameIndex:
    """``InteractionMatrix.find_user`` / ``find_item`` by name, as dicts: the name, then the
    handle, then the real name, case-insensitive, ``#``/``@`` ignored; a name two share is
    no answer (:class:`UnknownIdError` saying to use the id)."""

    COLUMNS = ("name", "handle", "real_name")

    def __init__(self, meta, kind: str) -> None:
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
