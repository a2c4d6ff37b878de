"""An experiment replayed through the real service layer, before any rollout.

:func:`simulate_experiment` splits a data set into training events and a hold-out
(:func:`teamrec.experiments.simulate.split_holdout`), serves the training part as one team of
an in-process :class:`~teamrec.service.app.Service` with the experiment declared (every arm its
own snapshot, sticky hashed assignment, exploration through the policy's hook), and replays
the hold-out as simulated people (:func:`teamrec.experiments.simulate.replay`): each visit is
``TeamService.recommend`` (impressions logged), each hit is ``TeamService.feedback`` (logged,
and learnt at once when the action is a learning event for the team: a ``join`` by default).
No HTTP: the same calls the routes make, without the sockets.

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
from teamrec.experiments.simulate import Served, Simulation, Visit, replay, split_holdout, visit_order
from teamrec.experiments.stats import OffPolicyEstimate, off_policy_ctr
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

    def to_text(self) -> str:
        lines = [self.simulation.report.to_text(), ""]
        lines.append(f"{self.simulation.visits} visits replayed through TeamService ({self.train_events} training "
                     f"events, {self.holdout_events} held out) in {self.seconds:.1f}s")
        for check in self.off_policy:
            e = check.estimate
            lines.append(
                f"off-policy, arm {check.arm} without exploration: IPS {e.ips:.2%} [{e.ips_low:.2%}, {e.ips_high:.2%}]"
                f"; simulated truth {check.truth:.2%} [{check.truth_low:.2%}, {check.truth_high:.2%}]"
                f" -> {'within' if check.within else 'OUTSIDE'} the truth's interval"
            )
        lines += self.notes
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        return {
            "report": self.simulation.report.to_dict(),
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
) -> ServiceSimulation:
    """Replay ``source``'s hold-out through a real :class:`TeamService` serving ``experiment``.

    The experiment runs for the simulated team whatever its window and rollout say (a
    simulation is of one team that takes part); every hit is fed back as ``action``.
    ``split``: ``"auto"`` holds out the last ``share`` in time when every event has a time;
    ``"random"`` holds out ``share`` of each person's events at random (the times are then
    dropped, and visits come in a seeded random order).
    """
    if split not in ("auto", "random"):
        raise DataError(f"split must be 'auto' or 'random', got {split!r}", field="split")
    start = time.perf_counter()
    data = read_source(source, fmt, **(options or {}))
    teams = data.teams()
    if len(teams) > 1:
        data = data.team(teams[0])
    spec_format = data.info.get("format") or fmt
    from teamrec.spec import TeamSpec

    spec = TeamSpec.model_validate({"kind_values": kind_values or {}, "matrix": matrix or {}})
    config = spec.matrix_config(spec_format)
    learnt = np.ones(len(data.events), dtype=bool)
    if config.kinds is not None:  # the hold-out is what the team's models learn from (Slack: memberships)
        learnt = data.events["kind"].isin(config.kinds).to_numpy()
    events = data.events[learnt].reset_index(drop=True)
    others = data.events[~learnt]  # other kinds (Slack messages) stay in training, as in the team's data
    if split == "random":
        events = events.assign(timestamp=np.nan)
    train, holdout = split_holdout(events, share, seed=seed)
    if not len(holdout):
        raise DataError("the hold-out is empty: nothing to replay", file=str(source))
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
            "teams": {TEAM: {"source": str(folder), "kind_values": kind_values or {}, "matrix": matrix or {}}},
            "experiments": [experiment.model_dump()],
        })
        from teamrec.service.app import Service

        service = Service(settings)
        try:
            service.start()
            team = service.team(TEAM)
            sim, checks = _replay(team, experiment, holdout.assign(team=TEAM), k, max_visits, action, seed)
        finally:
            service.close()
    held_times = pd.to_numeric(holdout["timestamp"], errors="coerce").to_numpy(dtype=float)
    how = "the last share in time" if np.isfinite(held_times).all() else "whole (person, item) pairs at random"
    notes = [f"simulated with k={k}, hold-out share {share} ({split} split: {how}), feedback action {action!r}; "
             "the experiment's window and rollout are ignored (the simulated team takes part)"]
    unknown = int((~holdout["item"].astype(str).isin(set(train["item"].astype(str)))).sum())
    if unknown:  # no arm can show an item its models never saw: a ceiling on every arm's CTR
        notes.append(f"{unknown} of the {len(holdout)} held-out events ({unknown / len(holdout):.0%}) are of items "
                     "the training part never saw, which no arm can recommend")
    return ServiceSimulation(sim, checks, len(train), len(holdout), time.perf_counter() - start, notes)


def _replay(
    team: TeamService, experiment: Experiment, holdout: pd.DataFrame, k: int, max_visits: int | None,
    action: str, seed: int,
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
        answer = team.recommend(caller, visit.person, k)
        rid = answer.recommendation_id or ""
        person_of[rid] = visit.person
        if answer.arm in exploring:
            state = team.registry.get(team.name, arm_key(experiment, experiment.arm(answer.arm)))
            row, hide = state.fresh.row(state.model, visit.person)
            top = [r.id for r in state.model.recommend(visit.person, k, user_items=row, hide=hide)]
            target[rid] = set(top)
            now = visit.at.timestamp() if timed else -np.inf
            wanted = future.get(visit.person, {})
            truth_hits[answer.arm].append(sum(1 for i in top if i in wanted and wanted[i] >= now))
        return Served(
            recommendation_id=rid, items=[r.id for r in answer.results], arm=answer.arm,
            explored=[r.explored for r in answer.results],
            propensities=[1.0 if r.propensity is None else r.propensity for r in answer.results],
        )

    def feedback(recommendation_id: str, item: str, _action: str, at: pd.Timestamp) -> None:
        user = person_of[recommendation_id]
        future.get(user, {}).pop(item, None)
        team.feedback(caller, user, item, action, recommendation_id=recommendation_id, timestamp=at.timestamp())

    sim = replay(holdout, recommend, feedback, experiment=experiment, seed=seed)
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
