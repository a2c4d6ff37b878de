"""Who is in which channel now, from a log of ``member`` and ``leave`` events.

Slack tells teamrec about joins (``member``) and departures (``leave``) as they happen; the
current state is what the *latest* of the two says for each (person, channel): what the
sync compares the live member lists with, and the digest counts. (The matrix applies the
same rule itself: a ``leave`` is an excluding event, see :mod:`teamrec.data.matrix`.)
Pure column operations: one sort and one ``drop_duplicates``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

MEMBER = "member"
LEAVE = "leave"


def latest_membership(events: pd.DataFrame) -> pd.DataFrame:
    """The last ``member``/``leave`` event per (user, item): columns user, item, kind, timestamp.

    Events without a time (an export's memberships) count as older than any timed event;
    among equal times the later row wins (the order they were stored in).
    """
    rows = events.loc[events["kind"].isin([MEMBER, LEAVE]).to_numpy(), ["user", "item", "kind", "timestamp"]]
    order = np.lexsort((np.arange(len(rows)), np.nan_to_num(rows["timestamp"].to_numpy(), nan=-np.inf)))
    return rows.iloc[order].drop_duplicates(["user", "item"], keep="last").reset_index(drop=True)


def current_members(events: pd.DataFrame) -> pd.DataFrame:
    """(user, item) pairs whose latest membership event is a join."""
    latest = latest_membership(events)
    return latest.loc[latest["kind"].to_numpy() == MEMBER, ["user", "item"]].reset_index(drop=True)
