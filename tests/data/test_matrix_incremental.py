"""The append-only incremental build (issue 10): extend_matrix gives what a full build of all
the events gives, without renumbering anyone."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from teamrec.data.events import make_events
from teamrec.data.matrix import MatrixConfig, build_matrix, extend_matrix, fold_events


def events_a() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    n = 300
    return make_events(user=[f"u{i}" for i in rng.integers(0, 30, n)], item=[f"c{i}" for i in rng.integers(0, 20, n)],
                       value=rng.integers(1, 5, n).astype(float), kind="message", timestamp=1.7e9 + np.arange(n),
                       team="t")


def events_b() -> pd.DataFrame:
    return make_events(
        user=["u1", "u1", "u2", "u-new", "u-new", "u3", "u4", "u4"],
        item=["c1", "c-new", "c2", "c1", "c-new", "c3", "c4", "c5"],
        value=[2.0, 1.0, 3.0, 1.0, 4.0, 1.0, 1.0, 5.0],
        kind=["message", "message", "message", "message", "message", "leave", "dismiss", "message"],
        timestamp=1.8e9 + np.arange(8), team="t",
    )


@pytest.mark.parametrize("config", [MatrixConfig(), MatrixConfig(binary=True), MatrixConfig(log1p=True),
                                    MatrixConfig(agg="max"), MatrixConfig(agg="count")])
def test_extend_equals_a_full_build(config):
    a, b = events_a(), events_b()
    old = build_matrix(a, config=config)
    new, changed = extend_matrix(old, b, config)
    full = build_matrix(pd.concat([a, b], ignore_index=True), config=config)
    assert list(new.users.ids[: old.n_users]) == list(old.users.ids)  # nobody renumbered
    assert list(new.items.ids[: old.n_items]) == list(old.items.ids)
    # The same cells, by id.
    rows = full.users.lookup(new.users.ids)
    cols = full.items.lookup(new.items.ids)
    np.testing.assert_allclose(new.matrix.toarray(), full.matrix.toarray()[np.ix_(rows, cols)], rtol=1e-12)
    assert (new.excluded.toarray() == full.excluded.toarray()[np.ix_(rows, cols)]).all()
    assert (new.members.toarray() == full.members.toarray()[np.ix_(rows, cols)]).all()
    assert set(new.users.id_of(changed)) == set(b["user"])
    assert new.item_meta["item"].tolist() == list(new.items.ids)


def test_fold_events_is_the_row_of_a_full_build():
    config = MatrixConfig(log1p=True)
    a, b = events_a(), events_b()
    old = build_matrix(a, config=config)
    full = build_matrix(pd.concat([a, b], ignore_index=True), config=config)
    for user in ("u1", "u2", "u3"):
        mine = b[b["user"] == user]
        row, hide = fold_events(config, old.matrix[old.find_user(user)].toarray().ravel(), mine, old.items)
        expected = full.matrix[full.find_user(user)].toarray().ravel()[full.items.lookup(old.items.ids)]
        np.testing.assert_allclose(row, expected, rtol=1e-12)
    _, hide = fold_events(config, np.zeros(old.n_items), b[b["user"] == "u3"], old.items)
    assert hide[old.find_item("c3")] and hide.sum() == 1
