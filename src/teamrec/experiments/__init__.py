"""Experiments: sticky assignment of arms, epsilon-greedy exploration, and the report.

The pieces, in the order a recommendation meets them::

    settings.py     Experiment / Arm (typed, extra keys forbidden), fingerprint, check_unchanged
    assignment.py   assign(experiment, teams, persons, at) -> arm index per row (salted hash, no state);
                    in_rollout(name, team, share, salt): the team draw alone (the Slack digest)
    exploration.py  explore(ranked, pool, k, epsilon, seed) -> items, explored flags, propensities
    frames.py       the impressions and feedback logs' schemas and their validation
    stats.py        Wilson interval, delta-method ratio difference, SRM chi-square, IPS / SNIPS
    report.py       build_report(impressions, feedback, experiment) -> text, dict, chart
    simulate.py     replay a hold-out through recommend / feedback callables -> logs and report

See docs/experiments.md for how to declare one and read its report.
"""

from teamrec.experiments.assignment import NOT_ASSIGNED, assign, assign_names, assign_one, in_rollout, team_draws
from teamrec.experiments.exploration import explore, seed_for, show_probability
from teamrec.experiments.frames import (
    ACTIONS,
    FEEDBACK_COLUMNS,
    IMPRESSION_COLUMNS,
    POSITIVE_ACTIONS,
    validate_feedback,
    validate_impressions,
)
from teamrec.experiments.report import ExperimentReport, build_report
from teamrec.experiments.settings import (
    Arm,
    Experiment,
    changed_message,
    check_unchanged,
    fingerprint,
    parse_experiment,
    parse_experiments,
)
from teamrec.experiments.stats import off_policy_ctr, ratio_difference, srm_check, wilson_interval

__all__ = [
    "ACTIONS",
    "FEEDBACK_COLUMNS",
    "IMPRESSION_COLUMNS",
    "NOT_ASSIGNED",
    "POSITIVE_ACTIONS",
    "Arm",
    "Experiment",
    "ExperimentReport",
    "assign",
    "assign_names",
    "assign_one",
    "build_report",
    "changed_message",
    "check_unchanged",
    "explore",
    "fingerprint",
    "in_rollout",
    "off_policy_ctr",
    "parse_experiment",
    "parse_experiments",
    "ratio_difference",
    "seed_for",
    "show_probability",
    "srm_check",
    "team_draws",
    "validate_feedback",
    "validate_impressions",
    "wilson_interval",
]
