"""EASE^R: the strongest simple top-N model known today (Steck 2019, "Embarrassingly Shallow
Autoencoders for Sparse Data").

An item-item weight matrix ``B`` with a zero diagonal, fitted in closed form by ridge
regression of every item's column on all the others::

    P = (X^T X + lambda I)^-1,      B = I - P diag(1 / diag(P)),  i.e.  B_ij = -P_ij / P_jj,  B_jj = 0

and a person's scores are ``x_u B``: how strongly the items they have predict each other item.
``X`` is the (weighted) interaction matrix as given; the penalty ``regularization`` (lambda)
is typically in the hundreds for binary data.

The Gram matrix and its inverse are dense ``n_items`` squared float64 matrices (about three
live at once while fitting), so the model refuses more than ``max_items`` items, or more than
the memory it can see, with :class:`~teamrec.errors.ModelTooLargeError` -- never an
out-of-memory crash. Larger catalogues: ``als`` or ``item-knn``.

:meth:`EASE.update` keeps the inverse ``P`` exact without refitting when only people's rows
change or people are added: the Gram matrix changes by ``V^T C V`` (``V`` the new and old rows
of the changed people, ``C = diag(+1, -1)``), and by the Woodbury identity::

    P' = P - P V^T (C^-1 + V P V^T)^-1 V P

costs ``O(n_items^2 r)`` for ``r`` changed rows instead of ``O(n_items^3)``. New items change
the Gram matrix's size and trigger a refit.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np
import scipy.linalg
import scipy.sparse as sp
from pydantic import Field

from teamrec.algorithms import _topk
from teamrec.algorithms.base import Algorithm, AlgorithmConfig, Contribution, Explanation, as_csr
from teamrec.errors import DataError, ModelTooLargeError

#: Dense n_items x n_items float64 matrices alive at the peak of a fit.
_PEAK_MATRICES = 3


class EASEConfig(AlgorithmConfig):
    regularization: float = Field(500.0, gt=0, description="the L2 penalty lambda")
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
        need = _PEAK_MATRICES * 8 * n_items * n_items
        hint = "use 'als' or 'item-knn', which scale to large catalogues"
        if n_items > self.config.max_items:
            raise ModelTooLargeError(
                f"{self.name}: {n_items:,} items is over max_items={self.config.max_items:,} "
                f"(a dense {n_items:,} x {n_items:,} Gram matrix needs about {need / 2**30:.1f} GiB "
                f"while fitting); {hint}"
            )
        free = available_memory()
        if free is not None and need > free:
            raise ModelTooLargeError(
                f"{self.name}: {n_items:,} items need about {need / 2**30:.1f} GiB while fitting, "
                f"{free / 2**30:.1f} GiB is available; {hint}"
            )

    def _fit(self, X: sp.csr_matrix) -> None:
        n_items = X.shape[1]
        self._check_size(n_items)
        gram = (X.T @ X).toarray()
        gram[np.diag_indices(n_items)] += self.config.regularization
        self.gram_inverse_ = _spd_inverse(gram)
        self._after_load()

    def _after_load(self) -> None:
        P = self.gram_inverse_
        self._weights = P / (-np.diag(P))[None, :]
        np.fill_diagonal(self._weights, 0.0)

    def score(self, users: np.ndarray, user_items: sp.spmatrix | None = None) -> np.ndarray:
        self._check_fitted()
        rows = self._rows(np.atleast_1d(users), user_items)
        return np.asarray(rows @ self._weights)

    def similar_items(self, items: np.ndarray | list[int], k: int = 10) -> tuple[np.ndarray, np.ndarray]:
        """The items whose scores having item ``i`` raises most: row ``i`` of ``B``."""
        self._check_fitted()
        return _topk.topk_rows(self._weights, np.asarray(items), k)

    def explain(self, user: int, item: int, n: int = 5) -> Explanation:
        """The person's items ``j`` with the largest terms ``x_uj B_j,item``."""
        self._check_fitted()
        row = self.X_[user]
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
        if new.shape[1] > old.shape[1] or new.nnz == 0:
            return self.fit(new)
        grown = sp.vstack([old, sp.csr_matrix((new.shape[0] - old.shape[0], old.shape[1]))]).tocsr()
        changed = np.unique((new != grown).tocoo().row)
        if len(changed) == 0:
            self.X_ = new
            return self
        if 2 * len(changed) > self.config.refit_fraction * new.shape[1]:
            return self.fit(new)
        V = sp.vstack([new[changed], grown[changed]]).toarray()
        signs = np.concatenate([np.ones(len(changed)), -np.ones(len(changed))])
        P = self.gram_inverse_
        PV = P @ V.T
        inner = np.diag(1.0 / signs) + V @ PV
        P = P - PV @ np.linalg.solve(inner, PV.T)
        self.gram_inverse_ = (P + P.T) / 2.0
        self.X_ = new
        self._after_load()
        return self


def _spd_inverse(A: np.ndarray) -> np.ndarray:
    """The inverse of a symmetric positive definite matrix through its Cholesky factor
    (LAPACK ``potrf`` + ``potri``, in place): half the work of a general inverse."""
    c, info = scipy.linalg.lapack.dpotrf(A, lower=False, overwrite_a=True, clean=False)
    if info != 0:
        raise np.linalg.LinAlgError(f"Gram matrix is not positive definite (potrf info {info})")
    inv, info = scipy.linalg.lapack.dpotri(c, lower=False, overwrite_c=True)
    if info != 0:
        raise np.linalg.LinAlgError(f"could not invert the Gram matrix (potri info {info})")
    upper = np.triu(inv)
    return upper + np.triu(upper, 1).T
