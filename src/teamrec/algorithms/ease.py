"""EASE^R: the strongest simple top-N model known today (Steck 2019, "Embarrassingly Shallow
Autoencoders for Sparse Data").

An item-item weight matrix ``B`` with a zero diagonal, fitted in closed form by ridge
regression of every item's column on all the others::

    P = (X^T X + lambda I)^-1,      B = I - P diag(1 / diag(P)),  i.e.  B_ij = -P_ij / P_jj,  B_jj = 0

and a person's scores are ``x_u B``: how strongly the items they have predict each other item.

Defaults from the data (docs/benchmarks.md has the measurements behind both):

* ``X`` is the interaction matrix as given, except that *ratings* (every value a whole number
  from 1 to 10, not all 1) are binarised: EASE regresses presence, and on 1-5 stars the
  Gram matrix is ~10x larger, which silently acts like a 10x smaller lambda
  (``binary=None``; ``True``/``False`` force it). Values kept as given can be damped with
  ``value_power`` (``x ** p``; on ml-100k's stars ``p = 0.5`` beat both binary and the raw
  values, measured on validation and test alike).
* ``dropout=p`` is Steck's EDLAE ("Autoencoders that don't overfit towards the identity",
  2020): the penalty becomes ``lambda I + p / (1 - p) diag(X^T X)``, what training with
  input dropout ``p`` penalises in expectation, so popular items lean less on themselves'
  neighbours. Off by default: it moved ml-100k and Deskdrop by less than their noise
  (docs/benchmarks.md).
* ``regularization=None`` scales lambda to the data: ``regularization_scale`` times the mean
  diagonal of ``X^T X`` (the mean squared column norm; for binary data the mean item
  popularity). The lambda used is learnt as ``lambda_``.

The Gram matrix and its inverse are dense ``n_items`` squared float64 matrices (about three
live at once while fitting), so the model refuses more than ``max_items`` items, or more than
the memory it can see, with :class:`~teamrec.errors.ModelTooLargeError` -- never an
out-of-memory crash. Larger catalogues: ``als`` or ``item-knn``.

The inverse never calls LAPACK on a large matrix: multithreaded OpenBLAS ``potrf`` (and
``potri``) segfaults on matrices of about 16,000 rows or more (scipy's OpenBLAS 0.3.30 on 2
cores, 17,000 rows: reproduced; numpy's ``cholesky`` crashes too; single-threaded ``potrf``
survives but took 86 s for the factor alone here). :func:`spd_inverse` splits
the matrix in halves recursively (a blocked Cholesky inverse), runs LAPACK single-threaded on
blocks of at most :data:`LEAF` rows, and does the rest with matrix products on contiguous
blocks, which stay multithreaded.

:meth:`EASE.update` keeps the inverse ``P`` exact without refitting when only people's rows
change or people are added: the Gram matrix changes by ``V^T C V`` (``V`` the new and old rows
of the changed people, ``C = diag(+1, -1)``), and by the Woodbury identity::

    P' = P - P V^T (C^-1 + V P V^T)^-1 V P

costs ``O(n_items^2 r)`` for ``r`` changed rows instead of ``O(n_items^3)``. New items change
the Gram matrix's size and trigger a refit.
"""

from __future__ import annotations

import logging
import os
from typing import Any

import numpy as np
import scipy.linalg
import scipy.sparse as sp
import threadpoolctl
from pydantic import Field

from teamrec.algorithms import _topk
from teamrec.algorithms.base import Algorithm, AlgorithmConfig, Contribution, Explanation, as_csr
from teamrec.errors import DataError, ModelTooLargeError

logger = logging.getLogger(__name__)

#: Dense n_items x n_items float64 matrices alive at the peak of a fit.
_PEAK_MATRICES = 3

#: Largest block handed to LAPACK (single-threaded) by :func:`spd_inverse`.
LEAF = 2048


class GramPenaltyConfig(AlgorithmConfig):
    """What EASE and user-EASE share: the values fed in and the penalty on their Gram matrix
    (X'X over items for EASE, XX' over people for user-EASE)."""

    regularization: float | None = Field(
        None, gt=0, description="the L2 penalty lambda (None: regularization_scale x mean diagonal of the Gram matrix)"
    )
    regularization_scale: float = Field(10.0, gt=0, description="lambda = this x mean diagonal of the Gram matrix")
    binary: bool | None = Field(None, description="binarise the values (None: only when they are ratings)")
    value_power: float = Field(
        1.0, gt=0, le=4, description="values not binarised are raised to this power (0.5 damps 1-5 stars)"
    )


class EASEConfig(GramPenaltyConfig):
    dropout: float = Field(
        0.0, ge=0, lt=1, description="EDLAE: add dropout / (1 - dropout) x diag(X'X) to the penalty (0: plain EASE)"
    )
    max_items: int = Field(20_000, ge=1, description="refuse more items than this")
    refit_fraction: float = Field(
        0.1, gt=0, le=1, description="update() refits when more rows than this share of items changed"
    )


def available_memory() -> int | None:
    """Bytes of memory available for new allocations, when the platform says: Linux's
    ``MemAvailable`` (free memory plus reclaimable caches), else the free physical pages."""
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, ValueError, OSError):  # pragma: no cover - platform dependent
        return None


class EASE(Algorithm):
    """EASE^R item-item regression; see the module docstring."""

    name = "ease"
    Config = EASEConfig
    config: EASEConfig

    def _check_size(self, n_items: int) -> None:
        check_dense_size(self.name, n_items, self.config.max_items, "items", "max_items")

    def _binarizes(self, X: sp.csr_matrix) -> bool:
        """Whether EASE regresses presence: when configured, or (None) when the values are ratings."""
        return bool(self.config.binary) or (self.config.binary is None and looks_like_ratings(X))

    def _fit(self, X: sp.csr_matrix) -> None:
        n_items = X.shape[1]
        self._check_size(n_items)
        self.binarized_ = self._binarizes(X)
        Xv = self._person_rows(X)
        self.lambda_ = float(self.config.regularization or scaled_lambda(Xv, self.config.regularization_scale))
        gram = sp.csr_matrix(Xv.T @ Xv)
        penalty: float | np.ndarray = self.lambda_
        if self.config.dropout > 0:
            penalty = self.lambda_ + self.config.dropout / (1.0 - self.config.dropout) * gram.diagonal()
        self.gram_inverse_ = gram_inverse(gram, penalty)
        self._after_load()

    def _person_rows(self, rows: sp.csr_matrix) -> sp.csr_matrix:
        """Rows as EASE regresses them: binarised, or raised to ``value_power``."""
        return transform_values(rows, getattr(self, "binarized_", False), self.config.value_power)

    def _after_load(self) -> None:
        P = self.gram_inverse_
        self._weights = P / (-np.diag(P))[None, :]
        np.fill_diagonal(self._weights, 0.0)

    def score(self, users: np.ndarray, user_items: sp.spmatrix | None = None) -> np.ndarray:
        self._check_fitted()
        rows = self._person_rows(self._rows(np.atleast_1d(users), user_items))
        return np.asarray(rows @ self._weights)

    def similar_items(self, items: np.ndarray | list[int], k: int = 10) -> tuple[np.ndarray, np.ndarray]:
        """The items whose scores having item ``i`` raises most: row ``i`` of ``B``."""
        self._check_fitted()
        return _topk.topk_rows(self._weights, np.asarray(items), k)

    def explain(self, user: int, item: int, n: int = 5) -> Explanation:
        """The person's items ``j`` with the largest terms ``x_uj B_j,item``."""
        self._check_fitted()
        row = self._person_rows(self.X_[user])
        terms = row.data * self._weights[row.indices, item]
        order = np.argsort(-np.abs(terms), kind="stable")[:n]
        return Explanation(
            user=user,
            item=item,
            score=float(terms.sum()),
            contributions=[
                Contribution("item", int(row.indices[j]), float(terms[j]), {"value": float(row.data[j])})
                for j in order
            ],
        )

    def update(self, X: Any) -> EASE:
        """Woodbury update of ``P`` for changed and new people (see the module docstring);
        a refit when items were added or too many rows changed."""
        if not self.is_fitted:
            return self.fit(X)
        new = as_csr(X)
        old = self.X_
        if new.shape[0] < old.shape[0] or new.shape[1] < old.shape[1]:
            raise DataError(f"{self.name}: update() needs the whole grown matrix, got {new.shape} < {old.shape}")
        binarize_now = self._binarizes(new)
        if (new.shape[1] > old.shape[1] or new.nnz == 0 or binarize_now != getattr(self, "binarized_", False)
                or self.config.dropout > 0):  # EDLAE's penalty follows the Gram diagonal: refit
            return self.fit(new)
        grown = sp.vstack([old, sp.csr_matrix((new.shape[0] - old.shape[0], old.shape[1]))]).tocsr()
        changed = np.unique((new != grown).tocoo().row)
        if len(changed) == 0:
            self.X_ = new
            return self
        if 2 * len(changed) > self.config.refit_fraction * new.shape[1]:
            return self.fit(new)
        V = self._person_rows(sp.vstack([new[changed], grown[changed]]).tocsr()).toarray()
        signs = np.concatenate([np.ones(len(changed)), -np.ones(len(changed))])
        P = self.gram_inverse_
        PV = P @ V.T
        inner = np.diag(1.0 / signs) + V @ PV
        P = P - PV @ np.linalg.solve(inner, PV.T)
        self.gram_inverse_ = (P + P.T) / 2.0
        self.X_ = new
        self._after_load()
        return self


def looks_like_ratings(X: sp.spmatrix) -> bool:
    """Whether the stored values are ratings: whole numbers from 1 to 10, not all equal to 1
    (star ratings; counts go above 10, weighted or log-scaled activity is fractional)."""
    data = sp.csr_matrix(X).data
    if data.size == 0:
        return False
    return bool(data.min() >= 1.0 and data.max() <= 10.0 and data.max() > 1.0 and np.all(data == np.round(data)))


def transform_values(rows: sp.spmatrix, binary: bool, power: float) -> sp.csr_matrix:
    """``rows`` binarised, or with every stored value raised to ``power`` (a copy when changed)."""
    if binary:
        return binarize(rows)
    if power == 1.0:
        return sp.csr_matrix(rows)
    out = sp.csr_matrix(rows, dtype=np.float64, copy=True)
    out.data = np.sign(out.data) * np.abs(out.data) ** power
    return out


def check_dense_size(name: str, n: int, max_n: int, what: str, setting: str) -> None:
    """Refuse, with :class:`ModelTooLargeError`, ``n`` rows of dense ``n x n`` float64 matrices
    (:data:`_PEAK_MATRICES` alive while fitting) over ``max_n`` or the memory available."""
    need = _PEAK_MATRICES * 8 * n * n
    hint = "use 'als' or 'item-knn', which scale to large catalogues"
    if n > max_n:
        raise ModelTooLargeError(
            f"{name}: {n:,} {what} is over {setting}={max_n:,} "
            f"(a dense {n:,} x {n:,} Gram matrix needs about {need / 2**30:.1f} GiB "
            f"while fitting); {hint}"
        )
    free = available_memory()
    if free is not None and need > free:
        raise ModelTooLargeError(
            f"{name}: {n:,} {what} need about {need / 2**30:.1f} GiB while fitting, "
            f"{free / 2**30:.1f} GiB is available; {hint}"
        )


def binarize(X: sp.spmatrix) -> sp.csr_matrix:
    """The presence pattern of ``X`` (stored non-zeros become 1.0)."""
    out = sp.csr_matrix(X, dtype=np.float64, copy=True)
    out.eliminate_zeros()
    out.data[:] = 1.0
    return out


def scaled_lambda(X: sp.spmatrix, scale: float) -> float:
    """``scale`` times the mean diagonal of ``X^T X`` (the mean squared column norm), at least
    ``scale`` times 1e-3 so that an all-but-empty matrix still gets a positive penalty."""
    X = sp.csr_matrix(X)
    mean_diag = float(np.square(X.data).sum()) / max(X.shape[1], 1)
    return scale * max(mean_diag, 1e-3)


def gram_inverse(gram: sp.csr_matrix, lam: float | np.ndarray) -> np.ndarray:
    """``(G + diag(lam))^-1`` for a sparse Gram matrix ``G`` and a penalty ``lam`` (one value,
    or one per row), dense, one connected block at a time.

    Items that no person links (no common person, directly or through other items) are the
    Gram matrix's connected components: it is block diagonal in them, and so is its inverse.
    Each component is inverted on its own (:func:`spd_inverse`; an item alone is
    ``1 / (g_ii + lam)``), so a catalogue of many small groups costs the cube of its largest
    group, not of the catalogue. The same exact inverse either way; components are taken in
    label order, so the result does not depend on the machine.
    """
    from scipy.sparse.csgraph import connected_components

    n = gram.shape[0]
    lam = np.broadcast_to(np.asarray(lam, dtype=np.float64), (n,))
    n_parts, labels = connected_components(gram, directed=False)
    if n_parts == 1:
        dense = gram.toarray()
        dense[np.diag_indices(n)] += lam
        return spd_inverse(dense)
    out = np.zeros((n, n))
    sizes = np.bincount(labels, minlength=n_parts)
    alone = np.flatnonzero(sizes[labels] == 1)
    out[alone, alone] = 1.0 / (gram.diagonal()[alone] + lam[alone])
    order = np.argsort(labels, kind="stable")
    starts = np.concatenate([[0], np.cumsum(sizes)])
    for part in np.flatnonzero(sizes > 1):  # one Python step per group of linked items
        idx = order[starts[part] : starts[part + 1]]
        block = gram[idx][:, idx].toarray()
        block[np.diag_indices(len(idx))] += lam[idx]
        out[np.ix_(idx, idx)] = spd_inverse(block)
    return out


def spd_inverse(A: np.ndarray) -> np.ndarray:
    """The inverse of a symmetric positive definite matrix (``A`` is overwritten).

    Up to :data:`LEAF` rows: LAPACK ``potrf`` + ``potri`` on one thread. Larger: with
    ``A = U^T U`` (upper Cholesky), ``A^-1 = W W^T`` for ``W = U^-1``, and ``W`` is computed
    by halves (:func:`_inverse_factor`); products run on contiguous blocks.
    """
    n = A.shape[0]
    if n <= LEAF:
        return _leaf_inverse(A)
    W = _inverse_factor(A)
    h = n // 2
    W11 = np.ascontiguousarray(W[:h, :h])
    W12 = np.ascontiguousarray(W[:h, h:])
    W22 = np.ascontiguousarray(W[h:, h:])
    del W
    out = A  # A is no longer needed: P is written over it, block by block
    out[:h, :h] = W11 @ W11.T + W12 @ W12.T
    out[:h, h:] = W12 @ W22.T
    out[h:, :h] = out[:h, h:].T
    out[h:, h:] = W22 @ W22.T
    return out


def _leaf_inverse(A: np.ndarray) -> np.ndarray:
    with threadpoolctl.threadpool_limits(1, "blas"):
        c, info = scipy.linalg.lapack.dpotrf(A, lower=False, overwrite_a=True, clean=False)
        if info != 0:
            raise np.linalg.LinAlgError(f"Gram matrix is not positive definite (potrf info {info})")
        inv, info = scipy.linalg.lapack.dpotri(c, lower=False, overwrite_c=True)
    if info != 0:
        raise np.linalg.LinAlgError(f"could not invert the Gram matrix (potri info {info})")
    upper = np.triu(inv)
    return upper + np.triu(upper, 1).T


def _inverse_factor(A: np.ndarray) -> np.ndarray:
    """``W = U^-1`` (upper triangular) for ``A = U^T U``, by halves::

        U11 = chol(A11),  U12 = U11^-T A12,  U22 = chol(A22 - U12^T U12)
        W11 = U11^-1,     W22 = U22^-1,      W12 = -W11 U12 W22
    """
    n = A.shape[0]
    if n <= LEAF:
        with threadpoolctl.threadpool_limits(1, "blas"):
            c, info = scipy.linalg.lapack.dpotrf(A, lower=False, clean=True)
            if info != 0:
                raise np.linalg.LinAlgError(f"Gram matrix is not positive definite (potrf info {info})")
            w, info = scipy.linalg.lapack.dtrtri(c, lower=False)
        if info != 0:
            raise np.linalg.LinAlgError(f"could not invert the Cholesky factor (trtri info {info})")
        return np.ascontiguousarray(w)
    h = n // 2
    W11 = _inverse_factor(np.ascontiguousarray(A[:h, :h]))
    U12 = W11.T @ np.ascontiguousarray(A[:h, h:])
    S = np.ascontiguousarray(A[h:, h:])
    S -= U12.T @ U12
    W22 = _inverse_factor(S)
    del S
    W = np.zeros_like(A)
    W[:h, :h] = W11
    W[h:, h:] = W22
    W[:h, h:] = -(W11 @ (U12 @ W22))
    return W
