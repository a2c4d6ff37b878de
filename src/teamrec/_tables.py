"""The small tables saved with a model: item and person metadata, the serving index's columns.

They are written as uncompressed Arrow IPC files (``NAME.arrow``, Feather version 2), which
load memory-mapped, without a copy or a decompression pass: a model swap in the server reads
four of them, and from Parquet that took about 11 ms of the swap's 40 (issue 11: no stalls).
Model folders written before this are still read, from ``NAME.parquet``.
"""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.feather as feather


def write_table(frame: pd.DataFrame, folder: str | os.PathLike[str], name: str) -> Path:
    """Write ``frame`` (its index left out) as ``folder/NAME.arrow``; the path."""
    path = Path(folder) / f"{name}.arrow"
    feather.write_feather(pa.Table.from_pandas(frame, preserve_index=False), path, compression="uncompressed")
    return path


def has_table(folder: str | os.PathLike[str], name: str) -> bool:
    """Whether ``folder`` holds the table ``name`` (in either format)."""
    return (Path(folder) / f"{name}.arrow").exists() or (Path(folder) / f"{name}.parquet").exists()


def read_table(folder: str | os.PathLike[str], name: str) -> pd.DataFrame:
    """The table ``name`` of ``folder``: ``NAME.arrow`` mapped, else an older ``NAME.parquet``."""
    path = Path(folder) / f"{name}.arrow"
    if path.exists():
        return feather.read_table(path, memory_map=True).to_pandas()
    return pd.read_parquet(Path(folder) / f"{name}.parquet")
