"""A deterministic generator of multi-team workloads, for the batch job and its benchmark.

The system teamrec comes from computed one activity matrix per team, for thousands of teams,
from read and write logs. :func:`generate_workload` draws such logs, vectorised over all teams
at once (ten million events in seconds), from one seed:

* **team sizes with a long tail**: a team's share of the events is log-normal (a few big
  teams, many small ones); people and channels grow with the team's events;
* **communities of channels**: a team's channels are split into communities (a department's
  channels), each person has a home community and, sometimes, a second one; most of a person's
  activity falls in their communities, the rest goes to the team's company-wide channels;
* **channel popularity and personal activity with long tails**: Zipf weights for channels
  within a community and within the team, log-normal activity per person;
* **read and write logs**: each event is one ``read`` (viewing a channel) or ``write`` (posting
  in it) with value 1 and a timestamp; the matrix turns them into an activity score per
  (person, channel), e.g. ``log1p(reads + 5 * writes)`` (:data:`ACTIVITY_MATRIX`).

Ids are small strings (``u17``, ``c4``, ``t0042``), identical across teams: each team is its
own id space. The output is ordered by team, then time.
"""

from __future__ import annotations

import logging
import os
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from teamrec.data.matrix import MatrixConfig
from teamrec.errors import ConfigError

log = logging.getLogger(__name__)

#: How the generated logs become an activity score per (person, channel).
ACTIVITY_MATRIX = MatrixConfig(kinds=("read", "write"), kind_weights={"read": 1.0, "write": 5.0},
                               agg="sum", log1p=True)

_START = 1_704_067_200.0  # 2024-01-01T00:00:00Z
_DAY = 86_400.0


@dataclass(frozen=True)
class WorkloadShape:
    """The knobs of the workload (defaults give about 10,000 events for an average team)."""

    events_per_person: float = 20.0
    min_team_events: int = 50
    team_sigma: float = 1.0  # log-normal spread of team sizes
    person_sigma: float = 1.0  # log-normal spread of personal activity
    channel_zipf: float = 1.1  # popularity exponent of channels
    channels_per_community: int = 8
    company_channels: int = 3  # channels outside every community (#general and friends)
    in_community: float = 0.8  # share of a person's events in their communities
    second_community: float = 0.3  # share of people with a second community
    write_share: float = 0.1
    days: float = 90.0


@dataclass(frozen=True)
class Workload:
    """A generated workload: the events (team, user, item, kind, value, timestamp) as an Arrow
    table with dictionary-encoded ids, plus per-team facts (sizes and each channel's community)."""

    events: pa.Table
    teams: pd.DataFrame  # team, events, people, channels, communities
    channels: pd.DataFrame  # team, item, community (-1: company-wide)
    seed: int
    shape: WorkloadShape

    def to_pandas(self) -> pd.DataFrame:
        """The events in the project's schema (strings, float64)."""
        from teamrec.data.events import normalize_events

        frame = self.events.to_pandas()
        for col in ("team", "user", "item", "kind"):
            frame[col] = frame[col].astype(str).astype(object)
        return normalize_events(frame, source="<generated>")


def _split(total: int, weights: np.ndarray, minimum: int) -> np.ndarray:
    """``total`` split in proportion to ``weights`` (largest remainders), each at least ``minimum``."""
    n = len(weights)
    spare = total - minimum * n
    if spare < 0:
        raise ConfigError(f"{total} events are too few for {n} teams (at least {minimum} each)")
    share = spare * weights / weights.sum()
    counts = np.floor(share).astype(np.int64)
    rest = spare - int(counts.sum())
    order = np.argsort(-(share - counts), kind="stable")
    counts[order[:rest]] += 1
    return counts + minimum


def _zipf(n: int, exponent: float) -> np.ndarray:
    return 1.0 / np.arange(1, n + 1, dtype=np.float64) ** exponent


def _grouped_draw(rng: np.random.Generator, group: np.ndarray, weights: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """For each entry of ``group``, an index into ``weights`` drawn within that group's slice
    ``[starts[g], starts[g+1])`` with probability proportional to the weights: one sorted
    search over the concatenated per-group CDFs, each shifted by its group number."""
    sizes = np.diff(starts)
    group_of = np.repeat(np.arange(len(sizes)), sizes)
    cum = np.cumsum(weights)
    before = np.concatenate([[0.0], cum])[starts[:-1]]
    total = cum[starts[1:] - 1] - before
    cdf = (cum - before[group_of]) / total[group_of] + group_of  # in (g, g + 1] for group g
    cdf[starts[1:] - 1] = group_of[starts[1:] - 1] + 1.0  # exact upper ends, no rounding gap
    u = rng.random(len(group)) + group
    return np.minimum(np.searchsorted(cdf, u, side="right"), starts[group + 1] - 1)


def generate_workload(teams: int, events: int, seed: int = 0, shape: WorkloadShape | None = None) -> Workload:
    """Draw ``events`` read/write events over ``teams`` teams, deterministically from ``seed``."""
    if teams < 1 or events < 1:
        raise ConfigError("need at least one team and one event")
    s = shape or WorkloadShape()
    rng = np.random.default_rng(seed)

    # Teams: events (long tail), people, channels, communities.
    team_events = _split(events, rng.lognormal(0.0, s.team_sigma, teams), min(s.min_team_events, events // teams))
    people = np.maximum(5, np.round(team_events / s.events_per_person)).astype(np.int64)
    channels = np.maximum(s.company_channels + 2, np.round(4 * np.sqrt(people))).astype(np.int64)
    communities = np.maximum(1, (channels - s.company_channels) // s.channels_per_community)

    # Channels: the first `company_channels` of each team are company-wide (community -1); the
    # others go round-robin to the communities. Popularity: the Zipf weight of a random rank.
    ch_start = np.concatenate([[0], np.cumsum(channels)])
    ch_team = np.repeat(np.arange(teams), channels)
    ch_local = np.arange(ch_start[-1]) - ch_start[ch_team]
    ch_comm = np.where(ch_local < s.company_channels, -1,
                       (ch_local - s.company_channels) % communities[ch_team])
    ch_weight = 1.0 / (1.0 + rng.permutation(len(ch_local)) % np.maximum(1, channels[ch_team])) ** s.channel_zipf

    # Channels grouped by (team, community) for in-community draws; company channels form
    # group "community -1" per team and serve the out-of-community draws with everything else.
    comm_start = np.concatenate([[0], np.cumsum(communities)])
    member_comm = ch_comm >= 0
    group_key = np.where(member_comm, comm_start[ch_team] + ch_comm, -1)
    order = np.lexsort((ch_local, group_key))
    order = order[group_key[order] >= 0]
    grouped_weight = ch_weight[order]
    group_sizes = np.bincount(group_key[order], minlength=comm_start[-1])
    group_starts = np.concatenate([[0], np.cumsum(group_sizes)])

    # People: activity (long tail), a home community and maybe a second.
    pp_start = np.concatenate([[0], np.cumsum(people)])
    pp_team = np.repeat(np.arange(teams), people)
    pp_activity = rng.lognormal(0.0, s.person_sigma, len(pp_team))
    comm_pop = _zipf(int(communities.max()), 0.8)
    home = _grouped_draw(rng, pp_team, comm_pop[np.arange(comm_start[-1]) - comm_start[np.repeat(np.arange(teams),
                                                                                                  communities)]],
                         comm_start) - comm_start[pp_team]
    second = np.where(rng.random(len(pp_team)) < s.second_community,
                      rng.integers(0, 1 << 30, len(pp_team)) % communities[pp_team], home)

    # Events: team -> person (by activity) -> in community (home or second) or anywhere in the team.
    ev_team = np.repeat(np.arange(teams), team_events)
    ev_person = _grouped_draw(rng, ev_team, pp_activity, pp_start)
    inside = rng.random(len(ev_team)) < s.in_community
    use_second = rng.random(len(ev_team)) < 0.35
    comm = np.where(use_second, second[ev_person], home[ev_person])
    ev_channel = np.empty(len(ev_team), dtype=np.int64)
    idx = np.flatnonzero(inside)
    ev_channel[idx] = order[_grouped_draw(rng, comm_start[ev_team[idx]] + comm[idx], grouped_weight, group_starts)]
    idx = np.flatnonzero(~inside)
    ev_channel[idx] = _grouped_draw(rng, ev_team[idx], ch_weight, ch_start)
    is_write = rng.random(len(ev_team)) < s.write_share
    timestamp = _START + np.floor(rng.random(len(ev_team)) * s.days * _DAY)
    ts_order = np.lexsort((timestamp, ev_team))

    user_local = (ev_person - pp_start[ev_team])[ts_order]
    item_local = (ev_channel - ch_start[ev_team])[ts_order]
    width = len(str(teams - 1))
    team_names = pa.array([f"t{t:0{width}d}" for t in range(teams)])
    user_names = pa.array([f"u{i}" for i in range(int(people.max()))])
    item_names = pa.array([f"c{i}" for i in range(int(channels.max()))])

    def dictionary(codes: np.ndarray, names: pa.Array) -> pa.DictionaryArray:
        return pa.DictionaryArray.from_arrays(pa.array(codes.astype(np.int32)), names)

    table = pa.table(
        {
            "team": dictionary(ev_team[ts_order], team_names),
            "user": dictionary(user_local, user_names),
            "item": dictionary(item_local, item_names),
            "kind": dictionary(is_write[ts_order].astype(np.int32), pa.array(["read", "write"])),
            "value": pa.array(np.ones(len(ev_team))),
            "timestamp": pa.array(timestamp[ts_order]),
        }
    )
    team_frame = pd.DataFrame({"team": team_names.to_pylist(), "events": team_events, "people": people,
                               "channels": channels, "communities": communities})
    channel_frame = pd.DataFrame({"team": np.asarray(team_names.to_pylist(), dtype=object)[ch_team],
                                  "item": np.char.add("c", ch_local.astype(str)).astype(object),
                                  "community": ch_comm})
    return Workload(events=table, teams=team_frame, channels=channel_frame, seed=seed, shape=s)


def write_workload(workload: Workload, out: str | os.PathLike[str]) -> Path:
    """Write the events as a Parquet dataset partitioned by team (``OUT/team=t0042/part-0.parquet``)
    plus ``OUT/_workload.json`` (seed, shape, per-team sizes); readers skip ``_`` files."""
    import json

    import pyarrow.dataset as ds

    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    ds.write_dataset(
        workload.events,
        folder,
        format="parquet",
        partitioning=ds.partitioning(pa.schema([("team", pa.string())]), flavor="hive"),
        basename_template="part-{i}.parquet",
        existing_data_behavior="delete_matching",
        use_threads=False,
        max_rows_per_group=1 << 20,
    )
    meta = {"seed": workload.seed, "shape": asdict(workload.shape), "matrix": ACTIVITY_MATRIX.model_dump(),
            "events": workload.events.num_rows, "teams": workload.teams.to_dict(orient="list")}
    (folder / "_workload.json").write_text(json.dumps(meta, indent=1, default=int))
    return folder
