"""Why the Slack export cannot separate popularity from EASE in a simulated experiment: the
offline view of the simulation's hold-outs, printed side by side for the two arms.

For the replay's random split (seed 0, 20% of each person's memberships) and its time split
(the last 20% in time, memberships without a join message dated at the channel's creation),
it prints how the memberships are made (share joined within an hour of the channel's
creation: an admin adding a cohort, not a person choosing from a list), which held-out
memberships are of *everyone-channels* (channels 90% or more of the people are in), and where
each arm ranks the held-out channel among the person's other channels (the ones they are not
in yet), fitted on the training part as the service fits its arms: hits in the top 3 (the
Slack app's list) and the top 10, and the mean rank, for everyone-channels and the rest.
It also counts who made the memberships: a ``channel_join`` message names its ``inviter``
when someone else added the person (Slack's export keeps it; teamrec's reader does not need
it), so the joins a person chose themselves -- the ones a recommendation could have caused --
are the join messages without one, less the channel creators'.

    .venv/bin/python benchmarks/slack_holdout_ranks.py ../shared/data/slack-export-sample
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from teamrec.data.matrix import build_matrix, default_config
from teamrec.data.sources import read_source
from teamrec.experiments.simulate import split_holdout
from teamrec.recommender import TeamModel
from teamrec.service.simulation import date_by_item_creation

ARMS = ("popularity", "ease", "item-knn", "rp3beta", "user-ease")
EVERYONE = 0.9


def self_joins(path: str, people: set[str]) -> None:
    """Print who made the export's join messages: added by someone (``inviter``) or not."""
    root = Path(path)
    channels = json.loads((root / "channels.json").read_text())
    creator = {c["name"]: c.get("creator") for c in channels}
    rows = []
    for day in sorted(root.glob("*/*.json")):  # a benchmark: 696 small files
        for m in json.loads(day.read_text()):
            if m.get("subtype") == "channel_join" and m.get("user") in people:
                rows.append((m["user"], day.parent.name, float(m["ts"]), m.get("inviter")))
    joins = pd.DataFrame(rows, columns=["user", "channel", "ts", "inviter"]).sort_values("ts")
    joins = joins.drop_duplicates(["user", "channel"])
    own = joins["inviter"].isna().to_numpy()
    by_creator = np.array([creator.get(c) == u for u, c in zip(joins["user"], joins["channel"], strict=True)])
    chosen = joins[own & ~by_creator]
    top = chosen["channel"].value_counts()
    print(f"{len(joins)} first join messages of the people: {int((~own).sum())} added by someone else (inviter), "
          f"{int((own & by_creator).sum())} by the channel's creator, {len(chosen)} by the person themselves, by "
          f"{chosen['user'].nunique()} people in {top.size} channels: "
          + ", ".join(f"#{c} {n}" for c, n in top.items()))


def cohorts(holdout: pd.DataFrame, items: pd.DataFrame) -> None:
    """Print how fast each channel of the time split's hold-out was filled: its memberships
    within the hour after its first held-out one, and the minutes from that first to the last
    of them (how long a refresh has to bring the channel into the models before its cohort is in)."""
    names = items.drop_duplicates("item").set_index("item")["name"]
    parts = []
    for item, times in holdout.groupby("item")["timestamp"]:
        t = np.sort(times.to_numpy(dtype=float))
        hour = t[t <= t[0] + 3600]
        parts.append((len(hour), f"#{names.get(item, item)} {len(hour)} in {(hour[-1] - hour[0]) / 60:.1f} min"))
    print("time split's held-out memberships within the hour of each channel's first one: "
          + ", ".join(text for _, text in sorted(parts, reverse=True)))


def same_lists(train: pd.DataFrame, people: list[str], k: int) -> int:
    """How many of ``people`` get the same top ``k`` from popularity and EASE (fitted on ``train``)."""
    data = build_matrix(train, config=default_config("slack-export"))
    first, second = (TeamModel.fit(data, arm) for arm in ARMS[:2])
    return sum([r.id for r in first.recommend(p, k)] == [r.id for r in second.recommend(p, k)] for p in people)


def ranks(train: pd.DataFrame, holdout: pd.DataFrame, algorithm: str) -> np.ndarray:
    """The rank (1 = first) of each held-out (person, channel) in ``algorithm``'s list for the
    person, fitted on ``train``; NaN when the model cannot rank it (a channel it never saw)."""
    data = build_matrix(train, config=default_config("slack-export"))
    model = TeamModel.fit(data, algorithm)
    order: dict[str, dict[str, int]] = {}
    for person in holdout["user"].unique():  # a benchmark: 51 people, one full list each
        listed = model.recommend(str(person), data.n_items, fill=True)
        order[str(person)] = {r.id: n for n, r in enumerate(listed, start=1)}
    return np.array([order[str(u)].get(str(i), np.nan) for u, i in zip(holdout["user"], holdout["item"],
                                                                       strict=True)], dtype=float)


def describe(name: str, train: pd.DataFrame, holdout: pd.DataFrame, everyone: set[str]) -> None:
    in_everyone = holdout["item"].isin(everyone).to_numpy()
    unseen = ~holdout["item"].isin(set(train["item"])).to_numpy()
    print(f"\n{name}: {len(train)} training memberships, {len(holdout)} held out; {int(in_everyone.sum())} of "
          f"everyone-channels, {int((~in_everyone).sum())} of other channels; {int(unseen.sum())} of channels the "
          "training part never saw (no arm can rank them)")
    print(f"{'held-out memberships':<34}{'arm':<12}{'n':>5}{'in top 3':>10}{'in top 10':>11}{'mean rank':>11}")
    by_arm = {arm: ranks(train, holdout, arm) for arm in ARMS}
    for label, mask in (("of everyone-channels", in_everyone), ("of other channels", ~in_everyone)):
        for arm in ARMS:
            r = by_arm[arm][mask]
            known = r[np.isfinite(r)]
            mean = f"{known.mean():.1f}" if len(known) else "-"
            print(f"{label:<34}{arm:<12}{len(r):>5}{int((r <= 3).sum()):>10}{int((r <= 10).sum()):>11}{mean:>11}")
    people = sorted(holdout["user"].astype(str).unique())
    print(f"the same list from popularity and EASE: top 3 for {same_lists(train, people, 3)}, top 10 for "
          f"{same_lists(train, people, 10)} of the {len(people)} people with held-out memberships")


def main(path: str) -> None:
    data = read_source(path, "slack-export")
    events = data.events
    members = events[events["kind"] == "member"].reset_index(drop=True)
    people = members["user"].nunique()
    per_channel = members.groupby("item")["user"].nunique()
    everyone = set(per_channel[per_channel >= EVERYONE * people].index.astype(str))
    dated, n_dated = date_by_item_creation(members, data.items)
    created = dated["item"].map(data.items.drop_duplicates("item").set_index("item")["created"])
    lag = (dated["timestamp"] - created).to_numpy(dtype=float)
    print(f"{len(members)} memberships of {people} people in {per_channel.size} channels; {len(everyone)} "
          f"everyone-channels (>= {EVERYONE:.0%} of the people in them) hold "
          f"{int(members['item'].isin(everyone).sum())} memberships")
    print(f"{int(members['timestamp'].notna().sum())} memberships timed by a join message, {n_dated} dated at the "
          f"channel's creation; {np.mean(lag <= 3600):.0%} joined within an hour of the channel's creation, "
          f"{np.mean(lag <= 86400):.0%} within a day")
    self_joins(path, set(members["user"].astype(str)))
    train, holdout = split_holdout(members.assign(timestamp=np.nan), 0.2, seed=0)
    describe("random split (seed 0, whole pairs, as `teamrec simulate --split random`)", train, holdout, everyone)
    train, holdout = split_holdout(dated, 0.2)
    cohorts(holdout, data.items)
    describe("time split (the last 20% in time, as `teamrec simulate --split time`)", train, holdout, everyone)


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "../shared/data/slack-export-sample")
