"""Evaluation protocols: how to split the data, and what to measure on the held-out part.

A protocol turns the data (an :class:`EvalData`: the matrix and, for the temporal protocol,
each entry's latest timestamp) into one or more :class:`~teamrec.evaluation.split.Split` for a
seed, carves a validation split out of a split's *training* data (for the grid search; it
never draws a test cell, not even as a sampled negative or an empty cell), and measures a fitted
algorithm on a split. Parameters are a typed config per protocol (unknown keys refused).

========================= ============================================================= =================
name                      split                                                         metrics
========================= ============================================================= =================
``occf-rmse``             a random share of the filled entries + ``zero_ratio`` times    rmse, mae
                          as many empty cells, tested with value 0 (the per-team
                          activity model's protocol)
``kfold``                 the entries shuffled and cut into ``folds`` parts; each part   rmse, mae
                          tested once (averaged over folds)
``holdout``               per user, a random share of the entries                       precision, recall,
                                                                                        ndcg, map, hit rate,
                                                                                        coverage, novelty
                                                                                        and diversity @k
``temporal``              per user, the latest share of the entries by timestamp        as ``holdout``
``sampled``               per user, a random share; each held-out item ranked among     recall@5, @10
                          ``negatives`` items the user never touched                    (and @k)
``top3-accuracy``         per user, a random share of +1/-1 entries                     top3_accuracy
``people-like-you``       none: fitted on everything; each person's ``k`` most similar   friends_recall@k,
                          people compared with their declared friends (``pairs``)        random_recall@k
========================= ============================================================= =================

Rating protocols (``occf-rmse``, ``kfold``) need algorithms that estimate values
(``predicts_values = True``) and use ``predict(users, items).estimate``. Ranking protocols
call ``recommend`` with the training items excluded; ``sampled`` ranks by ``score`` (ties to
the lower item index); ``top3-accuracy`` orders each user's held-out items by
``predict(...).estimate``. ``people-like-you`` calls ``similar_users`` (people from behaviour
alone; the friendships are never shown to the model).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

import numpy as np
import scipy.sparse as sp
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from teamrec.algorithms import _topk
from teamrec.algorithms.base import Algorithm
from teamrec.errors import ConfigError, DataError, UnknownIdError, UnsupportedError
from teamrec.evaluation import metrics as M
from teamrec.evaluation import split as S
from teamrec.policy import served_items

Task = Literal["rating", "ranking", "sampled", "top-n", "people"]


@dataclass
class EvalData:
    """What a protocol splits: the users x items matrix, optional per-entry timestamps
    (``times``: same sparsity pattern as ``matrix``; NaN where unknown) and optional declared
    relations between the users (``pairs``: users x users, e.g. friendships; for
    ``people-like-you``)."""

    matrix: sp.csr_matrix
    times: sp.csr_matrix | None = None
    pairs: sp.csr_matrix | None = None

    def __post_init__(self) -> None:
        self.matrix = S.as_matrix(self.matrix)
        if self.matrix.nnz == 0:
            raise DataError("nothing to evaluate: the matrix is empty")


@dataclass
class Outcome:
    """What one evaluation of a fitted algorithm on one split gives.

    ``metrics`` at the chosen ``k``; ``curves`` maps a metric name to its value at every
    ``k`` (ranking protocols); ``predict_seconds`` is the time spent in the algorithm.
    """

    metrics: dict[str, float]
    curves: dict[str, dict[int, float]] = field(default_factory=dict)
    predict_seconds: float = 0.0


class ProtocolConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ShareConfig(ProtocolConfig):
    test_share: float = Field(0.2, gt=0.0, lt=1.0, description="share of each user's entries held out")


class OCCFConfig(ProtocolConfig):
    test_share: float = Field(0.2, gt=0.0, lt=1.0, description="share of the filled entries held out")
    zero_ratio: float = Field(1.0, ge=0.0, description="empty cells tested per held-out filled entry")


class KFoldConfig(ProtocolConfig):
    folds: int = Field(5, ge=2, description="number of folds")


class SampledConfig(ShareConfig):
    negatives: int = Field(100, ge=1, description="items each held-out item is ranked among")


class TopNConfig(ShareConfig):
    top: int = Field(3, ge=1, description="how many of each user's best-predicted items count")


class Protocol:
    """Base class: a named split + measurement, with a typed config."""

    name: ClassVar[str] = "protocol"
    task: ClassVar[Task] = "ranking"
    Config: ClassVar[type[ProtocolConfig]] = ProtocolConfig
    description: ClassVar[str] = ""

    def __init__(self, **params: Any) -> None:
        try:
            self.config = self.Config(**params)
        except ValidationError as exc:
            parts = [f"'{'.'.join(map(str, e['loc']))}': {e['msg']}" for e in exc.errors()]
            raise ConfigError(f"protocol {self.name}: " + "; ".join(parts)) from None

    def params(self) -> dict[str, Any]:
        return self.config.model_dump()

    # -- what subclasses provide -----------------------------------------------------------
    def splits(self, data: EvalData, seed: int) -> list[S.Split]:
        raise NotImplementedError

    def validation(self, split: S.Split, seed: int, index: int = 0) -> S.Split:
        """A validation split carved from ``split.train`` only (never a test cell)."""
        raise NotImplementedError

    def evaluate(self, algorithm: Algorithm, split: S.Split, k: int) -> Outcome:
        raise NotImplementedError

    def metric_names(self, k: int) -> list[str]:
        raise NotImplementedError

    def default_metric(self, k: int) -> str:
        return self.metric_names(k)[0]

    def check(self, algorithm: type[Algorithm] | Algorithm) -> None:
        """Raise :class:`UnsupportedError` when ``algorithm`` cannot be measured here."""


def lower_is_better(metric: str) -> bool:
    """Errors are minimised; every other metric is maximised."""
    return metric.split("@")[0] in ("rmse", "mae")


# -- rating protocols --------------------------------------------------------------------------
class _Rating(Protocol):
    task = "rating"

    def metric_names(self, k: int) -> list[str]:
        return ["rmse", "mae"]

    def check(self, algorithm: type[Algorithm] | Algorithm) -> None:
        if not getattr(algorithm, "predicts_values", False):
            raise UnsupportedError(
                f"protocol {self.name} measures estimated values; algorithm {algorithm.name!r} "
                "does not predict values (use holdout, temporal or sampled)"
            )

    def evaluate(self, algorithm: Algorithm, split: S.Split, k: int) -> Outcome:
        self.check(algorithm)
        start = time.perf_counter()
        estimate = algorithm.predict(split.users, split.items).estimate
        seconds = time.perf_counter() - start
        return Outcome({"rmse": M.rmse(estimate, split.values), "mae": M.mae(estimate, split.values)},
                       predict_seconds=seconds)


class OCCFRmse(_Rating):
    """One-class RMSE: held-out activity plus empty cells that should be predicted as zero."""

    name = "occf-rmse"
    Config = OCCFConfig
    config: OCCFConfig
    description = "random share of the filled entries + sampled empty cells (value 0); RMSE, MAE"

    def splits(self, data: EvalData, seed: int) -> list[S.Split]:
        c = self.config
        return [S.occf_split(data.matrix, c.test_share, c.zero_ratio, S.rng(seed, S.TEST_STREAM))]

    def validation(self, split: S.Split, seed: int, index: int = 0) -> S.Split:
        c = self.config
        return S.occf_split(split.train, c.test_share, c.zero_ratio, S.rng(seed, S.VALIDATION_STREAM, index),
                            forbidden=split.cells(), name="validation")


class KFold(_Rating):
    """k-fold cross-validation on explicit ratings (metrics averaged over the folds)."""

    name = "kfold"
    Config = KFoldConfig
    config: KFoldConfig
    description = "entries shuffled into k folds, each tested once; RMSE, MAE averaged over folds"

    def splits(self, data: EvalData, seed: int) -> list[S.Split]:
        return S.kfold_splits(data.matrix, self.config.folds, S.rng(seed, S.TEST_STREAM))

    def validation(self, split: S.Split, seed: int, index: int = 0) -> S.Split:
        return S.random_entries_split(split.train, 1.0 / self.config.folds,
                                      S.rng(seed, S.VALIDATION_STREAM, index), name="validation")


# -- ranking protocols -------------------------------------------------------------------------
class Holdout(Protocol):
    """Per-user random holdout; top-k ranking metrics excluding what the user saw in training."""

    name = "holdout"
    task = "ranking"
    Config = ShareConfig
    config: ShareConfig
    description = ("per user, a random share held out; precision/recall/ndcg/map/hit rate/coverage/"
                   "novelty/diversity @k")

    def splits(self, data: EvalData, seed: int) -> list[S.Split]:
        return [S.holdout_split(data.matrix, self.config.test_share, S.rng(seed, S.TEST_STREAM))]

    def validation(self, split: S.Split, seed: int, index: int = 0) -> S.Split:
        return S.holdout_split(split.train, self.config.test_share, S.rng(seed, S.VALIDATION_STREAM, index),
                               name="validation")

    def metric_names(self, k: int) -> list[str]:
        return [f"{m}@{k}" for m in M.RANKING_METRICS + M.BEYOND_ACCURACY]

    def default_metric(self, k: int) -> str:
        return f"ndcg@{k}"

    def evaluate(self, algorithm: Algorithm, split: S.Split, k: int) -> Outcome:
        users = np.unique(split.users)
        if len(users) == 0:
            raise DataError("the split holds out nothing")
        start = time.perf_counter()
        recs = served_items(algorithm, users, k)  # the one policy: what people are served
        seconds = time.perf_counter() - start
        relevant = split.relevant()[users]
        every = M.ranking_metrics(recs, relevant, range(1, k + 1), n_items=split.shape[1], train=split.train)
        curves: dict[str, dict[int, float]] = {m: {} for m in M.RANKING_METRICS + M.BEYOND_ACCURACY}
        for key, value in every.items():
            metric, at = key.split("@")
            if not np.isnan(value):  # diversity@1: a one-item list has no pairs
                curves[metric][int(at)] = value
        metrics = {name: every[name] for name in self.metric_names(k)}
        return Outcome(metrics, curves, seconds)


class Temporal(Holdout):
    """Per-user latest interactions held out; the same ranking metrics as ``holdout``."""

    name = "temporal"
    description = "per user, the latest share by timestamp held out; the holdout metrics"

    def splits(self, data: EvalData, seed: int) -> list[S.Split]:
        if data.times is None or not np.isfinite(data.times.data).any():
            raise DataError("the temporal protocol needs timestamps, and these data have none")
        return [S.temporal_split(data.matrix, data.times, self.config.test_share, S.rng(seed, S.TEST_STREAM))]

    def validation(self, split: S.Split, seed: int, index: int = 0) -> S.Split:
        assert split.train_times is not None
        return S.temporal_split(split.train, split.train_times, self.config.test_share,
                                S.rng(seed, S.VALIDATION_STREAM, index), name="validation")


class Sampled(Protocol):
    """Each held-out item ranked among sampled items the user never touched (Deskdrop study).

    Moreira's protocol ("Recommender Systems in Python 101"): the held-out item is a hit at
    ``k`` when fewer than ``k`` of its ``negatives`` sampled untouched items score above it;
    recall pools the hits over all held-out items. Scores come from ``score`` (the model's
    ranking score), ties go to the lower item index.
    """

    name = "sampled"
    task = "sampled"
    Config = SampledConfig
    config: SampledConfig
    description = "each held-out item ranked among N untouched items; recall@5, recall@10 (pooled)"

    def _ks(self, k: int) -> list[int]:
        return sorted({5, 10, k})

    def metric_names(self, k: int) -> list[str]:
        return [f"recall@{x}" for x in self._ks(k)]

    def default_metric(self, k: int) -> str:
        return "recall@10"

    def splits(self, data: EvalData, seed: int) -> list[S.Split]:
        c = self.config
        split = S.holdout_split(data.matrix, c.test_share, S.rng(seed, S.TEST_STREAM))
        split.negatives = S.sample_negatives(data.matrix, split.users, c.negatives, S.rng(seed, S.NEGATIVE_STREAM))
        return [split]

    def validation(self, split: S.Split, seed: int, index: int = 0) -> S.Split:
        c = self.config
        val = S.holdout_split(split.train, c.test_share, S.rng(seed, S.VALIDATION_STREAM, index), name="validation")
        val.negatives = S.sample_negatives(split.train, val.users, c.negatives,
                                           S.rng(seed, S.VALIDATION_NEGATIVE_STREAM, index),
                                           forbidden=split.cells())
        return val

    def evaluate(self, algorithm: Algorithm, split: S.Split, k: int) -> Outcome:
        if split.negatives is None:
            raise DataError("a sampled split needs its negatives")
        users, inverse = np.unique(split.users, return_inverse=True)
        test_scores = np.empty(split.n_test)
        neg_scores = np.full(split.negatives.shape, -np.inf)
        valid = split.negatives >= 0
        step = _topk.user_batches(len(users), split.shape[1])
        seconds = 0.0
        for start in range(0, len(users), step):
            t0 = time.perf_counter()
            block = np.asarray(algorithm.score(users[start : start + step]), dtype=np.float64)
            seconds += time.perf_counter() - t0
            rows = np.flatnonzero((inverse >= start) & (inverse < start + step))
            local = inverse[rows] - start
            test_scores[rows] = block[local, split.items[rows]]
            negs = split.negatives[rows]
            neg_scores[rows] = np.where(valid[rows], block[local[:, None], np.maximum(negs, 0)], -np.inf)
        ranks = M.sampled_ranks(test_scores, split.items, neg_scores, split.negatives)
        top = max(k, 10)
        every = M.sampled_recall(ranks, range(1, top + 1))
        curves = {"recall": {int(key.split("@")[1]): v for key, v in every.items()}}
        metrics = {name: every[name] for name in self.metric_names(k)}
        return Outcome(metrics, curves, seconds)


class TopNAccuracy(Protocol):
    """For +1/-1 ratings: the share of each user's top-3 predicted held-out items that are +1."""

    name = "top3-accuracy"
    task = "top-n"
    Config = TopNConfig
    config: TopNConfig
    description = "+1/-1 data: share of each user's top-3 predicted held-out items that are +1"

    def _metric(self) -> str:
        return f"top{self.config.top}_accuracy"

    def metric_names(self, k: int) -> list[str]:
        return [self._metric()]

    def splits(self, data: EvalData, seed: int) -> list[S.Split]:
        return [S.holdout_split(data.matrix, self.config.test_share, S.rng(seed, S.TEST_STREAM))]

    def validation(self, split: S.Split, seed: int, index: int = 0) -> S.Split:
        return S.holdout_split(split.train, self.config.test_share, S.rng(seed, S.VALIDATION_STREAM, index),
                               name="validation")

    def evaluate(self, algorithm: Algorithm, split: S.Split, k: int) -> Outcome:
        start = time.perf_counter()
        estimate = algorithm.predict(split.users, split.items).estimate
        seconds = time.perf_counter() - start
        value = M.top_n_accuracy(split.users, split.items, split.values, estimate, n=self.config.top)
        return Outcome({self._metric(): value}, predict_seconds=seconds)


# -- people like you ---------------------------------------------------------------------------
@dataclass
class PeopleSplit(S.Split):
    """The whole matrix for training and the declared relations to test on (``friends``:
    users x users, symmetric, no diagonal)."""

    friends: sp.csr_matrix | None = None

    @property
    def n_test(self) -> int:
        return 0 if self.friends is None else int(self.friends.nnz)


def friendship_matrix(users: np.ndarray, friends: np.ndarray, n_users: int) -> sp.csr_matrix:
    """The symmetric users x users 0/1 matrix of the pairs ``(users[j], friends[j])`` (row
    indices; pairs with a negative index -- a person not in the matrix -- and self-pairs are
    dropped; one direction is enough)."""
    users = np.asarray(users, dtype=np.int64)
    friends = np.asarray(friends, dtype=np.int64)
    keep = (users >= 0) & (friends >= 0) & (users != friends)
    rows = np.r_[users[keep], friends[keep]]
    cols = np.r_[friends[keep], users[keep]]
    out = sp.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(n_users, n_users))
    out.sum_duplicates()
    out.data[:] = 1.0
    out.sort_indices()
    return out


class PeopleLikeYou(Protocol):
    """People like you, measured against declared friendships (Last.fm 2K's user_friends.dat).

    The model is fitted on the whole matrix (listening alone); for each person *u* with
    friends ``F_u``, ``L_u`` are *u*'s ``k`` most similar people (``similar_users``) and::

        friends_recall@k = mean_u |L_u & F_u| / min(|F_u|, k)

    (1 when the list is all friends, or holds every friend of someone with fewer than ``k``).
    ``random_recall@k`` is the same share for ``k`` people drawn uniformly at random among
    the others, in expectation: ``mean_u k |F_u| / ((n - 1) min(|F_u|, k))`` -- the floor any
    similarity should clear. Curves give ``friends_recall`` at every ``k``. There is no
    validation split: friendships only measure, so tune on another protocol.
    """

    name = "people-like-you"
    task = "people"
    Config = ProtocolConfig
    description = "each person's k most similar people against their declared friends; friends recall@k"

    def metric_names(self, k: int) -> list[str]:
        return [f"friends_recall@{k}", f"random_recall@{k}"]

    def check(self, algorithm: type[Algorithm] | Algorithm) -> None:
        klass = algorithm if isinstance(algorithm, type) else type(algorithm)
        if klass.similar_users is Algorithm.similar_users:
            raise UnsupportedError(
                f"protocol {self.name} compares similar people; algorithm {algorithm.name!r} does not "
                "compute user similarities (use user-knn, als, bpr, ...)"
            )

    def splits(self, data: EvalData, seed: int) -> list[S.Split]:
        if data.pairs is None:
            raise DataError("the people-like-you protocol needs declared friendships (--friends FILE)")
        n = data.matrix.shape[0]
        if data.pairs.shape != (n, n):
            raise DataError(f"friendships must be users x users ({n} x {n}), got {data.pairs.shape}")
        rows, cols = data.pairs.nonzero()
        friends = friendship_matrix(rows, cols, n)
        if friends.nnz == 0:
            raise DataError("no friendship joins two people of the matrix")
        empty = np.zeros(0, dtype=np.int64)
        return [PeopleSplit(train=data.matrix, users=empty, items=empty, values=np.zeros(0), friends=friends)]

    def validation(self, split: S.Split, seed: int, index: int = 0) -> S.Split:
        raise UnsupportedError(f"protocol {self.name} has no validation split (friendships only measure); "
                               "tune with another protocol")

    def evaluate(self, algorithm: Algorithm, split: S.Split, k: int) -> Outcome:
        self.check(algorithm)
        friends = getattr(split, "friends", None)
        if friends is None:
            raise DataError("a people-like-you split needs its friendships")
        n_friends = np.diff(friends.indptr)
        users = np.flatnonzero(n_friends > 0)
        start = time.perf_counter()
        similar, _ = algorithm.similar_users(users, k=k)
        seconds = time.perf_counter() - start
        similar = np.asarray(similar, dtype=np.int64)
        if similar.shape[1] < k:  # fewer people than k: pad as misses
            similar = np.pad(similar, ((0, 0), (0, k - similar.shape[1])), constant_values=-1)
        hits = M.hit_matrix(similar[:, :k], friends[users])
        counts = n_friends[users]
        found = np.cumsum(hits, axis=1)
        ks = np.arange(1, k + 1)
        curve = (found / np.minimum(counts[:, None], ks[None, :])).mean(axis=0)
        n = friends.shape[0]
        expected = float(np.mean(k * counts / ((n - 1) * np.minimum(counts, k)))) if n > 1 else 0.0
        metrics = {f"friends_recall@{k}": float(curve[-1]), f"random_recall@{k}": expected}
        return Outcome(metrics, {"friends_recall": {int(i): float(v) for i, v in zip(ks, curve, strict=True)}}, seconds)


#: Protocols by name.
PROTOCOLS: dict[str, type[Protocol]] = {
    p.name: p for p in (OCCFRmse, KFold, Holdout, Temporal, Sampled, TopNAccuracy, PeopleLikeYou)
}


def protocol_names() -> list[str]:
    return list(PROTOCOLS)


def create_protocol(name: str, params: dict[str, Any] | None = None) -> Protocol:
    """A protocol by name with validated parameters."""
    if name not in PROTOCOLS:
        raise UnknownIdError("protocol", name, f"known: {', '.join(PROTOCOLS)}")
    return PROTOCOLS[name](**(params or {}))
