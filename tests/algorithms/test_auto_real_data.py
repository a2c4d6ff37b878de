"""auto on real data: the Slack export's channel membership (issue 13's Goal protocol:
per-person 20 % holdout, nDCG@10). Pins the choice and its figure, as benchmarks/bench_quality.py
prints them."""

from __future__ import annotations

import pytest

from teamrec.algorithms.registry import create
from teamrec.data.matrix import build_matrix, default_config
from teamrec.data.sources import read_source
from teamrec.evaluation.protocols import EvalData, Holdout

#: What auto chooses on this split and the test nDCG@10 it reaches (benchmarks/bench_quality.py).
PINNED_CHOICE = ("ease", {})
PINNED_NDCG = 0.9656


def test_slack_export_choice_and_figure(slack_export_dir):
    X = build_matrix(read_source(slack_export_dir, "slack-export"), config=default_config("slack-export")).matrix
    protocol = Holdout(test_share=0.2)
    split = protocol.splits(EvalData(X), 0)[0]
    model = create("auto").fit(split.train)
    summary = model.summary()
    assert not summary["budget_cut"]
    assert len(summary["validation"]) == 20  # 12 single candidates + 6 blends + 2 with mult-dae, for 38 channels
    assert (summary["algorithm"], summary["params"]) == PINNED_CHOICE
    ndcg = protocol.evaluate(model, split, 10).metrics["ndcg@10"]
    assert ndcg == pytest.approx(PINNED_NDCG, abs=0.002)


def test_ml100k_choice_and_figure(ml100k_dir):
    """issue 13's ml-100k Goal protocol (per-user random 75/25, every rating relevant): auto
    blends a quarter of Mult-DAE into user EASE on the ratings' square roots, the best on
    validation, no single model within one standard error of it; 0.5008 on test, the Goal's
    0.50 (docs/benchmarks.md)."""
    X = build_matrix(read_source(ml100k_dir / "u.data", "movielens"), config=default_config("movielens")).matrix
    protocol = Holdout(test_share=0.25)
    split = protocol.splits(EvalData(X), 0)[0]
    model = create("auto").fit(split.train)
    summary = model.summary()
    damped = {"binary": False, "value_power": 0.5}
    blend = ("blend", {"first": "user-ease", "first_params": damped, "second": "mult-dae", "second_params": {},
                       "weight": 0.25})
    chosen = (summary["algorithm"], summary["params"])
    # Here the blend leads every single model on validation by 0.0043 against a 0.0041 standard
    # error; Mult-DAE's training runs through BLAS, whose rounding differs between CPUs, so on
    # another machine that hair may tip the rule to user EASE alone (0.4889 on test).
    assert chosen in (blend, ("user-ease", damped)), chosen
    expected = 0.5008 if chosen == blend else 0.4889
    if chosen == blend:
        assert summary["value"] == max(r["ndcg@10"] for r in summary["validation"])
    assert protocol.evaluate(model, split, 10).metrics["ndcg@10"] == pytest.approx(expected, abs=0.002)
