"""Readers: one module per source format, each turning a file or folder into a :class:`Dataset`.

Every reader has the signature ``read(path, *, skip_bad_rows=False, progress=None, **options)``
and returns a :class:`~teamrec.data.dataset.Dataset`. Readers read in a columnar way
(pandas / pyarrow), never row by row in Python, and raise :class:`~teamrec.errors.DataError`
naming the file, the 1-based line and the field of the first bad row; with
``skip_bad_rows=True`` they drop bad rows instead and count them in ``info["rows_skipped"]``.
``progress``, when given, is called as ``progress(done, total)`` in bytes while reading.

:func:`read_source` picks the reader by format name; a folder written by ``teamrec ingest``
(format ``teamrec``) is recognised without a format.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from teamrec.data.dataset import Dataset
from teamrec.errors import ConfigError, DataError

#: Formats read from one file (a folder given for one of these is refused at once).
SINGLE_FILE_FORMATS = frozenset({"csv", "jsonl", "parquet"})

#: format name -> "module:function" of its reader (imported lazily).
FORMATS: dict[str, str] = {
    "csv": "teamrec.data.sources.tabular:read_csv",
    "jsonl": "teamrec.data.sources.tabular:read_jsonl",
    "parquet": "teamrec.data.sources.tabular:read_parquet",
    "movielens": "teamrec.data.sources.movielens:read_movielens",
    "deskdrop": "teamrec.data.sources.deskdrop:read_deskdrop",
    "lastfm": "teamrec.data.sources.lastfm:read_lastfm",
    "slack-export": "teamrec.data.sources.slack_export:read_slack_export",
    "teamrec": "teamrec.data.sources:read_ingested",
}

Progress = Callable[[int, int], None]


def read_ingested(path: str | os.PathLike[str], **_: Any) -> Dataset:
    """Read a folder written by ``teamrec ingest`` / :meth:`Dataset.save`."""
    return Dataset.load(path)


def read_source(
    path: str | os.PathLike[str],
    format: str | None = None,
    *,
    skip_bad_rows: bool = False,
    progress: Progress | None = None,
    **options: Any,
) -> Dataset:
    """Read ``path`` with the reader registered for ``format``.

    ``format`` may be omitted for a folder written by ``teamrec ingest``.
    """
    p = Path(path)
    if format is None:
        if p.is_dir() and (p / "dataset.json").exists():
            format = "teamrec"
        else:
            raise ConfigError(
                f"{path}: give --format (one of {', '.join(sorted(FORMATS))}) "
                "or a folder written by 'teamrec ingest'"
            )
    if format not in FORMATS:
        raise ConfigError(f"unknown format {format!r}; known: {', '.join(sorted(FORMATS))}")
    if not p.exists():
        raise DataError("no such file or folder", file=str(path))
    if format in SINGLE_FILE_FORMATS and p.is_dir():
        raise DataError(f"a folder, not a {format} file", file=str(path))
    module_name, func_name = FORMATS[format].split(":")
    reader = getattr(importlib.import_module(module_name), func_name)
    try:
        if format == "teamrec":
            return reader(p)
        return reader(p, skip_bad_rows=skip_bad_rows, progress=progress, **options)
    except RecursionError:
        raise DataError("JSON nested too deeply to read", file=str(path)) from None
    except OSError as exc:  # a folder where a file was expected, no permission, a read error
        raise DataError(f"cannot read ({exc.strerror or exc})", file=str(exc.filename or path)) from None
