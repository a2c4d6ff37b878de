"""The person-facing API of one team: ids and names in, explained recommendations out.

:class:`TeamModel` joins a fitted :class:`~teamrec.algorithms.base.Algorithm` (which works on
indices) with the team's :class:`~teamrec.data.matrix.InteractionMatrix` (ids, names,
privacy). It is what the CLI, the HTTP service, the Slack app and the Spark job call, so the
rules live here once:

* private items are never shown to a non-member (recommended, listed as similar, or explained);
* a person or item the model has never seen degrades to a popularity fallback with a reason,
  it does not crash (an unknown *query* item is an :class:`~teamrec.errors.UnknownIdError`);
* every answer can say why, in words ("8 of the 12 members of #ml are also in #bi").
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from teamrec._files import write_folder
from teamrec.algorithms.base import Algorithm, Explanation
from teamrec.algorithms.popularity import Popularity
from teamrec.algorithms.registry import create
from teamrec.data.matrix import InteractionMatrix
from teamrec.data.vocab import Vocab
from teamrec.errors import AccessDeniedError, DataError, UnknownIdError, UnsupportedError


@dataclass
class Result:
    """One recommended item or person, with its score and (optionally) the reasons."""

    id: str
    name: str
    score: float
    reason: str | None = None
    details: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


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
        # Helpers for what the chosen algorithm does not offer, fitted once on first use.
        self._helpers: dict[str, Algorithm] = {}

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
    ) -> list[Result]:
        """The ``k`` items ``user`` should look at, best first.

        ``public_only``: the asker is not known to be ``user`` (an anonymous reader of the
        service), so private items are neither returned nor named in reasons, even the
        person's own.

        An unknown person gets the most popular public items, each with a reason saying so.
        ``exclude`` and ``candidates`` are item ids or names; unknown ones are ignored. When
        the algorithm has fewer than ``k`` items with evidence for this person (neighbourhood
        models only score items near the person's own), ``fill`` completes the list with
        popular items they may see, marked ``details["fallback"] = "popularity"``.
        """
        try:
            u = self._user(user)
        except UnknownIdError:
            return self._popular(k, exclude, candidates, reason="new here: popular in this team")
        visible = self._visible(None if public_only else u)
        mask = ~visible
        if exclude:
            mask[self._known_items(exclude)] = True
        cand = self._known_items(candidates) if candidates is not None else None
        items, scores = self.algorithm.recommend(
            np.array([u]), k, exclude_seen=True, candidates=cand, exclude=mask[None, :]
        )
        results = self._item_results(items[0], scores[0])
        if explain:
            for res in results:
                res.reason, res.details = self._explain_recommendation(u, self._item(res.id), visible)
        if fill and len(results) < k and self._fallback is not self.algorithm:
            taken = items[0][items[0] >= 0]
            mask[taken] = True
            more, more_scores = self._fallback.recommend(
                np.array([u]), k - len(results), exclude_seen=True, candidates=cand, exclude=mask[None, :]
            )
            for res in self._item_results(more[0], more_scores[0]):
                res.reason = "popular in this team"
                res.details = {"fallback": "popularity"}
                results.append(res)
        return results

    def _popular(self, k, exclude, candidates, reason: str) -> list[Result]:
        mask = ~self._visible(None)
        if exclude:
            mask[self._known_items(exclude)] = True
        cand = self._known_items(candidates) if candidates is not None else None
        items, scores = self._fallback.recommend(
            np.array([0]), k, exclude_seen=False, candidates=cand, exclude=mask[None, :]
        )
        results = self._item_results(items[0], scores[0])
        for res in results:
            res.reason = reason
        return results

    def _known_items(self, keys: list[str]) -> np.ndarray:
        idx = self.data.items.lookup(keys, missing="ignore")
        return idx[idx >= 0]

    def recommend_many(self, users: list[str] | None = None, k: int = 10) -> pd.DataFrame:
        """Top-``k`` for many known users at once, as rows ``(team, user, rank, item, score)``:
        the batch output the Spark job writes and the serving index loads."""
        idx = np.arange(self.data.n_users) if users is None else self.data.users.lookup(users)
        exclude = self.data.hidden_items(idx)
        items, scores = self.algorithm.recommend(idx, k, exclude=exclude)
        rows, ranks = np.nonzero(items >= 0)
        return pd.DataFrame(
            {
                "team": self.team,
                "user": self.data.users.id_of(idx[rows]),
                "rank": ranks + 1,
                "item": self.data.items.id_of(items[rows, ranks]),
                "score": scores[rows, ranks],
            }
        )

    def similar_items(self, item: str, k: int = 10, *, viewer: str | None = None) -> list[Result]:
        """Items like ``item`` ("channels like #machine-learning"), never the item itself.

        Private items appear only to their members; asking about a private item one is not a
        member of is an :class:`~teamrec.errors.AccessDeniedError`.
        """
        i = self._item(item)
        v = self._viewer(viewer)
        if self.data.private[i] and not self._is_member(v, i):
            raise AccessDeniedError(f"{item!r} is private to its members")
        visible = self._visible(v)
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

    def similar_users(self, user: str, k: int = 10, *, public_only: bool = False) -> list[Result]:
        """People like ``user`` (a friend finder), each with what they have in common
        (naming only what ``user`` may see; only public items with ``public_only``)."""
        u = self._user(user)
        visible = self._visible(None if public_only else u)
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

    def _label(self, name: str) -> str:
        """How an item is named in prose: channels get a ``#``, other items their name."""
        if self.data.item_kind != "channel" or name.startswith("#"):
            return name
        return f"#{name}"

    def _explain_recommendation(self, u: int, i: int, visible: np.ndarray) -> tuple[str | None, dict[str, Any]]:
        """Why ``i`` suits ``u``, naming only items in ``visible`` (what the asker may see)."""
        try:
            exp: Explanation = self.algorithm.explain(u, i, n=3)
        except UnsupportedError:
            return None, {}
        parts: list[str] = []
        details: list[dict[str, Any]] = []
        for c in exp.contributions:
            if c.kind == "item":
                if not visible[c.index]:
                    continue  # never name a private channel to a non-member
                name = str(self.data.item_names(c.index))
                parts.append(self._label(name))
                details.append(
                    {"kind": "item", "id": str(self.data.items.id_of(c.index)), "name": name, "weight": c.weight}
                )
            elif c.kind == "user":
                name = str(self.data.user_names(c.index))
                parts.append(name)
                details.append(
                    {"kind": "user", "id": str(self.data.users.id_of(c.index)), "name": name, "weight": c.weight}
                )
            else:
                details.append({"kind": c.kind, "weight": c.weight, **c.detail})
        kinds = {d["kind"] for d in details}
        channels = self.data.item_kind == "channel"
        if "item" in kinds:
            reason = ("because you are in " if channels else "similar to what you have: ") + ", ".join(parts)
        elif "user" in kinds:
            reason = ("people like you are here: " if channels else "people like you have it: ") + ", ".join(parts)
        elif "popularity" in kinds:
            reason = "popular in this team"
        else:
            reason = None
        return reason, {"contributions": details}

    def _overlap_reason(self, a: int, b: int) -> tuple[str, dict[str, Any]]:
        col_a, col_b = self._binary[:, a], self._binary[:, b]
        n_a = int(col_a.nnz)
        common = int(col_a.multiply(col_b).nnz)
        name_a = self._label(str(self.data.item_names(a)))
        name_b = self._label(str(self.data.item_names(b)))
        if self.data.item_kind == "channel":
            reason = f"{common} of the {n_a} people in {name_a} are also in {name_b}"
        else:
            reason = f"{common} of the {n_a} people with {name_a} also have {name_b}"
        return (
            reason,
            {"common": common, "query_size": n_a, "item_size": int(col_b.nnz)},
        )

    def _shared_items_reason(self, u: int, v: int, visible: np.ndarray) -> tuple[str, dict[str, Any]]:
        """What ``u`` and ``v`` have in common, counting and naming only ``visible`` items
        (a private channel is not even counted for an asker who may not see it)."""
        row_u = self.data.matrix[u].indices
        row_v = self.data.matrix[v].indices
        shared = np.intersect1d(row_u, row_v)
        shared = shared[visible[shared]]
        names = [self._label(str(n)) for n in self.data.item_names(shared[:3])]
        noun = "channel" if self.data.item_kind == "channel" else "item"
        reason = f"you share {len(shared)} {noun}" + ("" if len(shared) == 1 else "s")
        if names:
            reason += ": " + ", ".join(names) + (" ..." if len(shared) > 3 else "")
        return reason, {"shared": int(len(shared))}

    # -- persistence -----------------------------------------------------------------------
    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the model and the team's matrix to a folder (arrays, Parquet and JSON)."""
        return save_team_model(self, path)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> TeamModel:
        return load_team_model(path)


def save_team_model(model: TeamModel, path: str | os.PathLike[str]) -> Path:
    """Write the model folder whole or not at all (a reader sees the old model or the new)."""

    def write(folder: Path) -> None:
        model.algorithm.save(folder / "algorithm")
        data = model.data
        sp.save_npz(folder / "matrix.npz", data.matrix)
        sp.save_npz(folder / "members.npz", sp.csr_matrix(data.members, dtype=bool))
        data.item_meta.to_parquet(folder / "items.parquet", index=False)
        data.user_meta.to_parquet(folder / "users.parquet", index=False)
        meta = {"team": data.team, "algorithm": model.algorithm.name, "item_kind": data.item_kind}
        (folder / "team.json").write_text(json.dumps(meta, indent=2))

    return write_folder(path, write, marker="team.json", what="a saved teamrec model")


def load_team_model(path: str | os.PathLike[str]) -> TeamModel:
    folder = Path(path)
    if not (folder / "team.json").exists():
        raise DataError("not a saved teamrec model folder (no team.json)", file=str(folder))
    meta = json.loads((folder / "team.json").read_text())
    algorithm = Algorithm.load(folder / "algorithm")
    item_meta = pd.read_parquet(folder / "items.parquet")
    user_meta = pd.read_parquet(folder / "users.parquet")
    data = InteractionMatrix(
        matrix=sp.load_npz(folder / "matrix.npz").tocsr(),
        users=Vocab(user_meta["user"].to_numpy(), kind="user"),
        items=Vocab(item_meta["item"].to_numpy(), kind="item"),
        team=meta["team"],
        item_meta=item_meta,
        user_meta=user_meta,
        members=sp.load_npz(folder / "members.npz").tocsr(),
        item_kind=meta.get("item_kind", "item"),
    )
    return TeamModel(algorithm, data)
