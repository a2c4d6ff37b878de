"""Folders written whole or not at all (datasets, saved models).

Everything goes into a temporary folder beside the target, which is then renamed into place:
a reader of the target sees the old folder or the new one, never a half-written one, and a
failure part-way (a full disk, a bad value, Ctrl-C) leaves the old folder as it was.

A process killed part-way (``kill -9``, a power cut) cannot clean up after itself; its
temporary folder is named for the target and the writing process (``.NAME.tmp-PID-...``), so
the next write of the same target removes the leftovers of writers that are no longer running.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from teamrec.errors import DataError

logger = logging.getLogger(__name__)


def write_folder(directory: str | os.PathLike[str], write: Callable[[Path], object], *, marker: str,
                 what: str) -> Path:
    """Call ``write(tmp)`` to fill a fresh folder, then put it at ``directory``.

    An existing ``directory`` is replaced only if it holds ``marker`` (it is an earlier
    ``what``) or is empty: teamrec never deletes a folder of someone else's files. A path that
    cannot be written (no permission, not a folder, a full disk) is a :class:`DataError`.
    """
    target = Path(directory)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        if target.is_file() or (target.is_dir() and not (target / marker).exists() and any(target.iterdir())):
            raise DataError(f"refusing to overwrite something that is not {what}", file=str(target))
        remove_stale(target)
        tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.tmp-{os.getpid()}-", dir=target.parent))
    except OSError as exc:
        raise DataError(f"cannot write {what} here ({exc.strerror or exc})", file=str(target)) from None
    old = None
    try:
        write(tmp)
        if target.exists():
            old = target.with_name(f".{target.name}.old-{os.getpid()}-{time.monotonic_ns()}")
            target.rename(old)
        tmp.rename(target)
    except BaseException as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        if old is not None and not target.exists():
            old.rename(target)
        if isinstance(exc, OSError):
            raise DataError(f"cannot write {what} here ({exc.strerror or exc})", file=str(target)) from None
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
    return target


def remove_stale(target: Path) -> list[Path]:
    """Remove the temporary and replaced folders of ``target`` left by writers that died.

    Only folders named as :func:`write_folder` names them (``.NAME.tmp-PID-*`` and
    ``.NAME.old-PID-*``) whose process ``PID`` no longer runs on this machine are removed; a
    writer still at work keeps its folder. Returns what was removed.
    """
    pattern = re.compile(rf"^\.{re.escape(target.name)}\.(?:tmp|old)-(\d+)-")
    removed: list[Path] = []
    try:
        siblings = list(target.parent.iterdir())
    except OSError:
        return removed
    for path in siblings:
        match = pattern.match(path.name)
        if match and path.is_dir() and not path.is_symlink() and not _running(int(match.group(1))):
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path)
    if removed:
        logger.info("removed %d folder(s) left by interrupted writes of %s", len(removed), target)
    return removed


def _running(pid: int) -> bool:
    """Whether process ``pid`` runs on this machine (ours always does)."""
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, OSError):
        return True  # someone else's process, or a pid we cannot ask about: leave it alone
    return True
