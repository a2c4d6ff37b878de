"""A stable, vectorised 64-bit hash of string ids, for sticky experiment assignment.

Assignment must give the same arm to the same ``(experiment, team, person)`` in every process,
on every platform and with every library version, with no stored state. Python's ``hash`` is
salted per process, ``pandas.util.hash_array`` is a pandas implementation detail, and
``hashlib`` per id costs a Python call per id. So the hash is written here, over NumPy ``uint64``
arrays, and pinned by golden values in the tests:

* an id is hashed as the Unicode code points of ``str(id)`` (UTF-32, little-endian: NumPy's
  ``<U`` layout read as ``<u8``, two code points per 64-bit word, the last one zero-padded), so
  big-endian machines agree and no per-id encoding is needed;
* ``h = mix(seed ^ (n_chars * K))``, then for each word ``w``: ``h = mix(h ^ mix(w + K))``
  (only over the words of that id, so an id's hash never depends on the batch it is in);
* ``mix`` is the SplitMix64 finaliser (Steele, Lea and Flood, 2014): every output bit depends
  on every input bit.

The length enters the hash, so ``"a"`` and ``"a\\x00"`` differ. The cost is a few vector
operations per word and per bucket of ids with the same word count; repeated ids are hashed once.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from typing import Any

import numpy as np
import pandas as pd

_K = np.uint64(0x9E3779B97F4A7C15)  # 2^64 / golden ratio
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_S30, _S27, _S31 = np.uint64(30), np.uint64(27), np.uint64(31)
_TO_UNIT = 2.0**-53


def mix64(x: np.ndarray) -> np.ndarray:
    """The SplitMix64 finaliser over a ``uint64`` array (wrapping arithmetic)."""
    x = np.asarray(x, dtype=np.uint64)
    with np.errstate(over="ignore"):
        x = x ^ (x >> _S30)
        x = x * _M1
        x = x ^ (x >> _S27)
        x = x * _M2
        return x ^ (x >> _S31)


def seed_of(*parts: str) -> np.uint64:
    """A 64-bit seed from a few names (experiment, salt, purpose): one hashlib call, not per id."""
    digest = hashlib.blake2b("\x1f".join(parts).encode("utf-8"), digest_size=8).digest()
    return np.uint64(int.from_bytes(digest, "little"))


def hash_ids(
    values: Iterable[Any] | np.ndarray | pd.Series, seed: np.uint64 | int, *, dedupe: bool = True
) -> np.ndarray:
    """The ``uint64`` hash of each id's ``str()`` under ``seed``: see the module docstring.

    ``dedupe`` hashes each distinct id once (worth it when ids repeat, as teams do); turn it off
    for ids that are mostly distinct (people), where finding the repeats costs more than it saves.
    """
    array = np.asarray(values, dtype=object).ravel()
    if array.size == 0:
        return np.zeros(0, dtype=np.uint64)
    if dedupe:
        codes, uniques = pd.factorize(array, use_na_sentinel=False)
        return _hash_distinct(np.asarray(uniques, dtype=object), seed)[codes]
    return _hash_distinct(array, seed)


def _hash_distinct(text: np.ndarray, seed: np.uint64 | int) -> np.ndarray:
    if not all(map(str.__instancecheck__, text)):
        # str() per unique id (NumPy's astype(str) would drop trailing NULs); only for non-text ids
        text = np.fromiter((v if isinstance(v, str) else str(v) for v in text), dtype=object, count=len(text))
    n_chars = np.fromiter(map(len, text), dtype=np.int64, count=len(text))
    n_words = np.maximum((n_chars + 1) // 2, 1)
    with np.errstate(over="ignore"):
        out = mix64(np.full(len(text), np.uint64(seed), dtype=np.uint64) ^ (n_chars.astype(np.uint64) * _K))
        # Ids of the same word count share one (n, words) block, so memory follows the ids' lengths.
        for words in np.unique(n_words).tolist():
            rows = np.flatnonzero(n_words == words)
            block = np.array(text[rows], dtype=f"<U{2 * words}")
            matrix = block.view("<u8").reshape(len(rows), words)
            h = out[rows]
            for j in range(words):
                h = mix64(h ^ mix64(matrix[:, j] + _K))
            out[rows] = h
    return out


def combine(first: np.ndarray, second: np.ndarray) -> np.ndarray:
    """One hash from two (order matters): ``mix(first ^ mix(second + K))``."""
    with np.errstate(over="ignore"):
        return mix64(np.asarray(first, dtype=np.uint64) ^ mix64(np.asarray(second, dtype=np.uint64) + _K))


def to_unit(h: np.ndarray) -> np.ndarray:
    """Hashes as floats uniform in ``[0, 1)`` (the top 53 bits)."""
    return (np.asarray(h, dtype=np.uint64) >> np.uint64(11)).astype(np.float64) * _TO_UNIT
