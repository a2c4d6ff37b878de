"""Test helpers shipped with teamrec: the contract suite every algorithm passes.

:class:`AlgorithmContract` is a mixin of pytest tests (implicit's ``recommender_base_test``
habit): a test class for an algorithm inherits it and defines :meth:`make`. The tests run on a
*checkerboard* matrix whose right answer is known -- even users like even items, odd users odd
items -- so an algorithm that learns anything must recommend same-parity items.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pytest
import scipy.sparse as sp

from teamrec.algorithms.base import Algorithm, Explanation
from teamrec.errors import ConfigError, UnsupportedError


def checkerboard(n_users: int = 50, n_items: int = 40, density: float = 0.5, seed: int = 0) -> sp.csr_matrix:
    """Users x items with entries only where user and item parity agree (values 1..5)."""
    rng = np.random.default_rng(seed)
    same = (np.arange(n_users)[:, None] % 2) == (np.arange(n_items)[None, :] % 2)
    mask = same & (rng.random((n_users, n_items)) < density)
    values = rng.integers(1, 6, size=(n_users, n_items)).astype(np.float64)
    return sp.csr_matrix(np.where(mask, values, 0.0))


def random_matrix(n_users: int = 30, n_items: int = 25, density: float = 0.3, seed: int = 0,
                  low: float = 1.0, high: float = 5.0) -> sp.csr_matrix:
    """A random sparse matrix with values in [low, high] (for dense-reference tests)."""
    rng = np.random.default_rng(seed)
    mask = rng.random((n_users, n_items)) < density
    values = rng.uniform(low, high, size=(n_users, n_items))
    return sp.csr_matrix(np.where(mask, values, 0.0))


class AlgorithmContract:
    """Contract tests; subclasses define :meth:`make` and may switch capabilities off."""

    #: Whether the algorithm is expected to learn the checkerboard's structure.
    learns_structure: ClassVar[bool] = True
    supports_similar_items: ClassVar[bool] = True
    supports_similar_users: ClassVar[bool] = False
    supports_explain: ClassVar[bool] = True

    def make(self) -> Algorithm:  # pragma: no cover - overridden
        raise NotImplementedError

    def matrix(self) -> sp.csr_matrix:
        return checkerboard()

    @pytest.fixture
    def fitted(self) -> Algorithm:
        return self.make().fit(self.matrix())

    def test_fit_returns_self_and_learns_underscored_state(self) -> None:
        algo = self.make()
        assert algo.fit(self.matrix()) is algo
        assert algo.is_fitted and algo._state()

    def test_warm_changes_no_answer(self, fitted: Algorithm) -> None:
        users = np.arange(self.matrix().shape[0])
        cand = np.arange(0, self.matrix().shape[1], 2)
        before = fitted.score(users), fitted.recommend(users, k=4, candidates=cand)
        assert fitted.warm() is fitted
        after = fitted.score(users), fitted.recommend(users, k=4, candidates=cand)
        np.testing.assert_allclose(after[0], before[0], rtol=0, atol=1e-12)
        np.testing.assert_array_equal(after[1][0], before[1][0])

    def test_unknown_parameter_is_a_config_error(self) -> None:
        with pytest.raises(ConfigError, match="no_such_parameter"):
            type(self.make())(no_such_parameter=1)

    def test_recommend_shapes_order_and_seen_items(self, fitted: Algorithm) -> None:
        X = self.matrix()
        users = np.arange(X.shape[0])
        items, scores = fitted.recommend(users, k=5)
        assert items.shape == scores.shape == (len(users), 5)
        for u in range(len(users)):
            valid = items[u] >= 0
            assert np.all(np.diff(scores[u][valid]) <= 1e-12), "scores must be sorted descending"
            assert not set(items[u][valid]) & set(X[u].indices), "seen items must be excluded"

    def test_recommend_learns_checkerboard(self, fitted: Algorithm) -> None:
        if not self.learns_structure:
            pytest.skip("baseline: no structure to learn")
        X = self.matrix()
        items, _ = fitted.recommend(np.arange(X.shape[0]), k=3)
        ok = [(i % 2) == (u % 2) for u in range(X.shape[0]) for i in items[u] if i >= 0]
        assert np.mean(ok) > 0.9

    def test_candidates_and_exclude(self, fitted: Algorithm) -> None:
        cand = np.array([0, 1, 2, 3, 4, 5])
        items, _ = fitted.recommend([0, 1], k=10, candidates=cand, exclude_seen=False)
        assert set(items[items >= 0]) <= set(cand)
        exclude = sp.csr_matrix(np.ones((2, self.matrix().shape[1]), dtype=bool))
        items, _ = fitted.recommend([0, 1], k=5, exclude=exclude)
        assert (items == -1).all()

    def test_k_larger_than_catalogue_pads(self, fitted: Algorithm) -> None:
        n_items = self.matrix().shape[1]
        items, scores = fitted.recommend([0], k=n_items + 5, exclude_seen=False)
        assert items.shape == (1, n_items + 5)
        assert (items[0, n_items:] == -1).all() and np.isnan(scores[0, n_items:]).all()

    def test_similar_items(self, fitted: Algorithm) -> None:
        if not self.supports_similar_items:
            with pytest.raises(UnsupportedError):
                fitted.similar_items([0], k=3)
            return
        items, scores = fitted.similar_items([0, 1, 2], k=4)
        assert items.shape == (3, 4)
        for row, item in enumerate([0, 1, 2]):
            assert item not in items[row]
            if self.learns_structure:
                valid = items[row][items[row] >= 0]
                assert np.mean(valid % 2 == item % 2) >= 0.75

    def test_similar_users(self, fitted: Algorithm) -> None:
        if not self.supports_similar_users:
            with pytest.raises(UnsupportedError):
                fitted.similar_users([0], k=3)
            return
        users, _ = fitted.similar_users([0, 1], k=4)
        assert users.shape == (2, 4)
        for row, user in enumerate([0, 1]):
            assert user not in users[row]
            valid = users[row][users[row] >= 0]
            assert np.mean(valid % 2 == user % 2) >= 0.75

    def test_predict_shape(self, fitted: Algorithm) -> None:
        preds = fitted.predict(np.array([0, 1, 2]), np.array([0, 1, 2]))
        assert preds.estimate.shape == (3,)

    def test_explain(self, fitted: Algorithm) -> None:
        X = self.matrix()
        items, _ = fitted.recommend([0], k=1)
        if not self.supports_explain:
            with pytest.raises(UnsupportedError):
                fitted.explain(0, int(items[0, 0]))
            return
        exp = fitted.explain(0, int(items[0, 0]), n=3)
        assert isinstance(exp, Explanation) and exp.contributions
        assert X.shape  # explanation for a real recommendation

    def test_save_load_identical(self, fitted: Algorithm, tmp_path: Path) -> None:
        fitted.save(tmp_path / "model")
        loaded = Algorithm.load(tmp_path / "model")
        assert type(loaded) is type(fitted) and loaded.get_params() == fitted.get_params()
        users = np.arange(self.matrix().shape[0])
        np.testing.assert_allclose(loaded.score(users), fitted.score(users), rtol=1e-12, atol=1e-12)

    def test_update_with_a_new_user(self, fitted: Algorithm) -> None:
        X = self.matrix()
        new_row = sp.csr_matrix(X[0].toarray())
        grown = sp.vstack([X, new_row]).tocsr()
        fitted.update(grown)
        items, _ = fitted.recommend([X.shape[0]], k=3)
        assert items.shape == (1, 3) and (items >= 0).any()


# -- the contract over every registered algorithm (issue 10) ------------------------------------
#: Parameters that make an algorithm deterministic and quick on the small fixtures.
QUICK_PARAMS: dict[str, dict[str, object]] = {
    "als": {"factors": 8, "iterations": 10, "seed": 0},
    "bpr": {"factors": 8, "iterations": 30, "seed": 0},
    "biased-mf": {"factors": 8, "epochs": 20, "seed": 0},
}


def quick(name: str) -> Algorithm:
    """A registered algorithm with :data:`QUICK_PARAMS` (only the parameters it has)."""
    from teamrec.algorithms.registry import get_algorithm

    klass = get_algorithm(name)
    params: dict[str, Any] = {k: v for k, v in QUICK_PARAMS.get(name, {}).items() if k in klass.Config.model_fields}
    return klass(**params)


def check_fold_in(algorithm: Algorithm, k: int = 5, min_overlap: float = 1.0) -> None:
    """Scoring a person from their row passed as ``user_items`` (the fold-in the service does
    at request time) gives the same top-``k`` as scoring their stored row (``min_overlap`` < 1:
    the mean share they agree on, for factor models whose fit does not end on a user solve)."""
    X = algorithm.X_
    users = np.arange(X.shape[0])
    stored, stored_scores = algorithm.recommend(users, k)
    folded, folded_scores = algorithm.recommend(users, k, user_items=X[users])
    if min_overlap >= 1.0:
        np.testing.assert_array_equal(folded, stored)
        np.testing.assert_allclose(folded_scores, stored_scores, rtol=1e-6, atol=1e-9)
    else:
        overlap = np.mean([len(set(a) & set(b)) / k for a, b in zip(folded, stored, strict=True)])
        assert overlap >= min_overlap, f"{algorithm.name}: fold-in agrees on {overlap:.0%} of the top-{k}"
    one, _ = algorithm.recommend([3], k)
    np.testing.assert_array_equal(one, stored[3:4])  # the one-person fast path: the same answer


def check_update_matches_refit(name: str, old: sp.csr_matrix, new: sp.csr_matrix, k: int = 5,
                               min_overlap: float = 1.0) -> None:
    """``partial_fit_users`` with the changed rows gives the top-``k`` of a refit on ``new``
    (``min_overlap``: the mean share of each person's top-k the two agree on; 1.0 is exact)."""
    changed = np.flatnonzero(
        np.asarray(abs(new[: old.shape[0], : old.shape[1]] - old).sum(axis=1)).ravel()
        + (np.diff(new[: old.shape[0]].indptr) != np.diff(old.indptr))
    )
    changed = np.r_[changed, np.arange(old.shape[0], new.shape[0])].astype(np.int64)
    updated = quick(name).fit(old).partial_fit_users(changed, new[changed])
    refit = quick(name).fit(new)
    assert updated.X_.shape == new.shape and abs(updated.X_ - new).sum() == 0
    users = np.arange(new.shape[0])
    a, _ = updated.recommend(users, k)
    b, _ = refit.recommend(users, k)
    pairs = zip(a, b, strict=True)
    overlap = np.mean([len(set(x[x >= 0]) & set(y[y >= 0])) / max(1, len(set(y[y >= 0]))) for x, y in pairs])
    assert overlap >= min_overlap, f"{name}: update agrees with a refit on {overlap:.0%} of the top-{k}"


def check_served_is_policy(algorithm: Algorithm, k: int = 8) -> None:
    """What a person is served (``TeamModel.recommend``) is the policy's list, item by item,
    popularity fill included; and the batch output (``recommend_many``) is the same list."""
    from teamrec.data.matrix import InteractionMatrix
    from teamrec.data.vocab import Vocab
    from teamrec.policy import DEFAULT_POLICY
    from teamrec.recommender import TeamModel

    X = algorithm.X_
    data = InteractionMatrix(matrix=X, users=Vocab([f"u{i}" for i in range(X.shape[0])], kind="user"),
                             items=Vocab([f"i{i}" for i in range(X.shape[1])], kind="item"))
    model = TeamModel(algorithm, data)
    users = np.arange(X.shape[0])
    ranking = DEFAULT_POLICY.rank(algorithm, model._fallback, users, k, hidden=data.hidden_items(users))
    batch = model.recommend_many(k=k)
    for u in users:
        served = [r.id for r in model.recommend(f"u{u}", k)]
        expected = [f"i{i}" for i in ranking.items[u] if i >= 0]
        assert served == expected, f"person u{u}: served {served} != policy {expected}"
        assert batch.loc[batch["user"] == f"u{u}", "item"].tolist() == expected
