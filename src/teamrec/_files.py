"""Folders written whole or not at all (datasets, saved models).

Everything goes into a temporary folder beside the target, which is then renamed into place:
a reader of the target sees the old folder or the new one, never a half-written one, and a
failure part-way (a full disk, a bad value, Ctrl-C) leaves the old folder as it was.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from teamrec.errors import DataError


def write_folder(directory: str | os.PathLike[str], write: Callable[[Path], object], *, marker: str,
                 what: str) -> Path:
    """Call ``write(tmp)`` to fill a fresh folder, then put it at ``directory``.

    An existing ``directory`` is replaced only if it holds ``marker`` (it is an earlier
    ``what``) or is empty: teamrec never deletes a folder of someone else's files.
    """
    target = Path(directory)
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.is_file() or (target.is_dir() and not (target / marker).exists() and any(target.iterdir())):
        raise DataError(f"refusing to overwrite something that is not {what}", file=str(target))
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    old = None
    try:
        write(tmp)
        if target.exists():
            old = target.with_name(f".{target.name}.old-{os.getpid()}-{time.monotonic_ns()}")
            target.rename(old)
        tmp.rename(target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        if old is not None and not target.exists():
            old.rename(target)
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
    return target
