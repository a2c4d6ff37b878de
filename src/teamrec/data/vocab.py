"""Append-only vocabularies: raw id <-> row/column index, one per entity kind.

A :class:`Vocab` never renumbers: :meth:`Vocab.extend` only adds ids at the end, so a model
fitted on an older vocabulary stays valid after new people or channels arrive (online
updates grow the matrix, they do not reshuffle it). Lookups are vectorised through a
:class:`pandas.Index`.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd

from teamrec.errors import UnknownIdError


class Vocab:
    """An ordered set of string ids with O(1) vectorised id -> index lookups."""

    __slots__ = ("_index", "_pos", "kind")

    def __init__(self, ids: Iterable[object] = (), kind: str = "id") -> None:
        values = np.asarray(list(ids) if not isinstance(ids, (np.ndarray, pd.Index)) else ids, dtype=object)
        # Ids that are all str already (a loaded model's) skip the round trip through a
        # fixed-width array: a model swap builds two vocabularies (issue 11: no stalls).
        if pd.api.types.infer_dtype(values, skipna=False) != "string":
            values = values.astype(str)
        index = pd.Index(values, dtype=object)
        if index.has_duplicates:
            raise ValueError(f"duplicate {kind} ids: {index[index.duplicated()][:5].tolist()}")
        self._index = index
        self._pos: dict[str, int] | None = None  # id -> index, built on the first single lookup
        self.kind = kind

    def __len__(self) -> int:
        return len(self._index)

    def __contains__(self, raw: object) -> bool:
        return str(raw) in self._positions()

    def _positions(self) -> dict[str, int]:
        """The id -> index dict: a request's single lookups are O(1) dict hits, not a pandas
        ``get_indexer`` call each (built once; the vocabulary never changes after)."""
        if self._pos is None:
            self._pos = dict(zip(self._index.tolist(), range(len(self._index)), strict=True))
        return self._pos

    def get(self, raw: object) -> int | None:
        """The index of one id, or None when absent (O(1))."""
        return self._positions().get(str(raw))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Vocab) and self._index.equals(other._index)

    @property
    def ids(self) -> np.ndarray:
        """All ids in index order (object array of str)."""
        return self._index.to_numpy()

    def index_of(self, raw: object) -> int:
        """The index of one id; :class:`UnknownIdError` if absent."""
        pos = self._positions().get(str(raw))
        if pos is None:
            raise UnknownIdError(self.kind, raw)
        return pos

    def lookup(self, raw: Iterable[object], *, missing: str = "raise") -> np.ndarray:
        """Indices of many ids; unknown ids raise, or give -1 with ``missing="ignore"``."""
        values = np.asarray(list(raw) if not isinstance(raw, (np.ndarray, pd.Series, pd.Index)) else raw)
        pos = self._index.get_indexer(values.astype(str))
        if missing == "raise" and (pos < 0).any():
            raise UnknownIdError(self.kind, str(values[np.flatnonzero(pos < 0)[0]]))
        return pos.astype(np.int64)

    def id_of(self, index: int | np.ndarray) -> object:
        """The id(s) at index/indices."""
        return self._index.to_numpy()[index]

    def extend(self, raw: Iterable[object]) -> Vocab:
        """A new vocabulary with the unseen ids of ``raw`` appended in first-seen order."""
        values = pd.Index(
            np.asarray(list(raw) if not isinstance(raw, (np.ndarray, pd.Index, pd.Series)) else raw).astype(str)
        )
        new = values[~values.isin(self._index)].unique()
        if len(new) == 0:
            return self
        return Vocab(np.concatenate([self._index.to_numpy(), new.to_numpy()]), kind=self.kind)
