"""An experiment replayed through the real service layer, before any rollout.

:func:`simulate_experiment` splits a data set into training events and a hold-out
(:func:`teamrec.experiments.simulate.split_holdout`), serves the training part as one team of
an in-process :class:`~teamrec.service.app.Service` with the experiment declared (every arm its
own snapshot, sticky hashed assignment, exploration through the policy's hook), and replays
the hold-out as simulated people (:func:`teamrec.experiments.simulate.replay`): each visit is
``TeamService.recommend`` (impressions logged), each hit is ``TeamService.feedback`` (logged,
and learnt at once when the action is a learning event for the team: a ``join`` by default).
No HTTP: the same calls the routes make, without the sockets.

With ``stream`` the replay is news-style (:class:`Stream`): every held-out event -- what
everybody did after the cut-off, not only the simulated clicks -- is ingested in time order
through ``TeamService.ingest`` (what ``POST .../events`` does), and the service's incremental
refresh runs as its ``[online]`` settings would trigger it, so items first seen after the
cut-off (Deskdrop's new articles, a Slack export's new channels) enter every arm's model and
can be recommended and clicked.

Besides the report, it checks the off-policy estimate against the truth: for every arm that
explores, the IPS estimate (from that arm's logged propensities) of the CTR its list would get
*without* exploration, and that list's exact CTR over the same visits (its hits among the
person's current future, computed from the same snapshot at each visit, nothing logged).
"""

from __future__ import annotations

import logging
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from teamrec.data.dataset import Dataset
from teamrec.data.sources import read_source
from teamrec.errors import DataError
from teamrec.experiments.frames import clicked
from teamrec.experiments.settings import Experiment
from teamrec.experiments.simulate import (
    Served,
    Simulation,
    Visit,
    replay,
    split_holdout,
    visit_order,
    wanted_now,
)
from teamrec.experiments.stats import OffPolicyEstimate, minimum_detectable_difference, off_policy_ctr
from teamrec.service.registry import arm_key
from teamrec.service.settings import Settings
from teamrec.service.teams import Caller, TeamService

log = logging.getLogger(__name__)

TEAM = "sim"
Z95 = 1.959963984540054


@dataclass
class OffPolicyCheck:
    """One exploring arm: the IPS estimate of its exploit-only list's CTR, and that list's truth."""

    arm: str
    estimate: OffPolicyEstimate
    truth: float
    truth_low: float
    truth_high: float
    visits: int

    @property
    def within(self) -> bool:
        """Whether the estimate lies in the truth's 95% interval."""
        return bool(self.truth_low <= self.estimate.ips <= self.truth_high)


@dataclass
class ServiceSimulation:
    """What :func:`simulate_experiment` produced."""

    simulation: Simulation
    off_policy: list[OffPolicyCheck]
    train_events: int
    holdout_events: int
    seconds: float
    notes: list[str] = field(default_factory=list)
    #: With ``stream``: events streamed, refreshes and retrains run, items new since the
    #: cut-off that entered the models, and clicks on items the training part never saw.
    stream: dict[str, int] | None = None

    def to_text(self) -> str:
        lines = [self.simulation.report.to_text(), ""]
        lines.append(f"{self.simulation.visits} visits replayed through TeamService ({self.train_events} training "
                     f"events, {self.holdout_events} held out) in {self.seconds:.1f}s")
        lines += self.power_lines()
        for check in self.off_policy:
            e = check.estimate
            lines.append(
                f"off-policy, arm {check.arm} without exploration: IPS {e.ips:.2%} [{e.ips_low:.2%}, {e.ips_high:.2%}]"
                f"; simulated truth {check.truth:.2%} [{check.truth_low:.2%}, {check.truth_high:.2%}]"
                f" -> {'within' if check.within else 'OUTSIDE'} the truth's interval"
            )
        lines += self.notes
        return "\n".join(lines)

    def detectable(self) -> dict[str, float]:
        """Per treatment arm, the smallest true CTR difference to the control this replay finds
        with 80% power (two-sided 5%), from the report's delta-method standard error: with as
        many people as the replay has, a smaller true difference cannot be expected to show."""
        diffs = self.simulation.report.differences
        return {str(arm): float(minimum_detectable_difference(se))
                for arm, se in zip(diffs["arm"], diffs["std_error"], strict=True) if np.isfinite(se)}

    def power_lines(self) -> list[str]:
        arms = self.simulation.report.arms.set_index("arm")
        control = self.simulation.report.control
        lines = []
        for arm, mdd in self.detectable().items():
            lines.append(f"power: {int(arms.loc[control, 'units'])} and {int(arms.loc[arm, 'units'])} people; the "
                         f"smallest true difference {arm} - {control} this replay finds with 80% power (two-sided "
                         f"5%) is {mdd * 100:.2f} pp")
        return lines

    def to_dict(self) -> dict[str, Any]:
        return {
            "report": self.simulation.report.to_dict(),
            "detectable_difference": self.detectable(),
            "visits": self.simulation.visits,
            "train_events": self.train_events,
            "holdout_events": self.holdout_events,
            "seconds": round(self.seconds, 2),
            "off_policy": [
                {"arm": c.arm, "ips": c.estimate.ips, "ips_low": c.estimate.ips_low, "ips_high": c.estimate.ips_high,
                 "snips": c.estimate.snips, "truth": c.truth, "truth_low": c.truth_low, "truth_high": c.truth_high,
                 "within": c.within}
                for c in self.off_policy
            ],
            "notes": list(self.notes),
            "stream": self.stream,
        }


def simulate_experiment(
    source: str | Path,
    fmt: str | None,
    experiment: Experiment,
    *,
    options: dict[str, Any] | None = None,
    kind_values: dict[str, float] | None = None,
    matrix: dict[str, Any] | None = None,
    share: float = 0.2,
    k: int = 10,
    max_visits: int | None = None,
    action: str = "join",
    seed: int = 0,
    split: str = "auto",
    stream: bool = False,
    refresh_every: int | None = 1000,
    refresh_seconds: float | None = None,
    retrain_every: int | None = None,
    window_days: float | None = None,
    clickable: str = "future",
) -> ServiceSimulation:
    """Replay ``source``'s hold-out through a real :class:`TeamService` serving ``experiment``.

    The experiment runs for the simulated team whatever its window and rollout say (a
    simulation is of one team that takes part); every hit is fed back as ``action``.
    ``split``: ``"auto"`` holds out the last ``share`` in time when every event has a time;
    ``"random"`` holds out ``share`` of each person's events at random (the times are then
    dropped, and visits come in a seeded random order); ``"time"`` the last ``share`` in time,
    an event without a time dated at its item's ``created`` time when the items have one (a
    Slack membership without a join message: the channel's creator, or a member from before
    the export's first day; the earliest it can have happened).

    ``stream`` (a time split only): the news-style replay. Every held-out event (re-reads and
    other kinds included: what everybody really did) is ingested in time order, as ``POST
    .../events`` would, just before the first visit after it; every ``refresh_every`` streamed
    events the service's incremental refresh runs (vocabularies extended, so items first seen
    after the cut-off enter every arm's model), or once an event has waited ``refresh_seconds``
    of the data's time (the service's ``refit_events`` / ``refit_seconds``, replayed in the
    data's clock); with ``retrain_every``, a full retrain every that many (what time decay
    needs). A click stored as a learning event stands for the person's first held-out event of
    that item (of a kind the models learn from), which is then not streamed again.
    ``window_days``: a shown item is clicked only when the person takes it within that many
    days of the visit; ``clickable="visit"``: only the visit's own held-out item can be clicked
    (at most one click per visit).
    """
    if clickable not in ("future", "visit"):
        raise DataError(f"clickable must be 'future' or 'visit', got {clickable!r}", field="clickable")
    if split not in ("auto", "random", "time"):
        raise DataError(f"split must be 'auto', 'random' or 'time', got {split!r}", field="split")
    if stream and split == "random":
        raise DataError("stream needs a time split (split 'time' or 'auto' on timed data)", field="stream")
    if any(n is not None and n < 1 for n in (refresh_every, retrain_every)) or (
            refresh_seconds is not None and not refresh_seconds > 0):
        raise DataError("refresh_every, refresh_seconds and retrain_every must be positive", field="refresh_every")
    start = time.perf_counter()
    data = read_source(source, fmt, **(options or {}))
    teams = data.teams()
    if len(teams) > 1:
        data = data.team(teams[0])
    spec_format = data.info.get("format") or fmt
    from teamrec.spec import TeamSpec

    spec = TeamSpec.model_validate({"kind_values": kind_values or {}, "matrix": matrix or {}})
    config = spec.matrix_config(spec_format)
    all_events = data.events
    notes: list[str] = []
    if split == "time":
        all_events, dated = date_by_item_creation(all_events, data.items)
        if dated:
            notes.append(f"{dated} events without a time dated at their item's creation")
    learnt = np.ones(len(all_events), dtype=bool)
    if config.kinds is not None:  # the hold-out is what the team's models learn from (Slack: memberships)
        learnt = all_events["kind"].isin(config.kinds).to_numpy()
    events = all_events[learnt].reset_index(drop=True)
    others = all_events[~learnt]  # other kinds (Slack messages) stay in training, as in the team's data
    if split == "random":
        events = events.assign(timestamp=np.nan)
    times = pd.to_numeric(events["timestamp"], errors="coerce").to_numpy(dtype=float)
    if split == "time" and not np.isfinite(times).all():
        raise DataError(f"split 'time': {int((~np.isfinite(times)).sum())} of the events have no time (and no item "
                        "creation time to date them by)", file=str(source), field="timestamp")
    train, holdout = split_holdout(events, share, seed=seed)
    if not len(holdout):
        raise DataError("the hold-out is empty: nothing to replay", file=str(source))
    streamed = None
    if stream:
        if not np.isfinite(times).all():
            raise DataError("stream needs a time on every event (use split 'time')", file=str(source),
                            field="timestamp")
        held = split_holdout(events, share, seed=seed, retakes=True)[1]
        cut = float(pd.to_numeric(held["timestamp"]).min())
        other_times = pd.to_numeric(others["timestamp"], errors="coerce").to_numpy(dtype=float)
        later = np.isfinite(other_times) & (other_times >= cut)
        # What everyone did after the cut-off; only the learnt kinds' events can be what a click stood for.
        streamed = pd.concat([held.assign(learnt=True), others[later].assign(learnt=False)], ignore_index=True)
        others = others[~later]
    train_all = pd.concat([train, others], ignore_index=True) if len(others) else train
    experiment = experiment.model_copy(update={"start": pd.Timestamp("2000-01-01", tz="UTC").to_pydatetime(),
                                               "end": None, "rollout": 1.0})
    with tempfile.TemporaryDirectory(prefix="teamrec-sim-") as tmp:
        folder = Dataset(events=train_all, items=data.items, users=data.users, info=dict(data.info)).save(
            Path(tmp) / "train"
        )
        settings = Settings.model_validate({
            "mode": "development", "database": "memory:",
            "online": {"refit_events": 0, "refit_seconds": None},
            # Everybody is in an arm (rollout 1): the team's own model serves nobody, so the
            # cheapest one keeps its fits (at start and at each refresh) out of the way.
            "teams": {TEAM: {"source": str(folder), "kind_values": kind_values or {}, "matrix": matrix or {},
                             "algorithm": "popularity"}},
            "experiments": [experiment.model_dump()],
        })
        from teamrec.service.app import Service

        service = Service(settings)
        try:
            service.start()
            team = service.team(TEAM)
            feed = None if streamed is None else Stream(team, streamed, refresh_every, retrain_every, refresh_seconds)
            sim, checks = _replay(team, experiment, holdout.assign(team=TEAM), k, max_visits, action, seed,
                                  feed, window_days, clickable)
            stats = None if feed is None else feed.figures(set(train["item"].astype(str)), sim)
            if feed is not None and stats is not None:
                notes.append(feed.describe(stats))
        finally:
            service.close()
    held_times = pd.to_numeric(holdout["timestamp"], errors="coerce").to_numpy(dtype=float)
    how = "the last share in time" if np.isfinite(held_times).all() else "whole (person, item) pairs at random"
    window = "" if window_days is None else f", a click within {window_days:g} days of the visit"
    if clickable == "visit":
        window += ", only the visit's own held-out item clickable"
    if matrix:
        window += "; the team's matrix with " + ", ".join(f"{key} {value}" for key, value in sorted(matrix.items()))
    notes.insert(0, f"simulated with k={k}, hold-out share {share} ({split} split: {how}), feedback action "
                 f"{action!r}{window}; the experiment's window and rollout are ignored (the simulated team takes "
                 "part)")
    unknown = int((~holdout["item"].astype(str).isin(set(train["item"].astype(str)))).sum())
    if unknown and not stream:  # no arm can show an item its models never saw: a ceiling on every arm's CTR
        notes.append(f"{unknown} of the {len(holdout)} held-out events ({unknown / len(holdout):.0%}) are of items "
                     "the training part never saw, which no arm can recommend")
    elif unknown:
        notes.append(f"{unknown} of the {len(holdout)} held-out events ({unknown / len(holdout):.0%}) are of items "
                     "the training part never saw: they enter the models with the streamed events' refreshes")
    return ServiceSimulation(sim, checks, len(train), len(holdout), time.perf_counter() - start, notes, stats)


def date_by_item_creation(events: pd.DataFrame, items: pd.DataFrame) -> tuple[pd.DataFrame, int]:
    """``events`` with each event that has no time dated at its item's ``created`` time (when
    the items have one), and how many were dated. For a Slack export: a membership without a
    ``channel_join`` message (the channel's creator, or a member of a channel older than the
    export's messages) gets the channel's creation, the earliest time it can have happened."""
    times = pd.to_numeric(events["timestamp"], errors="coerce").to_numpy(dtype=float)
    missing = ~np.isfinite(times)
    if not missing.any() or "created" not in items.columns:
        return events, 0
    created = pd.to_numeric(items.drop_duplicates("item", keep="last").set_index("item")["created"],
                            errors="coerce")
    fill = events["item"].map(created).to_numpy(dtype=float)
    dated = missing & np.isfinite(fill)
    if not dated.any():
        return events, 0
    out = events.copy()
    out["timestamp"] = np.where(dated, fill, times)
    return out, int(dated.sum())


class Stream:
    """The held-out events fed to a team in time order, as ``POST .../events`` would, with the
    service's incremental refresh as its ``[online]`` settings trigger it -- after
    ``refresh_every`` events, or (``refresh_seconds``) once the oldest waiting event has waited
    that long *in the data's time* -- and, with ``retrain_every``, a full retrain every that
    many events. It runs in the replay's own thread, so a run is reproducible.

    :meth:`advance` ingests every event before a visit's time; :meth:`clicked` records a click
    that was stored as a learning event, which stands for the person's first held-out event of
    that item (not streamed again). ``events`` may carry a boolean ``learnt`` column: only
    those events can be what a click stood for."""

    COLUMNS = ("user", "item", "kind", "value", "timestamp")

    def __init__(self, team: TeamService, events: pd.DataFrame, refresh_every: int | None = None,
                 retrain_every: int | None = None, refresh_seconds: float | None = None) -> None:
        frame = events[list(self.COLUMNS)].copy()
        frame["user"], frame["item"] = frame["user"].astype(str), frame["item"].astype(str)
        frame["timestamp"] = pd.to_numeric(frame["timestamp"]).astype(float)
        learnt = events["learnt"].to_numpy(dtype=bool) if "learnt" in events.columns else np.ones(len(frame), bool)
        frame = frame.assign(learnt=learnt).sort_values(["timestamp", "user", "item"], kind="stable")
        frame = frame.reset_index(drop=True)
        # The event a click stands for: the pair's first held-out one of a kind the models learn
        # from (``learnt``; a Slack membership, not a message in the channel).
        first = np.zeros(len(frame), dtype=bool)
        mask = frame["learnt"].to_numpy()
        first[mask] = ~frame.loc[mask].duplicated(["user", "item"], keep="first").to_numpy()
        frame["first"] = first
        self.frame = frame
        self.times = frame["timestamp"].to_numpy()
        self.team = team
        self.refresh_every = refresh_every
        self.refresh_seconds = refresh_seconds
        self.retrain_every = retrain_every
        self.position = 0
        self.streamed = 0
        self.refreshes = 0
        self.retrains = 0
        self._pending_since: float | None = None  # the time of the oldest event not in a snapshot yet
        self._since_refresh = 0
        self._since_retrain = 0
        self._clicked: set[tuple[str, str]] = set()
        self._items_at_start = self._vocabulary()

    def _vocabulary(self) -> set[str]:
        return {str(i) for state in self.team.registry.states(self.team.name) for i in state.model.data.items.ids}

    def clicked(self, user: str, item: str) -> None:
        self._clicked.add((user, item))

    def advance(self, until: float) -> None:
        """Ingest every event before ``until`` (the visit's own event is at ``until``: after it),
        refreshing whenever the settings would have on the way."""
        while self.refresh_seconds is not None and self._pending_since is not None:
            due = self._pending_since + self.refresh_seconds
            if due >= until:
                break
            self._ingest_before(due)  # what arrived before the timer fired is in the refresh
            self._refresh()
        self._ingest_before(until)
        if self.retrain_every is not None and self._since_retrain >= self.retrain_every:
            self.team.retrain()
            self.retrains += 1
            self._since_retrain = self._since_refresh = 0
            self._pending_since = None
        elif self.refresh_every is not None and self._since_refresh >= self.refresh_every:
            self._refresh()

    def _ingest_before(self, until: float) -> None:
        end = int(np.searchsorted(self.times, until, side="left"))
        if end <= self.position:
            return
        batch = self.frame.iloc[self.position:end]
        self.position = end
        if self._clicked:
            pairs = list(zip(batch["user"], batch["item"], strict=True))
            batch = batch[~(batch["first"].to_numpy() & np.array([p in self._clicked for p in pairs]))]
        if not len(batch):
            return
        self.team.ingest(Caller(trusted=True), batch[list(self.COLUMNS)].reset_index(drop=True))
        if self._pending_since is None:
            self._pending_since = float(batch["timestamp"].iloc[0])
        self.streamed += len(batch)
        self._since_refresh += len(batch)
        self._since_retrain += len(batch)

    def _refresh(self) -> None:
        self.team.registry.refresh(self.team.name)
        self.refreshes += 1
        self._since_refresh = 0
        self._pending_since = None

    def figures(self, train_items: set[str], sim: Simulation) -> dict[str, int]:
        """What was streamed and refreshed, how many items first seen after the cut-off
        reached the models, and how many clicks were on items the training part never saw."""
        clicks = sim.feedback["item"].astype(str)
        return {"streamed": self.streamed, "refreshes": self.refreshes, "retrains": self.retrains,
                "new_items": len(self._vocabulary() - self._items_at_start),
                "clicks_on_new_items": int((~clicks.isin(train_items)).sum()), "clicks": len(clicks)}

    def describe(self, figures: dict[str, int]) -> str:
        when = " or ".join(
            ([f"{self.refresh_every} events"] if self.refresh_every is not None else [])
            + ([f"an event waited {self.refresh_seconds:g}s"] if self.refresh_seconds is not None else []))
        retrains = f" and {figures['retrains']} full retrains" if self.retrain_every is not None else ""
        return (f"streamed {figures['streamed']} held-out events in time order (ingested as POST events do), "
                f"{figures['refreshes']} incremental refreshes (after {when or 'nothing'}){retrains}; "
                f"{figures['new_items']} items new since the cut-off entered the models; "
                f"{figures['clicks_on_new_items']} of the {figures['clicks']} clicks were on items the training "
                "part never saw")


def _replay(
    team: TeamService, experiment: Experiment, holdout: pd.DataFrame, k: int, max_visits: int | None,
    action: str, seed: int, feed: Stream | None = None, window_days: float | None = None,
    clickable: str = "future",
) -> tuple[Simulation, list[OffPolicyCheck]]:
    caller = Caller(trusted=True)
    counter = iter(range(1 << 62))
    team.new_recommendation_id = lambda: f"sim-{seed}-{next(counter)}"  # reproducible exploration
    # The visits the replay will make, so that the truth below counts the same future.
    holdout = visit_order(holdout, seed)
    if max_visits is not None:
        holdout = holdout.iloc[:max_visits]
    person_of: dict[str, str] = {}
    # The exploit-only list of each exploring arm's visits, and each person's current future
    # (held-out items not clicked yet), for the off-policy truth.
    exploring = {arm.name for arm in experiment.arms if arm.epsilon > 0}
    holdout_times = pd.to_numeric(holdout["timestamp"], errors="coerce").to_numpy(dtype=float)
    timed = bool(len(holdout)) and bool(np.isfinite(holdout_times).all())
    future: dict[str, dict[str, float]] = {}
    for user, item, t in zip(holdout["user"].astype(str), holdout["item"].astype(str), holdout_times, strict=True):
        wanted = future.setdefault(user, {})
        wanted[item] = min(wanted.get(item, np.inf), t if timed else -np.inf)
    target: dict[str, set[str]] = {}
    truth_hits: dict[str, list[int]] = {arm: [] for arm in exploring}

    def recommend(visit: Visit) -> Served:
        if feed is not None:  # the visits are in time order: the raw time, not the rounded Timestamp
            feed.advance(float(holdout_times[visit.index]))
        answer = team.recommend(caller, visit.person, k)
        rid = answer.recommendation_id or ""
        person_of[rid] = visit.person
        if answer.arm in exploring:
            state = team.registry.get(team.name, arm_key(experiment, experiment.arm(answer.arm)))
            row, hide = state.fresh.row(state.model, visit.person)
            top = [r.id for r in state.model.recommend(visit.person, k, user_items=row, hide=hide)]
            target[rid] = set(top)
            now = float(holdout_times[visit.index]) if timed else -np.inf
            wanted = future.get(visit.person, {})
            own = visit.item
            truth_hits[answer.arm].append(sum(1 for i in top if wanted_now(wanted, i, now, window_days)
                                              and (clickable == "future" or i == own)))
        return Served(
            recommendation_id=rid, items=[r.id for r in answer.results], arm=answer.arm,
            explored=[r.explored for r in answer.results],
            propensities=[1.0 if r.propensity is None else r.propensity for r in answer.results],
        )

    def feedback(recommendation_id: str, item: str, _action: str, at: pd.Timestamp) -> None:
        user = person_of[recommendation_id]
        future.get(user, {}).pop(item, None)
        done = team.feedback(caller, user, item, action, recommendation_id=recommendation_id,
                             timestamp=at.timestamp())
        if feed is not None and done.event_kind is not None:  # the click was the read: not streamed twice
            feed.clicked(user, item)

    sim = replay(holdout, recommend, feedback, experiment=experiment, seed=seed, window_days=window_days,
                 clickable="visit" if clickable == "visit" else "future")
    checks = []
    shown = sim.impressions.assign(clicked=clicked(sim.impressions, sim.feedback))
    for arm in experiment.arm_names:
        if arm not in exploring or not truth_hits[arm]:
            continue
        logged = shown[shown["arm"] == arm]
        in_target = [item in target[r] for r, item in zip(logged["recommendation_id"], logged["item"], strict=True)]
        estimate = off_policy_ctr(logged["recommendation_id"], logged["clicked"], logged["propensity"], in_target,
                                  target_size=k)
        per_visit = np.asarray(truth_hits[arm], dtype=float) / k
        mean = float(per_visit.mean())
        se = float(per_visit.std(ddof=1) / np.sqrt(len(per_visit))) if len(per_visit) > 1 else float("nan")
        checks.append(OffPolicyCheck(arm, estimate, mean, mean - Z95 * se, mean + Z95 * se, len(per_visit)))
    return sim, checks
