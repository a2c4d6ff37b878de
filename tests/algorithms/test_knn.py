"""Item-item and user-user KNN: the contract, dense references, pruning, explanations, updates."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from teamrec.algorithms import _similarity as sim
from teamrec.algorithms.knn import ItemKNN, UserKNN
from teamrec.errors import ConfigError, DataError
from teamrec.testing import AlgorithmContract, random_matrix


# -- dense references, written the obvious way ---------------------------------------------------
def dense_similarity(E: np.ndarray, metric: str, shrinkage: float = 0.0) -> np.ndarray:
    """Similarity between the *rows* of a dense entities x features array."""
    n_features = E.shape[1]
    B = (E != 0).astype(float)
    if metric == "cosine":
        norm = np.linalg.norm(E, axis=1)
        unit = E / np.where(norm > 0, norm, 1.0)[:, None]
        S = unit @ unit.T
    elif metric == "jaccard":
        common = B @ B.T
        count = B.sum(axis=1)
        union = count[:, None] + count[None, :] - common
        S = np.where(union > 0, common / np.where(union > 0, union, 1), 0.0)
    elif metric == "pearson":
        S = np.zeros((len(E), len(E)))
        for a in range(len(E)):
            for b in range(len(E)):
                if E[a].std() > 0 and E[b].std() > 0:
                    S[a, b] = np.mean((E[a] - E[a].mean()) * (E[b] - E[b].mean())) / (E[a].std() * E[b].std())
    elif metric == "count":
        S = B @ B.T
    else:
        raise ValueError(metric)
    assert n_features == E.shape[1]
    if shrinkage:
        common = B @ B.T
        S = S * common / (common + shrinkage)
    return S


def dense_prune(S: np.ndarray, k: int | None) -> np.ndarray:
    """Each row's k largest positive entries, never the diagonal, ties to the lower column."""
    out = np.zeros_like(S)
    for row in range(S.shape[0]):
        candidates = [j for j in range(S.shape[1]) if j != row and S[row, j] > 0]
        candidates.sort(key=lambda j: (-S[row, j], j))
        for j in candidates if k is None else candidates[:k]:
            out[row, j] = S[row, j]
    return out


# -- the contract, for each algorithm and option --------------------------------------------------
class TestItemKNNContract(AlgorithmContract):
    def make(self):
        return ItemKNN(neighbors=10)


class TestItemKNNJaccardContract(AlgorithmContract):
    def make(self):
        return ItemKNN(neighbors=10, similarity="jaccard", shrinkage=2.0)


class TestItemKNNPearsonContract(AlgorithmContract):
    def make(self):
        return ItemKNN(neighbors=None, similarity="pearson")


class TestUserKNNContract(AlgorithmContract):
    supports_similar_items = False
    supports_similar_users = True

    def make(self):
        return UserKNN(neighbors=10)


class TestUserKNNJaccardContract(TestUserKNNContract):
    def make(self):
        return UserKNN(neighbors=15, similarity="jaccard")


# -- dense references on small random matrices -----------------------------------------------------
OPTIONS = [
    ("cosine", 5, 0.0),
    ("cosine", None, 0.0),
    ("cosine", 3, 4.0),
    ("jaccard", 4, 0.0),
    ("jaccard", 6, 1.5),
    ("pearson", 5, 0.0),
    ("pearson", None, 3.0),
]


@pytest.mark.parametrize("metric, k, shrinkage", OPTIONS)
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_item_knn_matches_dense_reference(metric, k, shrinkage, seed):
    X = random_matrix(30, 25, density=0.3, seed=seed)
    model = ItemKNN(neighbors=k, similarity=metric, shrinkage=shrinkage, threads=1).fit(X)
    S = dense_prune(dense_similarity(X.toarray().T, metric, shrinkage), k)
    np.testing.assert_allclose(model.similarity_.toarray(), S, rtol=0, atol=1e-9)
    users = np.arange(X.shape[0])
    np.testing.assert_allclose(model.score(users), X.toarray() @ S.T, rtol=0, atol=1e-9)


@pytest.mark.parametrize("metric, k, shrinkage", OPTIONS)
@pytest.mark.parametrize("seed", [0, 3])
def test_user_knn_matches_dense_reference(metric, k, shrinkage, seed):
    X = random_matrix(30, 25, density=0.3, seed=seed)
    model = UserKNN(neighbors=k, similarity=metric, shrinkage=shrinkage, threads=1, weighting="none",
                    hubness=0.0).fit(X)
    S = dense_prune(dense_similarity(X.toarray(), metric, shrinkage), k)
    np.testing.assert_allclose(model.similarity_.toarray(), S, rtol=0, atol=1e-9)
    users = np.arange(X.shape[0])
    np.testing.assert_allclose(model.score(users), S @ X.toarray(), rtol=0, atol=1e-9)


def dense_people_like_you(X: np.ndarray, k: int | None, beta: float, query: np.ndarray | None = None) -> np.ndarray:
    """The default user-user similarity, computed densely: cosine on IUF-weighted rows, then
    each row's top 4k (all when k is None) corrected by beta times the neighbour's hubness
    (mean of its top-k similarities, k=50 when None), positive ones, top k. With ``query``
    (a newcomer's row): that row's corrected neighbours among the people of X."""
    n = X.shape[0]
    df = (X != 0).sum(axis=0)
    w = np.where(df > 0, np.log(n / np.maximum(df, 1)), 0.0)
    S = dense_similarity(X * w, "cosine")
    hub_k = k if k is not None else 50
    candidates = dense_prune(S, None if k is None else max(4 * k, hub_k))
    hub = np.array([np.sort(row[row > 0])[::-1][:hub_k].sum() / hub_k for row in candidates])
    if query is not None:  # the newcomer is row n of a grown matrix; X's weights and hubness
        unit = X * w / np.maximum(np.linalg.norm(X * w, axis=1), 1e-300)[:, None]
        q = query * w
        sims = np.r_[unit @ (q / np.linalg.norm(q)), 0.0][None, :]
        grown = np.zeros((n + 1, n + 1))
        grown[n] = sims
        candidates = dense_prune(grown, None if k is None else max(4 * k, hub_k))[n:, :n]
    corrected = np.where(candidates > 0, candidates - beta * hub[None, :], 0.0)
    if query is not None:
        return dense_prune(np.vstack([np.zeros((n, n)), corrected]), k)[n]
    return dense_prune(corrected, k)


@pytest.mark.parametrize("k, beta", [(3, 0.5), (5, 0.0), (2, 1.0), (None, 0.5)])
@pytest.mark.parametrize("seed", [0, 6])
def test_user_knn_default_weighting_matches_dense_reference(k, beta, seed):
    X = random_matrix(30, 25, density=0.3, seed=seed)
    model = UserKNN(neighbors=k, hubness=beta, threads=1).fit(X)
    S = dense_people_like_you(X.toarray(), k, beta)
    np.testing.assert_allclose(model.similarity_.toarray(), S, rtol=0, atol=1e-9)
    np.testing.assert_allclose(model.score(np.arange(30)), S @ X.toarray(), rtol=0, atol=1e-9)
    # A newcomer (person 4's row) is compared with everybody, person 4 included.
    newcomer = X[4].toarray()
    got = model._neighbours_of(np.array([30]), sp.csr_matrix(newcomer)).toarray()[0]
    want = dense_people_like_you(X.toarray(), k, beta, query=newcomer[0])
    np.testing.assert_allclose(got[:30], want, rtol=0, atol=1e-9)


def test_user_knn_iuf_ignores_what_everybody_shares(tmp_path):
    # Everybody is in #general (0): it weighs log(3/3) = 0 and makes nobody alike.
    X = sp.csr_matrix(np.array([[1, 1, 0], [1, 0, 1], [1, 0, 1]], dtype=float))
    model = UserKNN(hubness=0.0).fit(X)
    assert model.feature_weights_[0] == 0.0
    assert model.similarity_[0].nnz == 0 and model.similarity_[1, 2] == pytest.approx(1.0)
    plain = UserKNN(weighting="none", hubness=0.0).fit(X)
    assert plain.similarity_[0].nnz == 2
    loaded = UserKNN.load(UserKNN().fit(X).save(tmp_path / "m"))
    np.testing.assert_array_equal(loaded.feature_weights_, model.feature_weights_)


def test_blocked_and_threaded_products_equal_one_block(monkeypatch):
    X = random_matrix(60, 80, density=0.2, seed=5)
    whole = ItemKNN(neighbors=7, threads=1).fit(X).similarity_
    monkeypatch.setattr(sim, "BLOCK_WORK", 50)
    monkeypatch.setattr(sim, "MIN_PARALLEL_WORK", 0)
    blocked = ItemKNN(neighbors=7, threads=3).fit(X).similarity_
    assert (abs(whole - blocked) > 1e-12).nnz == 0 and whole.nnz == blocked.nnz


def test_recommendations_sum_activity_weighted_similarities():
    X = random_matrix(20, 15, density=0.35, seed=7)
    model = ItemKNN(neighbors=4).fit(X)
    S = model.similarity_.toarray()
    user = 3
    expected = sum(X[user, j] * S[:, j] for j in X[user].indices)
    np.testing.assert_allclose(model.score([user])[0], expected, atol=1e-12)
    items, scores = model.recommend([user], k=3)
    manual = np.where(expected > 0, expected, -np.inf)
    manual[X[user].indices] = -np.inf
    assert items[0].tolist() == list(np.argsort(-manual, kind="stable")[:3])


def test_user_knn_scores_new_people_from_their_rows():
    X = random_matrix(25, 20, density=0.3, seed=11)
    model = UserKNN(neighbors=6, weighting="none", hubness=0.0).fit(X)
    newcomer = sp.csr_matrix(X[4].toarray())
    # A newcomer with user 4's row is matched with user 4's neighbours plus user 4 itself.
    scores = model.score(np.array([25]), user_items=newcomer)
    S = dense_similarity(np.vstack([X.toarray(), newcomer.toarray()]), "cosine")[25, :25]
    row = np.zeros(25)
    top = sorted((j for j in range(25) if S[j] > 0), key=lambda j: (-S[j], j))[:6]
    row[top] = S[top]
    np.testing.assert_allclose(scores[0], row @ X.toarray(), atol=1e-9)
    # The same row given for user 4 itself never matches user 4.
    own = model.score(np.array([4]), user_items=newcomer)
    np.testing.assert_allclose(own[0], model.score([4])[0], atol=1e-9)


# -- pruning -----------------------------------------------------------------------------------
def test_similar_items_excludes_the_item_and_ties_go_to_the_lower_index():
    # Items 1, 2 and 3 are identical; item 0 is as similar to each of them.
    X = sp.csr_matrix(np.array([[1, 1, 1, 1, 0], [1, 1, 1, 1, 0], [0, 0, 0, 0, 1]], dtype=float))
    model = ItemKNN(neighbors=2, shrinkage=0.0).fit(X)
    items, scores = model.similar_items([0, 2], k=5)
    assert items[0].tolist() == [1, 2, -1, -1, -1]
    assert items[1].tolist() == [0, 1, -1, -1, -1]
    np.testing.assert_allclose(scores[0, :2], [1.0, 1.0])
    # Item 4 shares nobody with the others: no neighbours at all.
    assert (model.similar_items([4], k=3)[0] == -1).all()


def test_prune_rows_vectorised_agrees_with_a_loop_on_many_shapes():
    rng = np.random.default_rng(3)
    for _trial in range(40):
        n_rows, n_cols = rng.integers(1, 30), rng.integers(1, 60)
        dense = rng.integers(-2, 5, size=(n_rows, n_cols)).astype(float) * (rng.random((n_rows, n_cols)) < 0.5)
        k = int(rng.integers(1, 8))
        selfs = rng.integers(0, n_cols, size=n_rows)
        got = sim.prune_rows(sp.csr_matrix(dense), k, selfs).toarray()
        ref = np.zeros_like(dense)
        for r in range(n_rows):
            cand = sorted(
                (j for j in range(n_cols) if j != selfs[r] and dense[r, j] > 0), key=lambda j: (-dense[r, j], j)
            )
            ref[r, cand[:k]] = dense[r, cand[:k]]
        np.testing.assert_array_equal(got, ref)


def test_bad_parameters_are_config_errors():
    with pytest.raises(ConfigError, match="similarity"):
        ItemKNN(similarity="euclid")
    with pytest.raises(ConfigError, match="neighbors"):
        UserKNN(neighbors=0)


# -- explanations on a team whose answer is known -------------------------------------------------
#: channels: 0 #ml, 1 #data, 2 #random, 3 #stats; people a..g
TEAM = {
    0: [0, 1, 2],  # #ml: a, b, c
    1: [0, 1, 2, 4],  # #data: a, b, c, e
    2: [3, 4, 5, 6],  # #random: d, e, f, g
    3: [0, 3, 4],  # #stats: a, d, e
}


def team_matrix() -> sp.csr_matrix:
    rows = [u for members in TEAM.values() for u in members]
    cols = [c for c, members in TEAM.items() for _ in members]
    return sp.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(7, 4))


def test_item_knn_explains_with_the_persons_channels():
    model = ItemKNN(shrinkage=0.0).fit(team_matrix())
    erin = 4  # in #data, #random, #stats; not in #ml
    items, _ = model.recommend([erin], k=1)
    assert items[0, 0] == 0  # #ml
    exp = model.explain(erin, 0)
    # cos(#ml, #data) = 3/sqrt(12) beats cos(#ml, #stats) = 1/3; #random shares nobody.
    assert [c.index for c in exp.contributions] == [1, 3]
    np.testing.assert_allclose([c.weight for c in exp.contributions], [3 / np.sqrt(12), 1 / 3])
    np.testing.assert_allclose(exp.score, model.score([erin])[0, 0])


def test_user_knn_explains_with_similar_people():
    # erin: #data, #stats; frank: #data, #stats, #ml; gina: #random, #ml (nothing in common with erin)
    X = sp.csr_matrix(np.array([[0, 1, 0, 1], [1, 1, 0, 1], [1, 0, 1, 0]], dtype=float))
    model = UserKNN(weighting="none", hubness=0.0).fit(X)
    users, _ = model.similar_users([0], k=2)
    assert users[0].tolist() == [1, -1]
    exp = model.explain(0, 0)
    assert [(c.kind, c.index) for c in exp.contributions] == [("user", 1)]
    np.testing.assert_allclose(exp.contributions[0].weight, 2 / np.sqrt(6))


# -- incremental updates --------------------------------------------------------------------------
def grow(X: sp.csr_matrix, seed: int) -> sp.csr_matrix:
    """X with two new people, one new item and a few changed and removed entries."""
    rng = np.random.default_rng(seed)
    dense = X.toarray()
    dense = np.vstack([dense, rng.uniform(1, 5, size=(2, dense.shape[1])) * (rng.random((2, dense.shape[1])) < 0.3)])
    dense = np.hstack([dense, (rng.uniform(1, 5, size=(dense.shape[0], 1)) * (rng.random((dense.shape[0], 1)) < 0.3))])
    dense[1, :] = 0.0
    dense[1, :3] = 2.0
    return sp.csr_matrix(dense)


@pytest.mark.parametrize(
    "make",
    [
        lambda: ItemKNN(neighbors=5),
        lambda: ItemKNN(neighbors=4, similarity="jaccard", shrinkage=1.0),
        lambda: ItemKNN(neighbors=4, similarity="pearson"),
        lambda: UserKNN(neighbors=5),
        lambda: UserKNN(neighbors=5, similarity="pearson"),
    ],
)
def test_update_equals_refit(make):
    X = random_matrix(30, 25, density=0.25, seed=4)
    grown = grow(X, seed=5)
    updated = make().fit(X).update(grown)
    refit = make().fit(grown)
    np.testing.assert_allclose(updated.similarity_.toarray(), refit.similarity_.toarray(), atol=1e-12)
    users = np.arange(grown.shape[0])
    np.testing.assert_allclose(updated.score(users), refit.score(users), atol=1e-9)


def test_update_recomputes_only_rows_that_can_change(monkeypatch):
    # Two teams inside one matrix: people 0-9 use items 0-9, people 10-19 use items 10-19.
    rng = np.random.default_rng(0)
    dense = np.zeros((20, 20))
    dense[:10, :10] = rng.uniform(1, 5, (10, 10)) * (rng.random((10, 10)) < 0.5)
    dense[10:, 10:] = rng.uniform(1, 5, (10, 10)) * (rng.random((10, 10)) < 0.5)
    dense[0, 1] = 7.0
    X = sp.csr_matrix(dense)
    model = ItemKNN(neighbors=3).fit(X)
    seen: list[np.ndarray] = []
    original = ItemKNN._rows_state

    def spy(self, X, targets):
        seen.append(targets)
        return original(self, X, targets)

    monkeypatch.setattr(ItemKNN, "_rows_state", spy)
    dense[0, 1] = 3.0  # one activity changes in the first team
    model.update(sp.csr_matrix(dense))
    assert len(seen) == 1 and set(seen[0]) <= set(range(10))
    np.testing.assert_allclose(
        model.similarity_.toarray(), ItemKNN(neighbors=3).fit(sp.csr_matrix(dense)).similarity_.toarray()
    )


def test_update_refuses_a_shrunk_matrix():
    X = random_matrix(10, 8, seed=1)
    model = ItemKNN().fit(X)
    with pytest.raises(DataError, match="append-only"):
        model.update(X[:5])


def test_direct_product_equals_scipy_and_falls_back(monkeypatch):
    A = random_matrix(40, 30, density=0.2, seed=12)
    B = random_matrix(30, 50, density=0.2, seed=13)
    work = sim._work(A, B).sum()
    expected = (A @ B).toarray()
    np.testing.assert_allclose(sim._product(A, B, work).toarray(), expected, atol=1e-12)
    monkeypatch.setattr(sim, "_sparsetools", None)
    np.testing.assert_allclose(sim._product(A, B, work).toarray(), expected, atol=1e-12)
    X = random_matrix(30, 25, density=0.3, seed=0)
    np.testing.assert_allclose(
        ItemKNN(neighbors=5, shrinkage=0.0).fit(X).similarity_.toarray(),
        dense_prune(dense_similarity(X.toarray().T, "cosine"), 5),
        atol=1e-9,
    )


@pytest.mark.parametrize("name", ["item-knn", "cooccurrence"])
def test_one_persons_scores_are_the_batchs_to_the_bit(name):
    """A request scores one person, their row taken by slicing (a fast path): the same scores
    as the batch's, fold-in rows included."""
    from teamrec.algorithms.registry import create

    X = random_matrix(60, 45, density=0.15, seed=4)
    X.data = np.round(X.data * 3, 2)  # activity values, so the order of the sums matters
    model = create(name).fit(X)
    users = np.arange(X.shape[0])
    batch = model.score(users)
    for u in users:
        np.testing.assert_array_equal(model.score(np.array([u]))[0], batch[u])
    fresh = sp.csr_matrix(X[[5]].toarray() + (np.arange(45) % 7 == 0))
    np.testing.assert_array_equal(model.score(np.array([5]), fresh)[0],
                                  model.score(np.array([5, 6]), sp.vstack([fresh, X[[6]]]))[0])
