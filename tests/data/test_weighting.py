import numpy as np
import scipy.sparse as sp

from teamrec.data import weighting


def test_time_decay_halves_per_half_life_and_keeps_undated_events():
    day = weighting.SECONDS_PER_DAY
    values = np.array([8.0, 8.0, 8.0, 8.0])
    ts = np.array([100 * day, 90 * day, 80 * day, np.nan])
    out = weighting.time_decay(values, ts, half_life_days=10, now=100 * day)
    np.testing.assert_allclose(out, [8.0, 4.0, 2.0, 8.0])
    # a future event is not amplified
    assert weighting.time_decay(np.array([1.0]), np.array([200 * day]), 10, 100 * day)[0] == 1.0


def test_binarize_log1p_drop_below():
    m = sp.csr_matrix(np.array([[0.0, 3.0], [0.5, 0.0]]))
    assert weighting.binarize(m).toarray().tolist() == [[0, 1], [1, 0]]
    np.testing.assert_allclose(weighting.log1p(m).toarray(), np.log1p(m.toarray()))
    dropped = weighting.drop_below(m, 1.0)
    assert dropped.nnz == 1 and dropped[0, 1] == 3.0
    assert m.nnz == 2  # inputs are not modified


def test_min_interactions_iterates_until_stable():
    # user 2 has 2 items but one of them (item 2) has a single user -> after dropping item 2,
    # user 2 has 1 item and must go too.
    dense = np.array([[1, 1, 0], [1, 1, 0], [1, 0, 1]], dtype=float)
    out, users, items = weighting.min_interactions(sp.csr_matrix(dense), 2, 2)
    assert users.tolist() == [0, 1] and items.tolist() == [0, 1]
    assert out.toarray().tolist() == [[1, 1], [1, 1]]
