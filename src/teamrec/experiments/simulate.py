"""Replay a hold-out as simulated people: the whole feedback loop before any rollout.

Each held-out event ``(team, user, item, timestamp)`` is one *visit*: that person asks
``recommend(visit)`` for a list, clicks the shown items that are in their held-out *future*
(their held-out items at or after the visit's time, not clicked yet), and each click is
reported through ``feedback(recommendation_id, item, action, at)``, which is where the service
applies it as a learning event (online update included). ``clicks="all"`` (the default) clicks
every such item, so whether an item is clicked does not depend on what else is shown: the
assumption under which the logged propensities give unbiased off-policy estimates;
``clicks="first"`` clicks only the highest-placed one (a person who stops at the first hit).
Visits come in time order, or, when the hold-out has no times, in a random order seeded by
``seed`` (every item of a person's hold-out is then their future at every visit).
``window_days`` keeps the future to what the person takes within that many days of the visit;
``clickable="visit"`` to the visit's own item (the one the person came for).

``recommend`` returns a :class:`Served` (the recommendation id, the items in shown order, the
arm and, per item, whether it was explored and its show probability) or a plain list of items
(then: one arm called ``default``, nothing explored, propensity 1). What was shown and clicked
is logged in the :mod:`~teamrec.experiments.frames` schemas and reported with
:func:`~teamrec.experiments.report.build_report`.

The loop is per visit on purpose: each visit is a request to the recommender, which is where
the time goes; the bookkeeping around it is dictionary lookups.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd

from teamrec.errors import DataError
from teamrec.experiments.frames import FEEDBACK_COLUMNS, IMPRESSION_COLUMNS, validate_feedback, validate_impressions
from teamrec.experiments.report import ExperimentReport, build_report
from teamrec.experiments.settings import Experiment

log = logging.getLogger(__name__)

DEFAULT_ARM = "default"
#: Where the simulated clock starts when the hold-out has no times.
EPOCH = pd.Timestamp("2000-01-01", tz="UTC")


@dataclass(frozen=True)
class Visit:
    """One simulated request: who asks, when, the visit's number in the replay and the
    held-out item the visit was made for (the person's next take)."""

    team: str
    person: str
    at: pd.Timestamp
    index: int
    item: str | None = None


@dataclass(frozen=True)
class Served:
    """A recommendation answer as the simulation logs it."""

    recommendation_id: str
    items: Sequence[Any]
    arm: str | None = DEFAULT_ARM
    explored: Sequence[bool] | None = None
    propensities: Sequence[float] | None = None


Recommend = Callable[[Visit], "Served | Sequence[Any]"]
Feedback = Callable[[str, str, str, pd.Timestamp], Any]


@dataclass
class Simulation:
    """What a replay produced: the two logs and their report."""

    impressions: pd.DataFrame
    feedback: pd.DataFrame
    report: ExperimentReport
    visits: int


def split_holdout(
    events: pd.DataFrame, share: float, seed: int = 0, *, retakes: bool = False
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Split an events frame into ``(train, holdout)`` for :func:`replay`.

    With a timestamp on every event: the last ``share`` of the events in time (one cut-off time
    for everybody, as a rollout would meet them). Otherwise: ``share`` of each person's distinct
    items, drawn at random (seeded), so every person with two or more items keeps some for
    training.

    The hold-out is what a person will newly take, so it never repeats what they already took
    in training: the random split holds out whole (person, item) pairs (every event of the pair
    goes to one side), and the time split drops the held-out events of pairs already in
    training (a re-read or a second rating). Those could never be hits -- the service hides
    what a person has already consumed -- and on data with many repeated events (Deskdrop:
    most held-out views were re-reads) they would fill the replay with visits no arm can win.
    ``retakes=True`` keeps them in a time split's hold-out: every event after the cut-off, the
    stream a news-style replay feeds to the service as it happens (see ``simulate_experiment``).
    """
    if not 0.0 < share < 1.0:
        raise DataError(f"hold-out share must be in (0, 1), got {share!r}", field="share")
    times = pd.to_numeric(events["timestamp"], errors="coerce").to_numpy(dtype=float)
    person = (events["team"].astype(str) + "\x1f" + events["user"].astype(str)).to_numpy()
    pair = pd.factorize(pd.Series(person) + "\x1f" + events["item"].astype(str).to_numpy())[0]
    if len(events) and np.isfinite(times).all():
        cut = np.quantile(times, 1.0 - share, method="higher")
        test = times >= cut
        if test.all():  # every event at one time: nothing would be left to learn from
            test = np.zeros(len(events), dtype=bool)
        in_train = np.zeros(int(pair.max()) + 1 if len(pair) else 0, dtype=bool)
        in_train[pair[~test]] = True
        keep = ~test | ~in_train[pair] | retakes  # held-out events of pairs already in training are dropped
        return events.loc[~test].reset_index(drop=True), events.loc[test & keep].reset_index(drop=True)
    n_pairs = int(pair.max()) + 1 if len(pair) else 0
    first = np.unique(pair, return_index=True)[1]  # one row per pair, in pair order
    pair_person = person[first]
    key = np.random.default_rng(seed).random(n_pairs)
    rank = pd.Series(key).groupby(pair_person).rank(method="first").to_numpy()
    size = pd.Series(pair_person).map(pd.Series(pair_person).value_counts()).to_numpy()
    take = np.where(size >= 2, np.minimum(np.floor(share * size + 0.5), size - 1), 0)
    test = (rank <= take)[pair]
    return events.loc[~test].reset_index(drop=True), events.loc[test].reset_index(drop=True)


def _visits(holdout: pd.DataFrame, order: str, seed: int) -> tuple[pd.DataFrame, bool]:
    missing = [c for c in ("team", "user", "item", "timestamp") if c not in holdout.columns]
    if missing:
        raise DataError(f"missing column(s) {', '.join(missing)}", file="holdout")
    frame = holdout[["team", "user", "item", "timestamp"]].copy()
    for col in ("team", "user", "item"):
        frame[col] = frame[col].astype(str)
    frame["timestamp"] = pd.to_numeric(frame["timestamp"], errors="coerce")
    timed = bool(len(frame)) and bool(np.isfinite(frame["timestamp"].to_numpy(dtype=float)).all())
    if order == "auto":
        order = "time" if timed else "random"
    if order == "time":
        if not timed:
            raise DataError("order='time' needs a timestamp on every held-out event", file="holdout", field="timestamp")
        frame = frame.sort_values(["timestamp", "team", "user", "item"], kind="stable")
    elif order == "random":
        frame = frame.sort_values(["team", "user", "item"], kind="stable")
        frame = frame.iloc[np.random.default_rng(seed).permutation(len(frame))]
    else:
        raise DataError(f"order must be 'time', 'random' or 'auto', got {order!r}", field="order")
    frame = frame.drop_duplicates(["team", "user", "item"], keep="first").reset_index(drop=True)
    return frame, order == "time"


def visit_order(holdout: pd.DataFrame, seed: int = 0) -> pd.DataFrame:
    """The hold-out's visits in the order :func:`replay` makes them (``order="auto"``): one row
    per (team, user, item), in time order, or shuffled with ``seed`` when there are no times."""
    return _visits(holdout, "auto", seed)[0]


def replay(
    holdout: pd.DataFrame,
    recommend: Recommend,
    feedback: Feedback | None = None,
    *,
    experiment: Experiment | None = None,
    order: Literal["time", "random", "auto"] = "auto",
    seed: int = 0,
    max_visits: int | None = None,
    clicks: Literal["all", "first"] = "all",
    window_days: float | None = None,
    clickable: Literal["future", "visit"] = "future",
) -> Simulation:
    """Replay ``holdout`` (an events frame: team, user, item, timestamp) through ``recommend`` and ``feedback``.

    ``max_visits`` keeps the first visits of the order (a quicker, still unbiased, replay).
    ``window_days``: with times, a shown item is clicked only when the person takes it within
    that many days of the visit (None: anywhere in the rest of their hold-out; see :func:`wanted_now`).
    ``clickable="visit"``: only the visit's own held-out item can be clicked (the person came to
    take that one; does the list offer it?), so each visit has at most one click.
    Returns the impressions and feedback logs and their report (against ``experiment`` when given).
    """
    if clicks not in ("all", "first"):
        raise DataError(f"clicks must be 'all' or 'first', got {clicks!r}", field="clicks")
    if clickable not in ("future", "visit"):
        raise DataError(f"clickable must be 'future' or 'visit', got {clickable!r}", field="clickable")
    if window_days is not None and not window_days >= 0:
        raise DataError(f"window_days must be 0 or more, got {window_days!r}", field="window_days")
    visits, timed = _visits(holdout, order, seed)
    if max_visits is not None:
        visits = visits.iloc[:max_visits]
    # Each person's future: item -> the time it is consumed (-inf when the hold-out has no times).
    times = visits["timestamp"].to_numpy(dtype=float) if timed else np.full(len(visits), -np.inf)
    future: dict[tuple[str, str], dict[str, float]] = {}
    for team, user, item, t in zip(visits["team"], visits["user"], visits["item"], times, strict=True):
        future.setdefault((team, user), {})[item] = t

    impressions: dict[str, list[Any]] = {c: [] for c in IMPRESSION_COLUMNS}
    actions: dict[str, list[Any]] = {c: [] for c in FEEDBACK_COLUMNS}
    seen_ids: set[str] = set()
    for index, (team, user, own, t) in enumerate(
            zip(visits["team"], visits["user"], visits["item"], times, strict=True)):
        at = pd.Timestamp(t, unit="s", tz="UTC") if timed else EPOCH + pd.Timedelta(seconds=index)
        served = _as_served(recommend(Visit(team, user, at, index, own)), index)
        if served.recommendation_id in seen_ids:
            raise DataError(f"recommend returned the recommendation id {served.recommendation_id!r} twice",
                            field="recommendation_id")
        seen_ids.add(served.recommendation_id)
        items = [str(i) for i in served.items]
        n = len(items)
        explored = [False] * n if served.explored is None else [bool(x) for x in served.explored]
        propensity = [1.0] * n if served.propensities is None else [float(x) for x in served.propensities]
        if len(explored) != n or len(propensity) != n:
            raise DataError(f"recommendation {served.recommendation_id!r}: {n} items but {len(explored)} explored "
                            f"flags and {len(propensity)} propensities", field="items")
        impressions["recommendation_id"] += [served.recommendation_id] * n
        impressions["team"] += [team] * n
        impressions["person"] += [user] * n
        impressions["arm"] += [served.arm or DEFAULT_ARM] * n
        impressions["item"] += items
        impressions["position"] += list(range(1, n + 1))
        impressions["explored"] += explored
        impressions["propensity"] += propensity
        impressions["shown_at"] += [at] * n

        wanted = future[(team, user)]
        hits = [i for i in items if wanted_now(wanted, i, t, window_days) and (clickable == "future" or i == own)]
        for n_click, click in enumerate(hits[:1] if clicks == "first" else hits, start=1):
            del wanted[click]
            clicked_at = at + pd.Timedelta(seconds=n_click)
            if feedback is not None:
                feedback(served.recommendation_id, click, "click", clicked_at)
            actions["recommendation_id"].append(served.recommendation_id)
            actions["item"].append(click)
            actions["action"].append("click")
            actions["at"].append(clicked_at)

    shown = validate_impressions(_frame(impressions, "shown_at"), "simulated impressions")
    taken = validate_feedback(_frame(actions, "at"), "simulated feedback")
    log.info("replayed %d visits: %d impressions, %d clicks", len(visits), len(shown), len(taken))
    return Simulation(shown, taken, build_report(shown, taken, experiment), len(visits))


def wanted_now(wanted: dict[str, float], item: str, now: float, window_days: float | None = None) -> bool:
    """Whether a person whose future is ``wanted`` (item -> when they take it) would click
    ``item`` shown at ``now``: they take it at or after ``now`` (every item of the future when
    the hold-out has no times: its times are -inf) and, with ``window_days``, within that many
    days (a news reader acts on what they read soon, not on an article read months later)."""
    when = wanted.get(item)
    if when is None or when < now:
        return False
    return window_days is None or not np.isfinite(now) or when <= now + window_days * 86400.0


def _as_served(answer: Served | Sequence[Any], index: int) -> Served:
    if isinstance(answer, Served):
        return answer
    if isinstance(answer, str | bytes) or not isinstance(answer, Sequence | np.ndarray):
        raise DataError(f"recommend must return a Served or a list of items, got {type(answer).__name__}")
    return Served(recommendation_id=f"sim-{index}", items=list(answer))


def _frame(columns: dict[str, list[Any]], time_column: str) -> pd.DataFrame:
    frame = pd.DataFrame(columns)
    frame[time_column] = pd.to_datetime(frame[time_column], utc=True)
    return frame
