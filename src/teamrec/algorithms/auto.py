"""``auto``: choose the algorithm and its main parameters per team, on the team's own data.

``fit(X)`` carves a validation split out of ``X`` (per person, ``validation_share`` of their
entries held out, drawn from the seed's validation stream: only the matrix it is given is
ever seen, so inside an evaluation it never touches test data), fits every candidate on the
rest, measures ``metric`` (``ndcg@10`` by default; any holdout ranking metric, or
``sampled-recall@k``) on the held-out entries, averaged over ``folds`` such splits, then
blends of every pair of the three best algorithms and of the best with each of
:data:`COMPLEMENTS` (:mod:`teamrec.algorithms.blend`, weights :data:`BLEND_WEIGHTS`),
chooses the simplest single candidate the validation cannot tell from the best
(:func:`_simplest_near_best`: within ``standard_errors`` standard errors of the best figure,
or ``tolerance`` of it) or, when none is, the best blend,
refits it on the whole ``X`` and delegates every call to it.

Deterministic by construction: the candidate list is decided from the data's size up front
(:func:`candidates`), candidates are tried in that fixed order, and ties keep the earlier
one. A wall-clock ``budget_seconds`` can stop the search early on a slow machine; when it
does, ``budget_cut_`` records it (and which candidates were not tried), so a differing
choice is never silent.

What is learnt (saved with the model, arrays + JSON): ``choice_`` (algorithm name),
``choice_params_``, ``validation_`` (every candidate's figure), ``budget_cut_``, and the
chosen model's own state under the prefix ``inner_``. :meth:`summary` returns them as a
small dict (what the service's ``/model`` shows).
"""

from __future__ import annotations

import logging
import time
from typing import Any

import numpy as np
import scipy.sparse as sp
from pydantic import Field, field_validator

from teamrec.algorithms.base import Algorithm, AlgorithmConfig, Explanation, Predictions
from teamrec.errors import ConfigError, DataError

logger = logging.getLogger(__name__)

#: Stream number of the validation split (teamrec.evaluation.split.VALIDATION_STREAM's value,
#: offset so that auto inside a grid search draws a different split than the grid).
_AUTO_STREAM = 11
_METRICS = ("ndcg", "recall", "precision", "map", "hit_rate", "sampled-recall")
#: EASE and Mult-DAE are candidates up to this many items, user EASE up to this many people.
DENSE_ITEMS = 12_000


class AutoConfig(AlgorithmConfig):
    metric: str = Field(
        "ndcg@10",
        description="validation metric to maximise: ndcg, recall, precision, map, hit_rate @k over the whole "
        "catalogue, or sampled-recall@k (each held-out item among `negatives` untouched ones, ties against it)",
    )
    folds: int = Field(2, ge=1, le=5, description="validation splits averaged per candidate")
    negatives: int = Field(100, ge=1, description="untouched items per held-out item for sampled-recall")
    validation_share: float = Field(0.2, gt=0.0, lt=1.0, description="share of each person's entries validated on")
    seed: int = Field(0, ge=0, description="seed of the validation split")
    budget_seconds: float = Field(900.0, gt=0, description="stop trying candidates after this wall-clock time")
    tolerance: float = Field(
        0.005, ge=0.0, lt=1.0,
        description="relative margin: the simplest candidate within it of the best validation figure is chosen",
    )
    standard_errors: float = Field(
        1.0, ge=0.0,
        description="or within this many standard errors of the best figure (over people; over held-out "
        "items for sampled-recall), when that is wider",
    )
    candidates: list[str] | None = Field(
        None, description="only these algorithms (None: every one that suits the data's size)"
    )

    @field_validator("metric")
    @classmethod
    def _known_metric(cls, value: str) -> str:
        name, _, at = value.partition("@")
        if name not in _METRICS or not at.isdigit() or int(at) < 1:
            raise ValueError(f"metric must be one of {', '.join(_METRICS)} followed by @k, got {value!r}")
        return value


def candidates(n_users: int, n_items: int, nnz: int, valued: bool = False) -> list[tuple[str, dict[str, Any]]]:
    """The (algorithm, parameters) tried for data of this size, in order.

    Decided from the size alone (and whether there are values other than 1), so that the same data
    give the same search everywhere. EASE (a dense ``n_items`` squared inverse, cubic time)
    only up to :data:`DENSE_ITEMS` items, and user EASE (``n_users`` squared) only up to as
    many people, each with its data-scaled lambda only: a validation split trains on less
    data than the final fit and measurably prefers too large a lambda (ml-100k: scale 30 on
    validation, 10 best on test; docs/benchmarks.md). On valued data (ratings, event
    strengths) both are also tried on the square roots of the values: binarised ratings and
    the raw values both did worse on ml-100k, the raw strengths on Deskdrop, on validation and
    test alike. The sparse models always; Mult-DAE (a dense ``n_items``-wide output layer
    trained for 100 epochs) last, and only up to :data:`DENSE_ITEMS` items.
    """
    out: list[tuple[str, dict[str, Any]]] = []
    damped = {"binary": False, "value_power": 0.5}
    if n_items <= DENSE_ITEMS:
        out.append(("ease", {}))
        if valued:
            out.append(("ease", damped))
    if n_users <= DENSE_ITEMS:
        out.append(("user-ease", {}))
        if valued:
            out.append(("user-ease", damped))
    out += [("rp3beta", {"beta": b}) for b in (0.0, 0.3, 0.5, 0.7)]
    out += [("item-knn", {}), ("item-knn", {"neighbors": 50})]
    out.append(("user-knn", {"neighbors": 50, "shrinkage": 10.0}))
    density = nnz / max(n_users * n_items, 1)
    # ALS's confidence weight: sparser data need more weight on the few entries there are.
    out += [("als", {"alpha": a}) for a in ((1.0, 10.0) if density > 0.02 else (10.0, 40.0))]
    if n_items <= DENSE_ITEMS:  # its dense output layer: n_items logits per person per step
        out.append(("mult-dae", {}))
    return out


#: Weights of the second model tried when blending two of the best single models.
BLEND_WEIGHTS = (0.25, 0.5)
#: Blends pair the best single candidates of this many different algorithms.
BLEND_TOP = 3
#: Models that are weak alone but err elsewhere than the linear item models: each is also
#: blended into the best single model, wherever it ranks itself. Mult-DAE is 0.44 alone on
#: ml-100k (below RP3beta and item-knn on validation) and lifts EASE and user EASE from 0.489
#: to 0.50 as a quarter of a blend (docs/benchmarks.md).
COMPLEMENTS = ("mult-dae",)


def _blends(results: list[dict[str, Any]], metric: str) -> list[dict[str, Any]]:
    """Blends of every pair among the best candidates of the :data:`BLEND_TOP` best algorithms
    (each algorithm by its best parameters), the better one first.

    Not only the best with the runner-up: two models that are good in the same way add
    little, and on Last.fm 2K the best pair is user EASE with ALS, the first and third
    algorithms (docs/benchmarks.md). Then the best with each of :data:`COMPLEMENTS` ranked
    below the three."""
    order = sorted(range(len(results)), key=lambda i: (-results[i][metric], i))
    top: list[dict[str, Any]] = []
    for i in order:
        if results[i]["algorithm"] != "blend" and all(results[i]["algorithm"] != t["algorithm"] for t in top):
            top.append(results[i])
    pairs = [(a, b) for n, a in enumerate(top[:BLEND_TOP]) for b in top[n + 1 : BLEND_TOP]]
    if top:
        pairs += [(top[0], c) for c in top[BLEND_TOP:] if c["algorithm"] in COMPLEMENTS]
    return [{"first": a["algorithm"], "first_params": a["params"], "second": b["algorithm"],
             "second_params": b["params"], "weight": w}
            for a, b in pairs for w in BLEND_WEIGHTS]


def _simplest_near_best(results: list[dict[str, Any]], metric: str, tolerance: float,
                        standard_errors: float = 0.0) -> int:
    """The first single model (simplest: in the order of :func:`candidates`) within the margin
    of the best validation figure: the wider of ``tolerance`` (relative) and
    ``standard_errors`` times the best figure's standard error (``results[i]["se"]``; the
    one-standard-error rule of Breiman et al. 1984); when none is, the best blend.

    Candidates closer than a validation split can tell apart are a coin toss on test data, and
    the simpler one is less likely to be fitted to the validation split's noise. On ml-100k
    the blends of RP3beta with either EASE were best on validation (0.2438) and lose on test
    (0.4827 against 0.4886 for EASE on the ratings' square roots, 0.0024 below them on
    validation, within the 0.0041 standard error); a fixed 0.5 % margin could not tell
    (docs/benchmarks.md). Blends are all equally complex (two models), so among them the
    figure decides, not their order."""
    best = max(range(len(results)), key=lambda i: (results[i][metric], -i))
    top = results[best][metric]
    margin = max(top * tolerance, standard_errors * float(results[best].get("se", 0.0)))
    near = [i for i, r in enumerate(results) if r[metric] >= top - margin and r.get("algorithm") != "blend"]
    return near[0] if near else best


class _Fold:
    """One validation fold: the training part, the held-out cells and (sampled metrics) their
    negatives."""

    def __init__(self, X: sp.csr_matrix, share: float, seed: int, index: int, negatives: int) -> None:
        from teamrec.evaluation import split as S  # model selection uses the evaluation's splits

        val = S.holdout_split(X, share, S.rng(seed, S.VALIDATION_STREAM, _AUTO_STREAM, index), name="validation")
        self.train, self.held_out, self.split = val.train, val.relevant(), val
        self.negatives = None
        if negatives:
            self.negatives = S.sample_negatives(
                X, val.users, negatives, S.rng(seed, S.VALIDATION_NEGATIVE_STREAM, _AUTO_STREAM, index)
            )


def _measure(model: Algorithm, fold: _Fold, metric: str) -> np.ndarray:
    """``metric`` of a model fitted on ``fold.train``, per person with held-out cells (per
    held-out item for sampled-recall): the figure is their mean."""
    from teamrec.evaluation import metrics as M

    name, k = metric.split("@")[0], int(metric.split("@")[1])
    if name == "sampled-recall":
        return _sampled_hits(model, fold, k)
    held_out = fold.held_out
    users = np.flatnonzero(np.diff(held_out.indptr))
    recs, _ = model.recommend(users, k=k, exclude_seen=True)
    return M.ranking_metric_rows(recs, held_out[users], name, k)


def _sampled_hits(model: Algorithm, fold: _Fold, k: int) -> np.ndarray:
    """Whether each held-out item ranks in the top ``k`` among its sampled untouched items,
    ties counted against it (their mean is sampled recall@k)."""
    from teamrec.evaluation import metrics as M

    split, negatives = fold.split, fold.negatives
    assert negatives is not None
    users, inverse = np.unique(split.users, return_inverse=True)
    scores = np.asarray(model.score(users), dtype=np.float64)  # validation sets are small: one block
    test_scores = scores[inverse, split.items]
    neg_scores = np.where(negatives >= 0, scores[inverse[:, None], np.maximum(negatives, 0)], -np.inf)
    last = np.full(split.n_test, split.shape[1])  # after every tied negative
    return (M.sampled_ranks(test_scores, last, neg_scores, negatives) < k).astype(np.float64)


def _figure(values: list[np.ndarray]) -> tuple[float, float]:
    """The validation figure (mean over folds of each fold's mean) and its standard error
    (per-person values pooled over the folds)."""
    pooled = np.concatenate(values)
    se = float(pooled.std(ddof=1) / np.sqrt(len(pooled))) if len(pooled) > 1 else 0.0
    return float(np.mean([v.mean() for v in values])), se


class Auto(Algorithm):
    """Per-team automatic choice of algorithm and parameters; see the module docstring."""

    name = "auto"
    Config = AutoConfig
    config: AutoConfig

    def _fit(self, X: sp.csr_matrix) -> None:
        from teamrec.algorithms.registry import ALGORITHMS, create

        c = self.config
        n_users, n_items = X.shape
        todo = candidates(n_users, n_items, X.nnz, valued=bool(np.any(X.data != 1.0)))
        if c.candidates is not None:
            unknown = sorted(set(c.candidates) - set(ALGORITHMS) - {self.name})
            if unknown or self.name in c.candidates:
                raise ConfigError(f"auto: candidates must be registered algorithms other than auto: {unknown}")
            todo = [(n, p) for n, p in todo if n in c.candidates]
            todo += [(n, {}) for n in c.candidates if n not in {t[0] for t in todo}]
        sampled = c.metric.startswith("sampled-")
        folds = [_Fold(X, c.validation_share, c.seed, i, c.negatives if sampled else 0) for i in range(c.folds)]
        if folds[0].held_out.nnz == 0:
            raise DataError("auto: nobody has two entries, so there is nothing to validate a choice on")
        start = time.perf_counter()
        results: list[dict[str, Any]] = []
        self.budget_cut_ = False
        self.not_tried_: list[str] = []
        for position, (name, params) in enumerate(todo):
            if results and time.perf_counter() - start > c.budget_seconds:  # at least one is tried
                self.budget_cut_ = True
                self.not_tried_ = [f"{n} {p}" for n, p in todo[position:]]
                logger.warning("auto: budget of %.0f s spent; %d candidates not tried", c.budget_seconds,
                               len(todo) - position)
                break
            t0 = time.perf_counter()
            try:
                value, se = _figure([_measure(create(name, params).fit(f.train), f, c.metric) for f in folds])
            except MemoryError as exc:  # ModelTooLargeError included: too big for this machine
                logger.info("auto: %s %s skipped: %s", name, params, exc)
                continue
            results.append({"algorithm": name, "params": params, c.metric: value, "se": round(se, 6),
                            "fit_seconds": round(time.perf_counter() - t0, 3)})
            logger.info("auto: %s %s %s=%.4f", name, params, c.metric, value)
        if not results:
            raise DataError("auto: no candidate could be fitted on these data")
        for params in _blends(results, c.metric):
            if time.perf_counter() - start > c.budget_seconds:
                self.budget_cut_ = True
                self.not_tried_.append(f"blend {params}")
                continue
            t0 = time.perf_counter()
            value, se = _figure([_measure(create("blend", params).fit(f.train), f, c.metric) for f in folds])
            results.append({"algorithm": "blend", "params": params, c.metric: value, "se": round(se, 6),
                            "fit_seconds": round(time.perf_counter() - t0, 3)})
        best = _simplest_near_best(results, c.metric, c.tolerance, c.standard_errors)
        self.choice_ = str(results[best]["algorithm"])
        self.choice_params_ = dict(results[best]["params"])
        self.validation_ = results
        self.search_seconds_ = round(time.perf_counter() - start, 3)
        self._inner = create(self.choice_, self.choice_params_).fit(X)

    # -- persistence: the chosen model's state rides along under "inner_" --------------------
    def _state(self) -> dict[str, Any]:
        own = super()._state()
        inner = {f"inner_{k}": v for k, v in self._inner._state().items() if k != "X_"}
        return {**own, **inner}

    def _after_load(self) -> None:
        from teamrec.algorithms.registry import create

        inner = create(self.choice_, self.choice_params_)
        for key in [k for k in vars(self) if k.startswith("inner_")]:
            setattr(inner, key[len("inner_"):], vars(self).pop(key))
        inner.X_ = self.X_
        inner._after_load()
        self._inner = inner

    def summary(self) -> dict[str, Any]:
        """The choice and the validation figures behind it (for ``/model`` and reports)."""
        self._check_fitted()
        chosen = [r for r in self.validation_ if r["algorithm"] == self.choice_ and r["params"] == self.choice_params_]
        return {
            "algorithm": self.choice_,
            "params": self.choice_params_,
            "metric": self.config.metric,
            "value": chosen[0][self.config.metric],
            "validation": self.validation_,
            "budget_cut": self.budget_cut_,
            "not_tried": self.not_tried_,
            "search_seconds": self.search_seconds_,
        }

    def describe(self) -> str:
        """One line: the choice and its validation figure (what the CLI prints)."""
        s = self.summary()
        cut = "; the budget cut the search" if s["budget_cut"] else ""
        return (f"auto chose {s['algorithm']} {s['params'] or ''}".rstrip()
                + f" (validation {s['metric']} {s['value']:.4f}, {len(s['validation'])} candidates "
                f"in {s['search_seconds']:.1f} s{cut})")

    # -- delegation --------------------------------------------------------------------------
    @property
    def chosen(self) -> Algorithm:
        """The fitted model auto chose."""
        self._check_fitted()
        return self._inner

    def update(self, X: Any) -> Auto:
        """Keep the choice and bring the chosen model up to date (a full ``fit`` searches again)."""
        if not self.is_fitted:
            return self.fit(X)
        self._inner.update(X)
        self.X_ = self._inner.X_
        return self

    def warm(self) -> Auto:
        self.chosen.warm()
        return self

    def score(self, users: np.ndarray, user_items: sp.spmatrix | None = None) -> np.ndarray:
        return self.chosen.score(users, user_items)

    def _rank_keys(
        self, users: np.ndarray, user_items: sp.spmatrix | None
    ) -> tuple[np.ndarray, np.ndarray | None]:
        return self.chosen._rank_keys(users, user_items)

    def similar_items(self, items: np.ndarray | list[int], k: int = 10) -> tuple[np.ndarray, np.ndarray]:
        return self.chosen.similar_items(items, k)

    def similar_users(self, users: np.ndarray | list[int], k: int = 10) -> tuple[np.ndarray, np.ndarray]:
        return self.chosen.similar_users(users, k)

    def predict(self, users: np.ndarray, items: np.ndarray) -> Predictions:
        return self.chosen.predict(users, items)

    def explain(self, user: int, item: int, n: int = 5) -> Explanation:
        return self.chosen.explain(user, item, n)


def choice_of(model: Algorithm) -> dict[str, Any] | None:
    """``auto``'s :meth:`Auto.summary` when ``model`` is an ``auto`` model, else None."""
    return model.summary() if isinstance(model, Auto) else None
