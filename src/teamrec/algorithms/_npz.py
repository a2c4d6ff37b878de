"""Write and read a saved model's ``.npz`` files so that loading costs next to nothing.

``np.load`` on an ``.npz`` reads every member through :mod:`zipfile`: a CRC pass over the
bytes and a copy of each array, under the interpreter lock. A service swapping a new model in
pays that on its own CPU while it serves requests (issue 11: no stalls): 18 MB of item-knn
similarities cost about 15 ms. The members teamrec writes are *stored* (``np.savez`` and
``scipy.sparse.save_npz(..., compressed=False)``), so each member's bytes lie in the file as a
plain ``.npy``. :func:`save_arrays` writes them (a valid ``.npz``: ``np.load`` reads it) with
each array's bytes at a 64-byte boundary of the file (padding in the zip's extra field, as
Android's zipalign does), so :func:`load_arrays` maps the file copy-on-write and returns
arrays that view it: no copy, pages read when first touched, and an algorithm may still
change its arrays in place (the file never changes). A member that is not aligned (files
from ``np.savez``) is read with ``readinto`` into a fresh array; a compressed member, or an
``.npy`` header version this module does not know, the ordinary way, so any ``.npz`` loads.
The zip's own integrity check (CRC) is what is skipped for stored members.
"""

from __future__ import annotations

import io
import mmap
import os
import struct
import zipfile
from typing import Literal

import numpy as np
import scipy.sparse as sp

_LOCAL_HEADER_SIZE = 30  # the zip format's local file header, before the name and extra field
_LOCAL_SIGNATURE = b"PK\x03\x04"
_ZIP64_EXTRA_SIZE = 20  # what zipfile adds to a local header written with force_zip64
_PADDING_ID = 0xD935  # the extra-field id zipalign uses for padding (readers skip unknown ids)
ALIGN = 64  # np.save pads its header to this, so aligned members give aligned arrays


def save_arrays(path: str | os.PathLike[str], arrays: dict[str, np.ndarray]) -> None:
    """Write ``arrays`` as a stored ``.npz`` whose members start at ``ALIGN``-byte boundaries."""
    with open(path, "wb") as fh, zipfile.ZipFile(fh, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as archive:
        for name, array in arrays.items():
            info = zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_STORED
            start = fh.tell() + _LOCAL_HEADER_SIZE + len(info.filename.encode()) + _ZIP64_EXTRA_SIZE
            pad = (-(start + 4)) % ALIGN
            info.extra = struct.pack("<2H", _PADDING_ID, pad) + bytes(pad)
            with archive.open(info, "w", force_zip64=True) as member:
                np.lib.format.write_array(member, np.asanyarray(array), allow_pickle=False)


def load_arrays(path: str | os.PathLike[str]) -> dict[str, np.ndarray]:
    """Every array in the ``.npz`` at ``path`` by name (object arrays refused: no pickle)."""
    out: dict[str, np.ndarray] = {}
    with open(path, "rb") as fh, zipfile.ZipFile(fh) as archive:
        view: list[mmap.mmap] = []  # the file mapped once, on the first aligned member
        for info in archive.infolist():
            array = _read_stored(fh, info, view) if info.compress_type == zipfile.ZIP_STORED else None
            if array is None:
                with archive.open(info) as member:
                    array = np.lib.format.read_array(member, allow_pickle=False)
            out[info.filename.removesuffix(".npy")] = array
    return out


def load_csr(path: str | os.PathLike[str]) -> sp.csr_matrix:
    """A matrix written by ``scipy.sparse.save_npz`` as CSR, read as above (a matrix saved in
    another sparse format is read by scipy and converted)."""
    arrays = load_arrays(path)
    kind = arrays.get("format")
    if kind is None or kind.item() not in (b"csr", "csr"):
        return sp.load_npz(path).tocsr()
    shape = tuple(int(n) for n in arrays["shape"])
    return sp.csr_matrix((arrays["data"], arrays["indices"], arrays["indptr"]), shape=shape)


def _read_stored(fh: io.BufferedReader, info: zipfile.ZipInfo, view: list[mmap.mmap]) -> np.ndarray | None:
    """The stored member ``info``: a view of the mapped file when its data are aligned, else
    read into a new array; None when this reader cannot."""
    fh.seek(info.header_offset)
    header = fh.read(_LOCAL_HEADER_SIZE)
    if len(header) != _LOCAL_HEADER_SIZE or header[:4] != _LOCAL_SIGNATURE:
        return None
    name_length, extra_length = struct.unpack("<2H", header[26:30])
    start = info.header_offset + _LOCAL_HEADER_SIZE + name_length + extra_length
    fh.seek(start)
    version = np.lib.format.read_magic(fh)
    if version == (1, 0):
        shape, fortran, dtype = np.lib.format.read_array_header_1_0(fh)
    elif version == (2, 0):
        shape, fortran, dtype = np.lib.format.read_array_header_2_0(fh)
    else:
        return None
    if dtype.hasobject:
        raise ValueError(f"{info.filename}: object arrays are not read (they would need pickle)")
    if dtype.itemsize == 0:
        return None
    count = int(np.prod(shape, dtype=np.int64))
    nbytes = count * dtype.itemsize
    offset = fh.tell()
    if offset + nbytes > start + info.file_size:
        return None  # the header promises more bytes than the member holds: let numpy say so
    order: Literal["C", "F"] = "F" if fortran else "C"
    if nbytes and offset % ALIGN == 0:
        if not view:
            view.append(mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_COPY))
        return np.frombuffer(view[0], dtype=dtype, count=count, offset=offset).reshape(shape, order=order)
    flat = np.empty(count, dtype=dtype)
    if nbytes and fh.readinto(flat.view(np.uint8).data) != nbytes:
        return None
    return flat.reshape(shape, order=order)
