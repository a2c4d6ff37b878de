"""The one small contract every teamrec algorithm implements.

Algorithms work on *indices* of a users x items CSR matrix (the id <-> index maps live in
:class:`~teamrec.data.matrix.InteractionMatrix`; :class:`teamrec.recommender.TeamModel` turns
ids, names, privacy and fallbacks into the person-facing API on top). The discipline is
scikit-learn's: the constructor only stores a validated, typed config; :meth:`fit` returns
``self``; everything learnt is an attribute ending in ``_``, which is also exactly what
:meth:`save` writes (NumPy arrays + JSON, never pickle).

What a subclass writes:

* ``name`` and a pydantic ``Config`` (``extra="forbid"``: unknown parameters are refused);
* ``_fit(X)`` -- learn from the CSR matrix ``X`` (stored as ``self.X_`` by :meth:`fit`);
* ``score(users, user_items)`` -- a dense ``(len(users), n_items)`` block, higher is better;
* optionally ``similar_items``, ``similar_users``, ``predict``, ``explain``, ``update``,
  ``_rank_keys`` (a tie-break key for ranking) and ``_after_load`` (rebuild helpers).

Everything on the hot path is batched over many users at once.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Literal, Self

import numpy as np
import scipy.sparse as sp
from pydantic import BaseModel, ConfigDict, ValidationError

from teamrec.algorithms import _topk
from teamrec.algorithms._npz import load_arrays, save_arrays
from teamrec.errors import ConfigError, DataError, NotFittedError, UnsupportedError

MODEL_FORMAT_VERSION = 1


class AlgorithmConfig(BaseModel):
    """Base of every algorithm's typed parameters (unknown keys are an error)."""

    model_config = ConfigDict(extra="forbid", frozen=True)


@dataclass
class Contribution:
    """One reason behind a score: a neighbour item or user, a baseline, a factor."""

    kind: Literal["item", "user", "baseline", "popularity", "factor"]
    index: int
    weight: float
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass
class Explanation:
    """Why ``item`` scored ``score`` for ``user``: the contributions, largest first."""

    user: int
    item: int
    score: float
    contributions: list[Contribution]


@dataclass
class Predictions:
    """Estimated values for (user, item) pairs, with per-pair details.

    ``details`` holds arrays aligned with ``estimate``, e.g. ``n_neighbors`` (how many
    neighbours the estimate rests on) and ``impossible`` (no estimate could be made; the
    estimate then falls back to a baseline or the global mean).
    """

    estimate: np.ndarray
    details: dict[str, np.ndarray] = field(default_factory=dict)


def as_csr(X: Any) -> sp.csr_matrix:
    """The CSR float64 matrix of an :class:`InteractionMatrix` or any sparse/dense matrix."""
    matrix = getattr(X, "matrix", X)
    out = sp.csr_matrix(matrix, dtype=np.float64)
    out.sort_indices()
    return out


class Algorithm:
    """Base class: see the module docstring for the contract."""

    name: ClassVar[str] = "algorithm"
    Config: ClassVar[type[AlgorithmConfig]] = AlgorithmConfig
    #: True when :meth:`predict` estimates values on the data's scale (ratings, activity).
    predicts_values: ClassVar[bool] = False

    def __init__(self, config: AlgorithmConfig | None = None, **params: Any) -> None:
        if config is not None and params:
            raise ConfigError("give either a config object or keyword parameters, not both")
        if config is not None and not isinstance(config, self.Config):
            raise ConfigError(f"{self.name}: expected {self.Config.__name__}, got {type(config).__name__}")
        try:
            self.config = config if config is not None else self.Config(**params)
        except ValidationError as exc:
            raise ConfigError(f"{self.name}: {_describe(exc)}") from None

    def __repr__(self) -> str:
        params = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
        return f"{type(self).__name__}({params})"

    def get_params(self) -> dict[str, Any]:
        return self.config.model_dump()

    # -- fitting ---------------------------------------------------------------------------
    def fit(self, X: Any) -> Self:
        """Learn from a users x items matrix (an InteractionMatrix or any sparse matrix)."""
        self.X_ = as_csr(X)
        if self.X_.nnz == 0:
            raise DataError(f"{self.name}: cannot fit on an empty matrix")
        self._fit(self.X_)
        return self

    def _fit(self, X: sp.csr_matrix) -> None:
        raise NotImplementedError

    def update(self, X: Any) -> Self:
        """Bring the model up to date with ``X``, the whole current matrix.

        The vocabularies are append-only, so ``X``'s first ``n_users``/``n_items`` rows and
        columns are the ones the model knows; new people and items come after them. This
        default refits; algorithms override it with a cheaper incremental update.
        """
        return self.fit(X)

    def partial_fit_users(self, users: np.ndarray | list[int], user_items: sp.spmatrix) -> Self:
        """Bring the model up to date after people's rows changed (implicit's
        ``partial_fit_users`` shape): ``users`` are row indices, those at or past
        :attr:`n_users` are new people appended in order; ``user_items`` holds their whole new
        rows, and may be wider than the model (new items, appended: the vocabularies never
        renumber). Builds the new matrix and calls :meth:`update`, so an algorithm's cheaper
        incremental ``update`` serves both."""
        self._check_fitted()
        users = np.asarray(users, dtype=np.int64)
        rows = sp.csr_matrix(user_items, dtype=np.float64)
        if rows.shape[0] != len(users):
            raise ValueError(f"user_items has {rows.shape[0]} rows for {len(users)} users")
        n_users = max(self.n_users, int(users.max()) + 1 if len(users) else 0)
        n_items = max(self.n_items, rows.shape[1])
        old = self.X_.copy()
        old.resize((n_users, n_items))
        keep = np.ones(n_users)
        keep[users] = 0.0
        rows.resize((len(users), n_items))
        place = sp.csr_matrix((np.ones(len(users)), (users, np.arange(len(users)))), shape=(n_users, len(users)))
        X = (sp.diags(keep) @ old + place @ rows).tocsr()
        X.eliminate_zeros()
        return self.update(X)

    def warm(self) -> Self:
        """Precompute what answering requests needs, before a model is put in service (a
        server calls it once after fit or load). Most algorithms have nothing to do."""
        self._check_fitted()
        return self

    @property
    def is_fitted(self) -> bool:
        return hasattr(self, "X_")

    def _check_fitted(self) -> None:
        if not self.is_fitted:
            raise NotFittedError(f"{self.name}: call fit() or load() first")

    @property
    def n_users(self) -> int:
        self._check_fitted()
        return self.X_.shape[0]

    @property
    def n_items(self) -> int:
        self._check_fitted()
        return self.X_.shape[1]

    def _rows(self, users: np.ndarray, user_items: sp.spmatrix | None) -> sp.csr_matrix:
        """The interaction rows to score: ``user_items`` when given (new or updated people,
        one row per user), else the training rows."""
        if user_items is not None:
            rows = sp.csr_matrix(user_items, dtype=np.float64)
            if rows.shape != (len(users), self.n_items):
                raise ValueError(f"user_items must be {(len(users), self.n_items)}, got {rows.shape}")
            return rows
        if len(users) == 1:  # one person (a request): their row by slicing, not fancy indexing
            X, u = self.X_, int(users[0])
            start, end = X.indptr[u], X.indptr[u + 1]
            return sp.csr_matrix((X.data[start:end], X.indices[start:end], np.array([0, end - start])),
                                 shape=(1, X.shape[1]))
        return self.X_[users]

    # -- scoring and ranking ---------------------------------------------------------------
    def score(self, users: np.ndarray, user_items: sp.spmatrix | None = None) -> np.ndarray:
        """Dense ``(len(users), n_items)`` scores, higher is better."""
        raise NotImplementedError

    def _rank_keys(
        self, users: np.ndarray, user_items: sp.spmatrix | None
    ) -> tuple[np.ndarray, np.ndarray | None]:
        """Primary scores and an optional secondary (tie-break) key for ranking."""
        return self.score(users, user_items), None

    def recommend(
        self,
        users: np.ndarray | list[int],
        k: int = 10,
        *,
        exclude_seen: bool = True,
        candidates: np.ndarray | sp.spmatrix | None = None,
        exclude: sp.spmatrix | np.ndarray | None = None,
        user_items: sp.spmatrix | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top-``k`` items for many users at once.

        ``exclude_seen`` drops what the user already has; ``candidates`` restricts to given
        items (an index array, a boolean mask, or a per-user sparse matrix); ``exclude`` is a
        per-user mask of items never to return (e.g. private channels). Returns ``(items,
        scores)``, each ``(len(users), k)``, padded with ``-1`` / ``NaN``.
        """
        self._check_fitted()
        users = np.atleast_1d(np.asarray(users, dtype=np.int64))
        if len(users) == 1 and user_items is None and not sp.issparse(candidates) and not sp.issparse(exclude):
            return self._recommend_one(int(users[0]), k, exclude_seen, candidates, exclude)
        out_idx = np.full((len(users), k), -1, dtype=np.int64)
        out_val = np.full((len(users), k), np.nan)
        step = _topk.user_batches(len(users), self.n_items)
        for start in range(0, len(users), step):
            sl = slice(start, start + step)
            batch = users[sl]
            rows = self._rows(batch, None if user_items is None else user_items[sl])
            primary, secondary = self._rank_keys(batch, rows if user_items is not None else None)
            masks = []
            if exclude_seen:
                masks.append(rows)
            if exclude is not None:
                masks.append(exclude[sl])
            for mask in masks:
                _topk.apply_mask(primary, mask)
            cand = candidates[sl] if candidates is not None and sp.issparse(candidates) else candidates
            idx, val = _topk.topk(primary, k, candidates=cand, secondary=secondary)
            out_idx[sl], out_val[sl] = idx, val
        return out_idx, out_val

    def _recommend_one(
        self, u: int, k: int, exclude_seen: bool, candidates: np.ndarray | None, exclude: np.ndarray | None
    ) -> tuple[np.ndarray, np.ndarray]:
        """:meth:`recommend` for one stored person (a request's usual question) without the
        batch machinery: the seen items straight from the CSR arrays, one dense mask, the
        algorithm's own ranking keys and the shared top-k helper -- the same answer."""
        primary, secondary = self._rank_keys(np.array([u]), None)
        mask = np.zeros(self.n_items, dtype=bool) if exclude is None else np.array(exclude, dtype=bool).reshape(-1)
        if exclude_seen:
            start, end = self.X_.indptr[u], self.X_.indptr[u + 1]
            mask[self.X_.indices[start:end][self.X_.data[start:end] != 0]] = True
        return _topk.topk(primary, k, exclude=mask[None, :], candidates=candidates, secondary=secondary)

    def similar_items(self, items: np.ndarray | list[int], k: int = 10) -> tuple[np.ndarray, np.ndarray]:
        """The ``k`` items most similar to each of ``items`` (never the item itself)."""
        raise UnsupportedError(f"{self.name} does not compute item similarities")

    def similar_users(self, users: np.ndarray | list[int], k: int = 10) -> tuple[np.ndarray, np.ndarray]:
        """The ``k`` users most similar to each of ``users`` (never the user themself)."""
        raise UnsupportedError(f"{self.name} does not compute user similarities")

    def predict(self, users: np.ndarray, items: np.ndarray) -> Predictions:
        """Scores of (user, item) pairs; algorithms that estimate values override this."""
        self._check_fitted()
        users = np.asarray(users, dtype=np.int64)
        items = np.asarray(items, dtype=np.int64)
        estimate = np.empty(len(users))
        uniq, inverse = np.unique(users, return_inverse=True)
        step = _topk.user_batches(len(uniq), self.n_items)
        for start in range(0, len(uniq), step):
            block = self.score(uniq[start : start + step])
            sel = (inverse >= start) & (inverse < start + step)
            estimate[sel] = block[inverse[sel] - start, items[sel]]
        return Predictions(estimate=estimate)

    def explain(self, user: int, item: int, n: int = 5) -> Explanation:
        """The ``n`` largest contributions behind ``score(user)[item]``."""
        raise UnsupportedError(f"{self.name} cannot explain its scores")

    # -- persistence -----------------------------------------------------------------------
    def _state(self) -> dict[str, Any]:
        return {k: v for k, v in vars(self).items() if k.endswith("_") and not k.startswith("_")}

    def _after_load(self) -> None:
        """Rebuild anything derived from the saved state (override when needed)."""

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the model as ``model.json`` + ``arrays.npz`` in folder ``path`` (atomically)."""
        self._check_fitted()
        target = Path(path)
        target.mkdir(parents=True, exist_ok=True)
        arrays: dict[str, np.ndarray] = {}
        scalars: dict[str, Any] = {}
        sparse: dict[str, str] = {}
        for key, value in self._state().items():
            if sp.issparse(value):
                csr = sp.csr_matrix(value)
                sparse[key] = "csr"
                arrays[f"{key}.data"] = csr.data
                arrays[f"{key}.indices"] = csr.indices
                arrays[f"{key}.indptr"] = csr.indptr
                arrays[f"{key}.shape"] = np.asarray(csr.shape, dtype=np.int64)
            elif isinstance(value, np.ndarray):
                if value.dtype == object:
                    raise TypeError(f"{self.name}: attribute {key} is an object array; cannot save")
                arrays[key] = value
            elif isinstance(value, (np.integer, np.floating, np.bool_)):
                scalars[key] = value.item()
            elif value is None or isinstance(value, (int, float, str, bool, list, dict)):
                scalars[key] = value
            else:
                raise TypeError(f"{self.name}: attribute {key} of type {type(value).__name__} cannot be saved")
        meta = {
            "format_version": MODEL_FORMAT_VERSION,
            "algorithm": self.name,
            "config": self.config.model_dump(mode="json"),
            "scalars": scalars,
            "sparse": sparse,
        }
        tmp_npz = target / ".arrays.npz.tmp"
        save_arrays(tmp_npz, arrays)  # np.load reads it; load() maps it without a copy
        tmp_json = target / ".model.json.tmp"
        tmp_json.write_text(json.dumps(meta, indent=2, sort_keys=True))
        os.replace(tmp_npz, target / "arrays.npz")
        os.replace(tmp_json, target / "model.json")
        return target

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Algorithm:
        """Read a model written by :meth:`save`; the class comes from the registry."""
        from teamrec.algorithms.registry import get_algorithm

        folder = Path(path)
        meta_file = folder / "model.json"
        if not meta_file.exists():
            raise DataError("not a saved teamrec model (no model.json)", file=str(folder))
        try:
            meta = json.loads(meta_file.read_text())
        except json.JSONDecodeError as exc:
            raise DataError(f"broken JSON: {exc.msg}", file=str(meta_file), line=exc.lineno) from None
        if meta.get("format_version") != MODEL_FORMAT_VERSION:
            raise DataError(f"unsupported model format {meta.get('format_version')!r}", file=str(meta_file))
        klass = get_algorithm(meta["algorithm"])
        if cls is not Algorithm and not issubclass(klass, cls):
            raise DataError(f"the saved model is {meta['algorithm']!r}, not {cls.name!r}", file=str(meta_file))
        model = klass(**meta["config"])
        arrays = load_arrays(folder / "arrays.npz")
        for key in meta["sparse"]:
            shape = tuple(int(s) for s in arrays.pop(f"{key}.shape"))
            setattr(
                model,
                key,
                sp.csr_matrix(
                    (arrays.pop(f"{key}.data"), arrays.pop(f"{key}.indices"), arrays.pop(f"{key}.indptr")),
                    shape=shape,
                ),
            )
        for key, value in arrays.items():
            setattr(model, key, value)
        for key, value in meta["scalars"].items():
            setattr(model, key, value)
        model._after_load()
        return model


def _describe(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors():
        loc = ".".join(str(x) for x in err["loc"]) or "config"
        parts.append(f"parameter '{loc}': {err['msg']}")
    return "; ".join(parts)
