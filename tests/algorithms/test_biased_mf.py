"""Biased MF: the contract, accuracy next to Surprise's SVD on MovieLens u1, fold-in, update."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from teamrec.algorithms.biased_mf import BiasedMF
from teamrec.testing import AlgorithmContract, random_matrix


class TestBiasedMFContract(AlgorithmContract):
    # A rating model: it fits the *values*, which on the checkerboard are uniform 1..5 noise
    # on same-parity cells; nothing pushes the factors of cells never rated, so the parity
    # structure (which cells exist) is not something it can learn.
    learns_structure = False

    def make(self) -> BiasedMF:
        return BiasedMF(factors=8)


def _read(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, sep="\t", names=["user", "item", "rating", "timestamp"])


def test_accuracy_on_movielens_u1_matches_surprise_svd(ml100k_dir: Path) -> None:
    surprise = pytest.importorskip("surprise")
    base, test = _read(ml100k_dir / "u1.base"), _read(ml100k_dir / "u1.test")
    users, items = np.unique(base.user), np.unique(base.item)
    X = sp.csr_matrix(
        (base.rating.astype(float), (np.searchsorted(users, base.user), np.searchsorted(items, base.item)))
    )
    tu = np.searchsorted(users, test.user)
    tu[users[np.minimum(tu, len(users) - 1)] != test.user] = -1
    ti = np.searchsorted(items, test.item)
    ti = np.where(items[np.minimum(ti, len(items) - 1)] == test.item, ti, -1)
    ours = BiasedMF().fit(X).predict(tu, ti).estimate
    rmse = np.sqrt(np.mean((ours - test.rating) ** 2))
    trainset = surprise.Dataset.load_from_df(base[["user", "item", "rating"]], surprise.Reader(rating_scale=(1, 5)))
    svd = surprise.SVD(random_state=0).fit(trainset.build_full_trainset())
    theirs = np.array([svd.predict(u, i).est for u, i in zip(test.user, test.item, strict=True)])
    rmse_surprise = np.sqrt(np.mean((theirs - test.rating) ** 2))
    assert 0.90 < rmse < 0.97
    assert abs(rmse - rmse_surprise) < 0.01


def test_predict_is_clipped_and_knows_its_unknowns() -> None:
    X = random_matrix(20, 15, density=0.4, seed=1)
    model = BiasedMF(factors=4, epochs=30, learning_rate=0.02).fit(X)
    preds = model.predict(np.array([0, 20, 1]), np.array([0, 1, 15]))
    assert preds.details["impossible"].tolist() == [False, True, True]
    assert preds.estimate[1] == pytest.approx(np.clip(model.global_mean_ + model.item_bias_[1], 1, 5))
    assert np.all((preds.estimate >= 1) & (preds.estimate <= 5))


def test_fits_the_training_ratings() -> None:
    X = random_matrix(40, 30, density=0.3, seed=2)
    model = BiasedMF(factors=10, epochs=200, learning_rate=0.02, regularization=0.0, batch_size=64).fit(X)
    coo = X.tocoo()
    fitted = model.predict(coo.row, coo.col).estimate
    baseline = np.sqrt(np.mean((coo.data - coo.data.mean()) ** 2))
    assert np.sqrt(np.mean((fitted - coo.data) ** 2)) < 0.3 * baseline


def test_fold_in_and_update() -> None:
    X = random_matrix(40, 30, density=0.3, seed=3)
    model = BiasedMF(factors=6, epochs=40, learning_rate=0.02).fit(X)
    row = X[[7]]
    folded = model.score([0], user_items=row)[0]
    trained = model.score([7])[0]
    assert np.corrcoef(folded, trained)[0, 1] > 0.5
    grown = sp.vstack([X, row]).tocsr()
    model.update(grown)
    assert model.user_factors_.shape[0] == 41
    assert np.isfinite(model.score([40])).all()


def test_divergence_on_raw_counts_is_a_clear_error_not_nan() -> None:
    """Play counts in the hundreds of thousands make SGD overshoot; say so, name the fix."""
    from teamrec.errors import DataError

    X = random_matrix(40, 30, density=0.3, seed=2)
    X.data = X.data * 300_000.0
    with pytest.raises(DataError, match="diverged.*log1p"):
        BiasedMF(factors=4, epochs=20).fit(X)
    # The same data on a log scale fits, and every estimate is finite.
    X.data = np.log1p(X.data)
    model = BiasedMF(factors=4, epochs=20).fit(X)
    assert np.isfinite(model.predict(np.arange(40), np.arange(40) % 30).estimate).all()
