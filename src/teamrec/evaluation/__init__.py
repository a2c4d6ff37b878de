"""Offline evaluation: splits, metrics, protocols, the runner and the HTML report.

The data's way, one module per stage::

    split.py      deterministic, vectorised splits of a users x items matrix (numpy Generator)
    metrics.py    RMSE/MAE, precision/recall/nDCG/MAP/hit rate/coverage/novelty/diversity @k, sampled recall,
                  top-n accuracy (formulas in the docstrings)
    protocols.py  occf-rmse, kfold, holdout, temporal, sampled, top3-accuracy, people-like-you
    grid.py       grid search on a validation split carved from the training data
    runner.py     fit, time and measure every algorithm under one protocol
    report.py     one standalone HTML file: the table and the plots

``teamrec evaluate`` (:mod:`teamrec.cli.evaluate`) is a thin layer over :func:`evaluate`.
"""

from teamrec.evaluation.protocols import PROTOCOLS, EvalData, Protocol, create_protocol, protocol_names
from teamrec.evaluation.runner import AlgorithmResult, AlgorithmSpec, EvaluationResult, eval_data, evaluate
from teamrec.evaluation.split import Split

__all__ = [
    "PROTOCOLS",
    "AlgorithmResult",
    "AlgorithmSpec",
    "EvalData",
    "EvaluationResult",
    "Protocol",
    "Split",
    "create_protocol",
    "eval_data",
    "evaluate",
    "protocol_names",
]
