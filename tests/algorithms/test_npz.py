"""Saved arrays: a valid .npz that numpy reads, loaded without a copy where it is aligned."""

from __future__ import annotations

import mmap
import zipfile

import numpy as np
import pytest
import scipy.sparse as sp

from teamrec.algorithms._npz import ALIGN, load_arrays, load_csr, save_arrays
from teamrec.algorithms.knn import ItemKNN
from teamrec.testing import random_matrix

ARRAYS = {
    "floats": np.linspace(0, 1, 1001),
    "ints": np.arange(7, dtype=np.int32),
    "scalar": np.array(3),
    "fortran": np.asfortranarray(np.arange(12.0).reshape(3, 4)),
    "empty": np.empty((0, 3)),
    "text": np.array(["x", "yz"]),
    "flags": np.array([True, False, True]),
    "big_endian": np.arange(5, dtype=">i8"),
}


def _mapped(array: np.ndarray) -> bool:
    """Whether ``array`` views a memory map (not an array of its own)."""
    base = array
    while isinstance(base, np.ndarray) and base.base is not None:
        base = base.base
    if isinstance(base, memoryview):
        base = base.obj
    return isinstance(base, mmap.mmap)


def test_saved_arrays_read_back_equal_by_numpy_and_by_us(tmp_path):
    path = tmp_path / "a.npz"
    save_arrays(path, ARRAYS)
    with np.load(path, allow_pickle=False) as npz:
        assert sorted(npz.files) == sorted(ARRAYS)
        for name, array in ARRAYS.items():
            np.testing.assert_array_equal(npz[name], array)
            assert npz[name].dtype == array.dtype
    loaded = load_arrays(path)
    for name, array in ARRAYS.items():
        np.testing.assert_array_equal(loaded[name], array)
        assert loaded[name].dtype == array.dtype and loaded[name].shape == array.shape
        assert loaded[name].flags.aligned
    assert loaded["fortran"].flags.f_contiguous


def test_every_member_starts_aligned_and_is_mapped_not_copied(tmp_path):
    path = tmp_path / "a.npz"
    save_arrays(path, ARRAYS)
    loaded = load_arrays(path)
    raw = path.read_bytes()
    for name in ("floats", "ints", "fortran", "text"):
        assert _mapped(loaded[name]), name
        start = raw.index(np.lib.format.magic(1, 0), zipfile.ZipFile(path).getinfo(f"{name}.npy").header_offset)
        assert start % ALIGN == 0, name


def test_a_change_to_a_loaded_array_never_reaches_the_file(tmp_path):
    path = tmp_path / "a.npz"
    save_arrays(path, ARRAYS)
    before = path.read_bytes()
    loaded = load_arrays(path)
    loaded["floats"][:] = -1.0  # copy-on-write: the algorithm's own copy changes
    assert (loaded["floats"] == -1.0).all()
    assert path.read_bytes() == before
    np.testing.assert_array_equal(load_arrays(path)["floats"], ARRAYS["floats"])


@pytest.mark.parametrize("writer", [np.savez, np.savez_compressed])
def test_files_numpy_wrote_load_too(tmp_path, writer):
    path = tmp_path / "a.npz"
    writer(path, **ARRAYS)
    loaded = load_arrays(path)
    for name, array in ARRAYS.items():
        np.testing.assert_array_equal(loaded[name], array)
        assert loaded[name].flags.aligned and loaded[name].flags.writeable


def test_object_arrays_are_refused(tmp_path):
    with pytest.raises(ValueError):
        save_arrays(tmp_path / "a.npz", {"objects": np.array([{"a": 1}], dtype=object)})
    np.savez(tmp_path / "b.npz", objects=np.array([{"a": 1}], dtype=object))
    with pytest.raises(ValueError, match="object arrays"):
        load_arrays(tmp_path / "b.npz")


def test_a_truncated_member_is_an_error_not_garbage(tmp_path):
    path = tmp_path / "a.npz"
    np.savez(path, floats=np.arange(1000.0))
    raw = bytearray(path.read_bytes())
    header = raw.index(b"'shape': (1000,)")
    raw[header : header + len(b"'shape': (1000,)")] = b"'shape': (9000,)"  # promises more than it holds
    path.write_bytes(bytes(raw))
    with pytest.raises((ValueError, zipfile.BadZipFile)):  # read the ordinary way, which checks
        load_arrays(path)


@pytest.mark.parametrize("compressed", [True, False])
def test_sparse_matrices_saved_by_scipy_load_equal(tmp_path, compressed):
    X = random_matrix(40, 30, density=0.2, seed=1)
    sp.save_npz(tmp_path / "m.npz", X, compressed=compressed)
    loaded = load_csr(tmp_path / "m.npz")
    assert loaded.format == "csr" and loaded.shape == X.shape
    assert (loaded != X).nnz == 0
    sp.save_npz(tmp_path / "c.npz", X.tocsc(), compressed=compressed)  # another format: converted
    assert (load_csr(tmp_path / "c.npz") != X).nnz == 0


def test_item_knn_saves_its_warmed_weights_and_a_refit_drops_them(tmp_path):
    X = random_matrix(30, 25, density=0.25, seed=4)
    users = np.arange(X.shape[0])
    cold = ItemKNN(neighbors=5).fit(X)
    cold.save(tmp_path / "cold")
    assert "weights_by_neighbour_.data.npy" not in zipfile.ZipFile(tmp_path / "cold" / "arrays.npz").namelist()
    warm = ItemKNN(neighbors=5).fit(X).warm()
    warm.save(tmp_path / "warm")
    loaded = ItemKNN.load(tmp_path / "warm")
    assert loaded._w is not None and _mapped(loaded._w.data)
    assert (loaded._w != cold.similarity_.T.tocsr()).nnz == 0
    np.testing.assert_allclose(loaded.score(users), cold.score(users))
    grown = random_matrix(30, 25, density=0.3, seed=5)
    np.testing.assert_allclose(loaded.update(grown).score(users), ItemKNN(neighbors=5).fit(grown).score(users))
