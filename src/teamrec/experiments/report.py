"""An experiment's report from its impressions and feedback: numbers, a text table, JSON, a chart.

:func:`build_report` joins feedback to impressions (an impression is *clicked* when it has a
positive action: see :mod:`teamrec.experiments.frames`) and computes, per arm:

* units, impressions, clicks, CTR and its Wilson 95% interval;
* the difference of each arm's CTR against the control (the first arm), with a delta-method
  interval over units (persons by default) and a two-sided p-value;
* the sample-ratio-mismatch check of units per arm against the weights;
* CTR of explored against exploited impressions, and CTR by position.

The same :class:`ExperimentReport` renders as a plain-text table (the CLI), a JSON-able dict
(the API) and a PNG or SVG chart (the web page's panel).
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd

from teamrec.errors import DataError
from teamrec.experiments import stats
from teamrec.experiments.frames import clicked, validate_feedback, validate_impressions
from teamrec.experiments.settings import Experiment


@dataclass
class ExperimentReport:
    """What :func:`build_report` computed; every table is a DataFrame, one row per arm (and group)."""

    name: str
    control: str
    unit: str
    confidence: float
    arms: pd.DataFrame
    differences: pd.DataFrame
    srm: stats.SRMResult | None
    explored: pd.DataFrame
    by_position: pd.DataFrame
    excluded_impressions: int = 0
    unmatched_feedback: int = 0
    notes: list[str] = field(default_factory=list)

    # -- renderings ---------------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict (NaN becomes ``None``) for the API."""
        return _jsonable({
            "experiment": self.name,
            "control": self.control,
            "unit": self.unit,
            "confidence": self.confidence,
            "arms": self.arms.to_dict(orient="records"),
            "differences": self.differences.to_dict(orient="records"),
            "srm": None if self.srm is None else {
                "observed": self.srm.observed, "expected": self.srm.expected,
                "chi2": self.srm.chi2, "p_value": self.srm.p_value, "flagged": self.srm.flagged,
            },
            "explored": self.explored.to_dict(orient="records"),
            "by_position": self.by_position.to_dict(orient="records"),
            "excluded_impressions": self.excluded_impressions,
            "unmatched_feedback": self.unmatched_feedback,
            "notes": list(self.notes),
        })

    def to_text(self) -> str:
        """Plain-text tables for a terminal (fixed-width, no colour)."""
        pct = f"{self.confidence:.0%}"
        lines = [f"experiment {self.name}  (unit: {self.unit}; control: {self.control})", ""]
        lines += _table(
            ["arm", "units", "impressions", "clicks", "CTR", f"{pct} interval"],
            [[r.arm, r.units, r.impressions, r.clicks, _p(r.ctr), _interval(r.low, r.high)]
             for r in self.arms.itertuples()],
        )
        if len(self.differences):
            lines += ["", f"difference against {self.control} (per-{self.unit} delta method)"]
            lines += _table(
                ["arm", "CTR", "difference", f"{pct} interval", "p-value"],
                [[r.arm, _p(r.ctr_arm), _signed(r.difference), _interval(r.low, r.high, signed=True), _pv(r.p_value)]
                 for r in self.differences.itertuples()],
            )
        if self.srm is not None:
            verdict = "MISMATCH: do not trust the differences" if self.srm.flagged else "ok"
            observed = ", ".join(f"{a} {n}" for a, n in self.srm.observed.items())
            expected = ", ".join(f"{a} {e:.1f}" for a, e in self.srm.expected.items())
            lines += ["", f"sample ratio: {observed} (expected {expected}); chi2 {self.srm.chi2:.2f}, "
                          f"p {_pv(self.srm.p_value)}: {verdict}"]
        if len(self.explored):
            lines += ["", "explored against exploited"]
            lines += _table(
                ["arm", "items", "impressions", "clicks", "CTR", f"{pct} interval"],
                [[r.arm, "explored" if r.explored else "exploited", r.impressions, r.clicks, _p(r.ctr),
                  _interval(r.low, r.high)] for r in self.explored.itertuples()],
            )
        if len(self.by_position):
            lines += ["", "CTR by position"]
            wide = self.by_position.pivot(index="position", columns="arm", values="ctr")
            arms = [a for a in self.arms["arm"] if a in wide.columns]
            rows = [[int(pos), *(_p(wide.at[pos, a]) for a in arms)] for pos in wide.index]
            lines += _table(["position", *arms], rows)
        if self.excluded_impressions or self.unmatched_feedback:
            lines += ["", f"left out: {self.excluded_impressions} impression(s) outside the experiment's arms, "
                          f"{self.unmatched_feedback} feedback row(s) matching no impression"]
        lines += [f"note: {note}" for note in self.notes]
        return "\n".join(lines) + "\n"

    def to_chart(self, format: Literal["png", "svg"] = "png") -> bytes:
        """A chart: CTR per arm with its interval, and CTR by position per arm, as PNG or SVG bytes."""
        if format not in ("png", "svg"):
            raise DataError(f"chart format must be png or svg, got {format!r}", field="format")
        from matplotlib.figure import Figure  # imported here: the report is usable without drawing
        from matplotlib.ticker import MaxNLocator

        figure = Figure(figsize=(9, 3.6), layout="constrained")
        left, right = figure.subplots(1, 2)
        x = np.arange(len(self.arms))
        ctr = self.arms["ctr"].to_numpy(dtype=float)
        # Clipped at 0: at CTR 0 the Wilson bound is 0 up to rounding (matplotlib refuses -1e-18).
        low = np.clip(np.nan_to_num(ctr - self.arms["low"].to_numpy(dtype=float)), 0, None)
        high = np.clip(np.nan_to_num(self.arms["high"].to_numpy(dtype=float) - ctr), 0, None)
        left.bar(x, np.nan_to_num(ctr), yerr=[low, high], capsize=6, color="#4c78a8")
        left.set_xticks(x, [str(a) for a in self.arms["arm"]])
        left.set_ylabel("CTR")
        left.set_title(f"CTR per arm ({self.confidence:.0%} Wilson interval)")
        for arm, rows in self.by_position.groupby("arm", sort=False):
            right.plot(rows["position"], rows["ctr"], marker="o", label=str(arm))
        right.xaxis.set_major_locator(MaxNLocator(integer=True))
        right.set_xlabel("position")
        right.set_ylabel("CTR")
        right.set_title("CTR by position")
        if len(self.by_position):
            right.legend()
        buffer = io.BytesIO()
        metadata = {"Date": None} if format == "svg" else {}
        figure.savefig(buffer, format=format, metadata=metadata)
        return buffer.getvalue()


def build_report(
    impressions: pd.DataFrame,
    feedback: pd.DataFrame,
    experiment: Experiment | None = None,
    *,
    name: str | None = None,
    confidence: float = 0.95,
) -> ExperimentReport:
    """The report of one experiment from its logs (validated here).

    With ``experiment``, only its arms are reported (in declared order; others are counted as
    left out), its unit aggregates the differences and its weights drive the mismatch check.
    Without it, the arms are those in the log in order of first impression, the unit is the
    person and there is no mismatch check.
    """
    impressions = validate_impressions(impressions)
    feedback = validate_feedback(feedback)
    frame = impressions.assign(clicked=clicked(impressions, feedback))
    keys = pd.MultiIndex.from_frame(impressions[["recommendation_id", "item"]])
    unmatched = int((~pd.MultiIndex.from_frame(feedback[["recommendation_id", "item"]]).isin(keys)).sum())

    if experiment is not None:
        arms = list(experiment.arm_names)
        unit = experiment.unit
        name = name or experiment.name
    else:
        arms = list(pd.unique(impressions.sort_values("shown_at", kind="stable")["arm"]))
        unit = "person"
        name = name or "experiment"
    inside = frame["arm"].isin(arms).to_numpy()
    excluded = int((~inside).sum())
    frame = frame.loc[inside]
    if not arms:
        raise DataError("no impressions to report on", file="impressions")
    control = arms[0]
    unit_columns = ["team", "person"] if unit == "person" else ["team"]
    frame = frame.assign(arm=pd.Categorical(frame["arm"], categories=arms))

    table = stats.ctr_table(frame, ["arm"], confidence)
    table = table.set_index("arm").reindex(arms)
    table[["impressions", "clicks"]] = table[["impressions", "clicks"]].fillna(0).astype(np.int64)
    units = stats.per_unit(frame, unit_columns)
    table.insert(0, "units", units.groupby("arm", observed=False).size().reindex(arms).fillna(0).astype(np.int64))
    table = table.reset_index()

    notes = []
    if experiment is not None:
        srm: stats.SRMResult | None = stats.srm_check(
            dict(zip(table["arm"], table["units"], strict=True)), dict(zip(arms, experiment.weights, strict=True))
        )
    else:
        srm = None
    if (table["units"] < 2).any():
        notes.append("an arm with fewer than 2 units has no interval for its difference")
    return ExperimentReport(
        name=name,
        control=control,
        unit=unit,
        confidence=confidence,
        arms=table[["arm", "units", "impressions", "clicks", "ctr", "low", "high"]].astype({"arm": str}),
        differences=stats.arm_differences(units.assign(arm=units["arm"].astype(str)), arms, control, confidence),
        srm=srm,
        explored=_strings(stats.ctr_table(frame, ["arm", "explored"], confidence)),
        by_position=_strings(stats.ctr_table(frame, ["arm", "position"], confidence)),
        excluded_impressions=excluded,
        unmatched_feedback=unmatched,
        notes=notes,
    )


def _strings(table: pd.DataFrame) -> pd.DataFrame:
    table = table[table["impressions"] > 0].reset_index(drop=True)
    return table.assign(arm=table["arm"].astype(str))


# -- formatting helpers ------------------------------------------------------------------------------

def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.bool_ | bool):
        return bool(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        return None if not math.isfinite(float(value)) else float(value)
    return value


def _finite(x: Any) -> bool:
    return x is not None and math.isfinite(float(x))


def _p(x: Any) -> str:
    return f"{100 * x:.2f}%" if _finite(x) else "-"


def _signed(x: Any) -> str:
    return f"{100 * x:+.2f} pp" if _finite(x) else "-"


def _interval(low: Any, high: Any, signed: bool = False) -> str:
    if not (_finite(low) and _finite(high)):
        return "-"
    if signed:
        return f"[{100 * low:+.2f}, {100 * high:+.2f}] pp"
    return f"[{100 * low:.2f}%, {100 * high:.2f}%]"


def _pv(p: Any) -> str:
    if not _finite(p):
        return "-"
    return "< 0.0001" if p < 1e-4 else f"{p:.4f}"


def _table(header: list[str], rows: list[list[Any]]) -> list[str]:
    cells = [header, *[[str(c) for c in row] for row in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    out = []
    for j, row in enumerate(cells):
        padded = (c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths, strict=True)))
        out.append("  ".join(padded).rstrip())
        if j == 0:
            out.append("  ".join("-" * w for w in widths))
    return out
