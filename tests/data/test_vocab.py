import numpy as np
import pytest

from teamrec.data.vocab import Vocab
from teamrec.errors import UnknownIdError


def test_lookup_and_reverse():
    v = Vocab(["a", "b", "c"], kind="user")
    assert v.lookup(["c", "a"]).tolist() == [2, 0]
    assert v.id_of(np.array([1, 2])).tolist() == ["b", "c"]
    assert v.index_of("b") == 1 and "b" in v and "z" not in v


def test_unknown_ids_raise_or_give_minus_one():
    v = Vocab(["a"], kind="item")
    with pytest.raises(UnknownIdError, match="unknown item: 'z'"):
        v.lookup(["a", "z"])
    assert v.lookup(["a", "z"], missing="ignore").tolist() == [0, -1]


def test_extend_is_append_only():
    v = Vocab(["a", "b"])
    w = v.extend(["c", "a", "d", "c"])
    assert w.ids.tolist() == ["a", "b", "c", "d"]
    assert w.lookup(["a", "b"]).tolist() == v.lookup(["a", "b"]).tolist()
    assert v.extend(["a"]) is v


def test_numeric_ids_become_strings_and_duplicates_are_refused():
    v = Vocab([10, -3])
    assert v.index_of("-3") == 1 and v.index_of(10) == 0
    with pytest.raises(ValueError, match="duplicate"):
        Vocab(["x", "x"])
