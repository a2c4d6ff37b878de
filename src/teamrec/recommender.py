"""The person-facing API of one team: ids and names in, explained recommendations out.

:class:`TeamModel` joins a fitted :class:`~teamrec.algorithms.base.Algorithm` (which works on
indices) with the team's :class:`~teamrec.data.matrix.InteractionMatrix` (ids, names,
privacy). It is what the CLI, the HTTP service, the Slack app and the Spark job call, so the
rules live here once:

* private items are never shown to a non-member (recommended, listed as similar, or explained);
  archived items are never recommended or listed as similar to anyone (the matrix's masks);
* a person or item the model has never seen degrades to a popularity fallback with a reason,
  it does not crash (an unknown *query* item is an :class:`~teamrec.errors.UnknownIdError`);
* every answer can say why, in words ("8 of the 12 members of #ml are also in #bi").
"""

from __future__ import annotations

import copy
import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from teamrec._files import write_folder
from teamrec._steps import Steps, run_steps
from teamrec._tables import read_table, write_table
from teamrec.algorithms._npz import load_csr
from teamrec.algorithms._topk import topk
from teamrec.algorithms.base import Algorithm, Explanation
from teamrec.algorithms.popularity import Popularity
from teamrec.algorithms.registry import create
from teamrec.data.matrix import InteractionMatrix
from teamrec.data.vocab import Vocab
from teamrec.errors import AccessDeniedError, DataError, UnknownIdError, UnsupportedError
from teamrec.policy import DEFAULT_POLICY, RecommendationPolicy, Slot
from teamrec.reasons import render as render_reason

#: How many contributions an explanation considers before naming the three most telling.
EXPLAIN_POOL = 12

NEW_HERE = "new here: popular in this team"
POPULAR = "popular in this team"
_NO_FILL = RecommendationPolicy(fill=False)


@dataclass
class Result:
    """One recommended item or person, with its score and (optionally) the reasons."""

    id: str
    name: str
    score: float
    reason: str | None = None
    details: dict[str, Any] = field(default_factory=dict)
    #: For recommendations: the 1-based position served, whether the exploration hook put the
    #: item there and the probability it had of being shown there (for impression logs).
    position: int | None = None
    explored: bool = False
    propensity: float | None = None

    def to_dict(self) -> dict[str, Any]:
        """The fields as a plain dict (``details`` copied deep: the dict is the caller's).

        Written out rather than ``dataclasses.asdict``, whose generic recursion was a sixth
        of a recommendation request's CPU (ten results per answer)."""
        return {"id": self.id, "name": self.name, "score": self.score, "reason": self.reason,
                "details": copy.deepcopy(self.details) if self.details else {}, "position": self.position,
                "explored": self.explored, "propensity": self.propensity}


class TeamModel:
    """A fitted algorithm plus the team's matrix: the API people use."""

    def __init__(self, algorithm: Algorithm, data: InteractionMatrix) -> None:
        algorithm._check_fitted()
        if algorithm.X_.shape != data.shape:
            raise ValueError(f"model shape {algorithm.X_.shape} does not match data {data.shape}")
        self.algorithm = algorithm
        self.data = data
        self._fallback = algorithm if isinstance(algorithm, Popularity) else Popularity().fit(data.matrix)
        self._binary = (data.matrix > 0).astype(np.float64).tocsc()
        # Arrays a request reads, cached once (never a DataFrame column per request).
        self._item_ids: list[str] = data.items.ids.tolist()  # a Vocab's ids are str already
        self._item_name_list: list[str] = list(map(str, data.item_meta["name"].tolist()))
        #: People per item and the inverse frequency reasons rank the items they name by.
        self._item_size = np.diff(self._binary.indptr)
        self._idf = np.log((1.0 + data.n_users) / (1.0 + self._item_size))
        # Helpers for what the chosen algorithm does not offer, fitted once on first use.
        self._helpers: dict[str, Algorithm] = {}
        #: What the model was built from, kept with a saved model (e.g. the service's count
        #: and sequence number of the stored events it learnt from). Plain JSON values.
        self.provenance: dict[str, Any] = {}
        self._seen_cache: tuple[sp.csr_matrix, np.ndarray] | None = None

    @classmethod
    def fit(
        cls, data: InteractionMatrix, algorithm: str = "item-knn", params: dict[str, Any] | None = None
    ) -> TeamModel:
        """Fit ``algorithm`` (a registry name) with ``params`` on ``data``."""
        return cls(create(algorithm, params).fit(data), data)

    @property
    def team(self) -> str:
        return self.data.team

    # -- lookups ---------------------------------------------------------------------------
    def _user(self, key: str) -> int:
        return self.data.find_user(key)

    def _item(self, key: str) -> int:
        return self.data.find_item(key)

    def _is_member(self, user: int | None, item: int) -> bool:
        members = self.data.members
        return user is not None and members is not None and bool(members[user, item])

    def _visible(self, viewer: int | None) -> np.ndarray:
        """Boolean mask of items ``viewer`` may see (None: public items only)."""
        visible = ~self.data.private
        if viewer is not None and self.data.members is not None and self.data.private.any():
            visible |= self.data.members[viewer].toarray().ravel().astype(bool)
        return visible

    def _item_results(self, items: np.ndarray, scores: np.ndarray) -> list[Result]:
        names = self.data.item_names(items[items >= 0])
        return [
            Result(id=str(self.data.items.id_of(i)), name=str(n), score=float(s))
            for i, n, s in zip(items[items >= 0], names, scores[items >= 0], strict=True)
        ]

    # -- recommendations -------------------------------------------------------------------
    def recommend(
        self,
        user: str,
        k: int = 10,
        *,
        exclude: list[str] | None = None,
        candidates: list[str] | None = None,
        explain: bool = False,
        fill: bool = True,
        public_only: bool = False,
        user_items: sp.spmatrix | None = None,
        hide: np.ndarray | None = None,
        policy: RecommendationPolicy | None = None,
        rng: np.random.Generator | int | None = None,
    ) -> list[Result]:
        """The ``k`` items ``user`` should look at, best first: the one policy's list
        (:mod:`teamrec.policy`) with ids, names and (with ``explain``) reasons.

        ``public_only``: the asker is not known to be ``user`` (an anonymous reader of the
        service), so private items are neither returned nor named in reasons, even the
        person's own. What ``user`` dismissed or left is never returned.

        ``user_items`` (a 1 x n_items row) is the person's *fresh* row, folded in at request
        time instead of the stored one (events that arrived after the model was fitted); with
        it, a person the model has never seen gets personal recommendations. ``hide`` (a
        boolean mask over items) adds items never to return (fresh dismissals and leaves).

        A person with neither a stored nor a fresh row gets the most popular public items,
        each with a reason saying so. ``exclude`` and ``candidates`` are item ids or names;
        unknown ones are ignored. When the algorithm has fewer than ``k`` items with evidence
        for this person, ``fill`` completes the list with popular items they may see, marked
        ``details["fallback"] = "popularity"``.
        """
        u = self.data.users.get(user)
        if u is None:
            try:
                u = self._user(user)
            except UnknownIdError:
                u = None
        known = u is not None
        if not known and (user_items is None or sp.csr_matrix(user_items).nnz == 0):
            return self._popular(k, exclude, candidates, reason=NEW_HERE, hide=hide)
        mask = self.data.hidden_row(u, public_only=public_only)
        if hide is not None:
            mask |= hide
        if exclude:
            mask[self._known_items(exclude)] = True
        cand = self._known_items(candidates) if candidates is not None else None
        policy = policy or (DEFAULT_POLICY if fill else _NO_FILL)
        ranking = policy.rank(
            self.algorithm, self._fallback, np.array([u if known else 0]), k,
            hidden=mask[None, :], candidates=cand, user_items=user_items, rng=rng,
        )
        results = self._slot_results(ranking.slots(0))
        if explain and u is not None:
            visible = ~self.data.hidden_row(None if public_only else u)
            for res in results:
                if not res.details.get("fallback"):
                    res.reason, res.details = self._explain_recommendation(u, self._item(res.id), visible)
        return results

    def _slot_results(self, slots: list[Slot]) -> list[Result]:
        ids, names = self._item_ids, self._item_name_list
        out = []
        for slot in slots:
            res = Result(id=str(ids[slot.item]), name=str(names[slot.item]), score=slot.score,
                         position=slot.position, explored=slot.explored, propensity=slot.propensity)
            if slot.fallback:
                res.reason, res.details = POPULAR, {"fallback": "popularity"}
            out.append(res)
        return out

    def _popular(self, k, exclude, candidates, reason: str, hide: np.ndarray | None = None) -> list[Result]:
        mask = self.data.hidden_row(None)
        if hide is not None:
            mask |= hide
        if exclude:
            mask[self._known_items(exclude)] = True
        cand = self._known_items(candidates) if candidates is not None else None
        ranking = _NO_FILL.rank(
            self._fallback, None, np.array([0]), k, hidden=mask[None, :], candidates=cand, exclude_seen=False
        )
        results = self._slot_results(ranking.slots(0))
        for res in results:
            res.reason = reason
        return results

    def _known_items(self, keys: list[str]) -> np.ndarray:
        idx = self.data.items.lookup(keys, missing="ignore")
        return idx[idx >= 0]

    def recommend_many(
        self, users: list[str] | None = None, k: int = 10, *, policy: RecommendationPolicy | None = None
    ) -> pd.DataFrame:
        """Top-``k`` for many known users at once, through the same policy as
        :meth:`recommend` (privacy, exclusions, popularity fill), as rows ``(team, user,
        rank, item, score, fallback)``: the batch output the Spark job writes."""
        idx = np.arange(self.data.n_users) if users is None else self.data.users.lookup(users)
        ranking = (policy or DEFAULT_POLICY).rank(
            self.algorithm, self._fallback, idx, k, hidden=self.data.hidden_items(idx)
        )
        rows, ranks = np.nonzero(ranking.items >= 0)
        return pd.DataFrame(
            {
                "team": self.team,
                "user": self.data.users.id_of(idx[rows]),
                "rank": ranks + 1,
                "item": self.data.items.id_of(ranking.items[rows, ranks]),
                "score": ranking.scores[rows, ranks],
                "fallback": ranking.fallback[rows, ranks],
            }
        )

    def similar_items(self, item: str, k: int = 10, *, viewer: str | None = None) -> list[Result]:
        """Items like ``item`` ("channels like #machine-learning"), never the item itself.

        Private items appear only to their members; asking about a private item one is not a
        member of is an :class:`~teamrec.errors.AccessDeniedError`. Archived items are never
        listed (an archived item may still be asked about).
        """
        i = self._item(item)
        v = self._viewer(viewer)
        if self.data.private[i] and not self._is_member(v, i):
            raise AccessDeniedError(f"{item!r} is private to its members")
        visible = self._visible(v) & ~self.data.archived
        # Ask for more than k, then drop what this viewer may not see.
        want = min(self.data.n_items, k + int((~visible).sum()))
        try:
            items, scores = self.algorithm.similar_items(np.array([i]), want)
        except UnsupportedError:
            # The chosen algorithm has no item similarities: items like this one by cosine.
            items, scores = self._helper("item-knn").similar_items(np.array([i]), want)
        keep = (items[0] >= 0) & visible[np.maximum(items[0], 0)]
        results = self._item_results(items[0][keep][:k], scores[0][keep][:k])
        for res in results:
            res.reason, res.details = self._overlap_reason(i, self._item(res.id))
        return results

    def similar_users(
        self, user: str, k: int = 10, *, public_only: bool = False, visible: np.ndarray | None = None
    ) -> list[Result]:
        """People like ``user`` (a friend finder), each with what they have in common.

        What the asker may see decides everything, scores included: ``visible`` (a boolean
        mask of items) is what the asker may see, ``public_only`` the public items, and by
        default ``user`` asks (they see their own private items). When the asker may not see
        every item, people are compared by cosine over the items they may see only, so a
        hidden membership can neither move a score nor the order (two people with the same
        visible overlap score the same); otherwise the algorithm's own similarities serve.
        """
        u = self._user(user)
        if visible is None:
            visible = self._visible(None if public_only else u)
        if not visible.all():
            users, scores = self._similar_users_seen(u, k, visible)
        else:
            try:
                users, scores = self.algorithm.similar_users(np.array([u]), k)
            except UnsupportedError:
                # The chosen algorithm has no user similarities: people-like-you by cosine.
                users, scores = self._helper("user-knn").similar_users(np.array([u]), k)
        valid = users[0] >= 0
        results = []
        for other, score in zip(users[0][valid], scores[0][valid], strict=True):
            reason, details = self._shared_items_reason(u, int(other), visible)
            results.append(
                Result(
                    id=str(self.data.users.id_of(other)),
                    name=str(self.data.user_names(other)),
                    score=float(score),
                    reason=reason,
                    details=details,
                )
            )
        return results

    def _similar_users_seen(self, u: int, k: int, visible: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The ``k`` people most like ``u`` by cosine over the ``visible`` items only
        (``cos(a, b) = a.b / (|a| |b|)`` on those columns; no overlap is no similarity), ties by
        the lower index. The public-only view is cached per model; a viewer's is computed."""
        public = bool(np.array_equal(visible, ~self.data.private))
        cached = self._seen_cache if public else None
        if cached is None:
            cols = sp.diags(visible.astype(np.float64))
            X = (self.data.matrix @ cols).tocsr()
            X.eliminate_zeros()
            norms = np.sqrt(np.asarray(X.multiply(X).sum(axis=1)).ravel())
            cached = (X, norms)
            if public:
                self._seen_cache = cached
        X, norms = cached
        dots = np.asarray((X @ X[u].T).todense()).ravel()
        with np.errstate(divide="ignore", invalid="ignore"):
            sims = np.where((norms > 0) & (norms[u] > 0), dots / (norms * norms[u]), 0.0)
        sims[sims <= 0] = -np.inf
        sims[u] = -np.inf
        return topk(sims[None, :], k)

    def _helper(self, name: str) -> Algorithm:
        """A default ``name`` model on this team's matrix, fitted once."""
        if name not in self._helpers:
            self._helpers[name] = create(name, {"neighbors": None}).fit(self.data.matrix)
        return self._helpers[name]

    def _viewer(self, viewer: str | None) -> int | None:
        if viewer is None:
            return None
        try:
            return self._user(viewer)
        except UnknownIdError:
            return None

    # -- explanations ----------------------------------------------------------------------
    def explain(self, user: str, item: str) -> Result:
        """Why ``item`` is (or would be) recommended to ``user``."""
        u, i = self._user(user), self._item(item)
        if self.data.private[i] and not self._is_member(u, i):
            raise AccessDeniedError(f"{item!r} is private to its members")
        score = float(self.algorithm.score(np.array([u]))[0, i])
        reason, details = self._explain_recommendation(u, i, self._visible(u))
        return Result(id=str(self.data.items.id_of(i)), name=str(self.data.item_names(i)),
                      score=score, reason=reason, details=details)

    def _ref(self, i: int) -> dict[str, Any]:
        return {"id": self._item_ids[i], "name": self._item_name_list[i]}

    def _reason(self, why: dict[str, Any]) -> str | None:
        return render_reason({**why, "item_kind": self.data.item_kind}, "web")

    def _explain_recommendation(self, u: int, i: int, visible: np.ndarray) -> tuple[str | None, dict[str, Any]]:
        """Why ``i`` suits ``u``, naming only items in ``visible`` (what the asker may see).

        The channels named are the ones that say most about the person: each contribution's
        weight times the item's inverse frequency, ``log((1 + people) / (1 + its size))``, so
        #general, which everybody is in, is named last (or not at all), not first."""
        try:
            exp: Explanation = self.algorithm.explain(u, i, n=EXPLAIN_POOL)
        except UnsupportedError:
            return None, {}
        items: list[tuple[float, int, dict[str, Any]]] = []
        people: list[dict[str, Any]] = []
        other: list[dict[str, Any]] = []
        for order, c in enumerate(exp.contributions):
            if c.kind == "item":
                if not visible[c.index]:
                    continue  # never name a private channel to a non-member
                detail = {"kind": "item", **self._ref(c.index), "weight": c.weight,
                          "people": int(self._item_size[c.index])}
                items.append((-abs(c.weight) * self._idf[c.index], order, detail))
            elif c.kind == "user":
                people.append({"kind": "user", "id": str(self.data.users.id_of(c.index)),
                               "name": str(self.data.user_names(c.index)), "weight": c.weight})
            else:
                other.append({"kind": c.kind, "weight": c.weight, **c.detail})
        items.sort(key=lambda t: (t[0], t[1]))
        named = [d for _, _, d in items[:3]]
        details = named + people[:3] + other[:3]
        if named:
            why = {"kind": "because_in", "items": [{"id": d["id"], "name": d["name"]} for d in named]}
        elif people:
            why = {"kind": "people_like_you", "people": [{"id": d["id"], "name": d["name"]} for d in people[:3]]}
        elif any(d["kind"] == "popularity" for d in other):
            why = {"kind": "popular"}
        else:
            return None, {"contributions": details}
        why["item_kind"] = self.data.item_kind
        return self._reason(why), {"contributions": details, "why": why}

    def _overlap_reason(self, a: int, b: int) -> tuple[str, dict[str, Any]]:
        col_a, col_b = self._binary[:, a], self._binary[:, b]
        n_a = int(col_a.nnz)
        common = int(col_a.multiply(col_b).nnz)
        counts = {"common": common, "query_size": n_a, "item_size": int(col_b.nnz)}
        why = {"kind": "overlap", "items": [self._ref(a), self._ref(b)], "counts": counts,
               "item_kind": self.data.item_kind}
        return self._reason(why) or "", {**counts, "why": why}

    def _shared_items_reason(self, u: int, v: int, visible: np.ndarray) -> tuple[str, dict[str, Any]]:
        """What ``u`` and ``v`` have in common, counting and naming only ``visible`` items
        (a private channel is not even counted for an asker who may not see it); the items
        named are the most telling ones (the smallest: inverse frequency)."""
        row_u = self.data.matrix[u].indices
        row_v = self.data.matrix[v].indices
        shared = np.intersect1d(row_u, row_v)
        shared = shared[visible[shared]]
        telling = shared[np.argsort(-self._idf[shared], kind="stable")][:3]
        why = {"kind": "shared", "items": [self._ref(int(i)) for i in telling], "counts": {"shared": int(len(shared))},
               "item_kind": self.data.item_kind}
        return self._reason(why) or "", {"shared": int(len(shared)), "why": why}

    # -- persistence -----------------------------------------------------------------------
    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the model and the team's matrix to a folder (arrays, Parquet and JSON)."""
        return save_team_model(self, path)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> TeamModel:
        return load_team_model(path)


def save_team_model(
    model: TeamModel, path: str | os.PathLike[str], *, extra: Callable[[Path], object] | None = None
) -> Path:
    """Write the model folder whole or not at all (a reader sees the old model or the new).
    ``extra(folder)`` writes more files into it within the same write (e.g. the service's
    prepared serving tables), so they are there exactly when the model is."""

    def write(folder: Path) -> None:
        model.algorithm.save(folder / "algorithm")
        data = model.data
        sp.save_npz(folder / "matrix.npz", data.matrix, compressed=False)
        sp.save_npz(folder / "members.npz", sp.csr_matrix(data.members, dtype=bool), compressed=False)
        sp.save_npz(folder / "excluded.npz", sp.csr_matrix(data.excluded, dtype=bool), compressed=False)
        write_table(data.item_meta, folder, "items")
        write_table(data.user_meta, folder, "users")
        meta = {"team": data.team, "algorithm": model.algorithm.name, "item_kind": data.item_kind,
                "provenance": model.provenance}
        (folder / "team.json").write_text(json.dumps(meta, indent=2))
        if extra is not None:
            extra(folder)

    return write_folder(path, write, marker="team.json", what="a saved teamrec model")


def load_team_model(path: str | os.PathLike[str]) -> TeamModel:
    """A model folder :func:`save_team_model` wrote."""
    return run_steps(load_team_model_steps(path))


def load_team_model_steps(path: str | os.PathLike[str]) -> Steps[TeamModel]:
    """:func:`load_team_model` in steps of a few milliseconds each (a generator that yields
    between them and returns the model), so a server can answer requests between the steps
    of a model swap (:mod:`teamrec.service.foreground`)."""
    folder = Path(path)
    if not (folder / "team.json").exists():
        raise DataError("not a saved teamrec model folder (no team.json)", file=str(folder))
    meta = json.loads((folder / "team.json").read_text())
    algorithm = Algorithm.load(folder / "algorithm")
    yield
    item_meta = read_table(folder, "items")
    yield
    user_meta = read_table(folder, "users")
    yield
    matrix, members = load_csr(folder / "matrix.npz"), load_csr(folder / "members.npz")
    excluded = load_csr(folder / "excluded.npz") if (folder / "excluded.npz").exists() else None
    yield
    users = Vocab(user_meta["user"].to_numpy(), kind="user")
    items = Vocab(item_meta["item"].to_numpy(), kind="item")
    yield
    data = InteractionMatrix(
        matrix=matrix,
        users=users,
        items=items,
        team=meta["team"],
        item_meta=item_meta,
        user_meta=user_meta,
        members=members,
        item_kind=meta.get("item_kind", "item"),
        excluded=excluded,
    )
    yield
    model = TeamModel(algorithm, data)
    model.provenance = dict(meta.get("provenance") or {})
    return model
