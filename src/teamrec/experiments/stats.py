"""The statistics of an experiment report, vectorised over arrays and frames.

* :func:`wilson_interval`: the Wilson score interval of a proportion (Wilson, 1927), which
  keeps its coverage for small counts and CTRs near 0 where the normal interval does not::

      centre = (p + z²/2n) / (1 + z²/n),   half = z / (1 + z²/n) * sqrt(p(1-p)/n + z²/4n²)

* :func:`ratio_delta`: a CTR pooled over units (``sum clicks / sum impressions``) is a *ratio
  metric*: impressions of one person are not independent, so the binomial variance is too
  small. With per-unit clicks ``C`` and impressions ``N`` over ``n`` units, the delta method
  gives ``Var(C̄/N̄) ≈ (s_C²/μ_N² - 2 μ_C s_CN/μ_N³ + μ_C² s_N²/μ_N⁴) / n`` (Deng et al., 2018,
  "Applying the delta method in metric analytics").
* :func:`ratio_difference`: the difference of two arms' ratios, the variances added (units are
  in one arm only), a normal interval and a two-sided p-value.
* :func:`minimum_detectable_difference`: the smallest true difference a test finds with a given
  power from the difference's standard error: what a replay with this many people can tell apart.
* :func:`srm_check`: the sample-ratio-mismatch chi-square of units per arm against the
  configured weights; a p-value below 0.001 means the assignment or the logging is broken and
  the differences should not be trusted (Fabijan et al., 2019).
* :func:`off_policy_ctr`: the inverse-propensity (IPS) and self-normalised (SNIPS) estimates
  of another policy's CTR from logged show probabilities (see its docstring).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from teamrec.errors import DataError

SRM_ALPHA = 0.001


def _z(confidence: float) -> float:
    if not 0.0 < confidence < 1.0:
        raise DataError(f"confidence must be in (0, 1), got {confidence!r}", field="confidence")
    return float(stats.norm.ppf(0.5 + confidence / 2))


def wilson_interval(successes: Any, trials: Any, confidence: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """Wilson score interval ``(low, high)`` of ``successes / trials``, elementwise; NaN where ``trials == 0``."""
    k = np.asarray(successes, dtype=np.float64)
    n = np.asarray(trials, dtype=np.float64)
    if np.any(k < 0) or np.any(k > n):
        raise DataError("successes must be between 0 and trials", field="successes")
    z = _z(confidence)
    with np.errstate(invalid="ignore", divide="ignore"):
        p = k / n
        denominator = 1 + z**2 / n
        centre = (p + z**2 / (2 * n)) / denominator
        half = z / denominator * np.sqrt(p * (1 - p) / n + z**2 / (4 * n**2))
    low = np.where(n > 0, np.clip(centre - half, 0.0, 1.0), np.nan)
    high = np.where(n > 0, np.clip(centre + half, 0.0, 1.0), np.nan)
    return low, high


def ratio_delta(numerator: Any, denominator: Any, axis: int = -1) -> tuple[np.ndarray, np.ndarray]:
    """The pooled ratio ``sum(num) / sum(den)`` over units along ``axis``, and its delta-method variance.

    Needs at least two units with a positive total denominator; otherwise the variance is NaN.
    """
    c = np.asarray(numerator, dtype=np.float64)
    n = np.asarray(denominator, dtype=np.float64)
    units = c.shape[axis]
    if units == 0:
        empty = np.full(np.delete(c.shape, axis % c.ndim), np.nan) if c.ndim > 1 else np.float64(np.nan)
        return np.asarray(empty), np.asarray(empty)
    with np.errstate(invalid="ignore", divide="ignore"):
        mc, mn = c.mean(axis=axis), n.mean(axis=axis)
        ratio = mc / mn
        if units < 2:
            return ratio, np.full_like(ratio, np.nan)
        vc, vn = c.var(axis=axis, ddof=1), n.var(axis=axis, ddof=1)
        cov = ((c - np.expand_dims(mc, axis)) * (n - np.expand_dims(mn, axis))).sum(axis=axis) / (units - 1)
        variance = (vc / mn**2 - 2 * mc * cov / mn**3 + mc**2 * vn / mn**4) / units
    return ratio, np.maximum(variance, 0.0)


@dataclass(frozen=True)
class Difference:
    """``treatment - control`` of two ratios, with its interval and two-sided p-value."""

    control: float
    treatment: float
    difference: float
    low: float
    high: float
    p_value: float
    std_error: float


def ratio_difference(
    control_clicks: Any, control_impressions: Any, treatment_clicks: Any, treatment_impressions: Any,
    confidence: float = 0.95,
) -> Difference:
    """The difference of two arms' pooled CTRs from per-unit clicks and impressions (delta method)."""
    z = _z(confidence)
    r0, v0 = ratio_delta(control_clicks, control_impressions)
    r1, v1 = ratio_delta(treatment_clicks, treatment_impressions)
    diff = float(r1 - r0)
    se = float(np.sqrt(v0 + v1))
    if np.isfinite(se) and se > 0:
        p = float(2 * stats.norm.sf(abs(diff) / se))
    elif np.isfinite(se) and np.isfinite(diff):  # no variance at all: equal or certainly different
        p = 1.0 if diff == 0 else 0.0
    else:
        p = float("nan")
    return Difference(float(r0), float(r1), diff, diff - z * se, diff + z * se, p, se)


def minimum_detectable_difference(std_error: Any, confidence: float = 0.95, power: float = 0.8) -> np.ndarray:
    """The smallest true difference between two arms that a two-sided test at ``confidence``
    finds with probability ``power``, given the difference's standard error (the delta-method
    one of :func:`ratio_difference`): ``(z_(1 - alpha/2) + z_power) * SE``, 2.80 SE at 95% and
    80%. A replay or an experiment whose arms truly differ by less cannot be expected to
    separate them; with ``n`` times the units the SE, and so this, shrink by ``sqrt(n)``."""
    if not 0.0 < power < 1.0:
        raise DataError(f"power must be in (0, 1), got {power!r}", field="power")
    se = np.asarray(std_error, dtype=np.float64)
    if np.any(se < 0):
        raise DataError("a standard error cannot be negative", field="std_error")
    return np.asarray((_z(confidence) + stats.norm.ppf(power)) * se)


def per_unit(frame: pd.DataFrame, unit: list[str], by: str = "arm") -> pd.DataFrame:
    """Clicks and impressions per ``(by, *unit)`` from a frame with a boolean ``clicked`` column."""
    grouped = frame.groupby([by, *unit], sort=True, observed=True)["clicked"]
    return pd.DataFrame({"clicks": grouped.sum().astype(np.int64), "impressions": grouped.size()}).reset_index()


def ctr_table(frame: pd.DataFrame, by: list[str], confidence: float = 0.95) -> pd.DataFrame:
    """Impressions, clicks, CTR and Wilson interval per group of ``by`` (frame has ``clicked``)."""
    grouped = frame.groupby(by, sort=True, observed=True)["clicked"]
    table = pd.DataFrame({"impressions": grouped.size(), "clicks": grouped.sum().astype(np.int64)}).reset_index()
    table["ctr"] = table["clicks"] / table["impressions"]
    low, high = wilson_interval(table["clicks"].to_numpy(), table["impressions"].to_numpy(), confidence)
    table["low"], table["high"] = low, high
    return table


def arm_differences(
    units: pd.DataFrame, arms: list[str], control: str, confidence: float = 0.95
) -> pd.DataFrame:
    """Each arm against ``control`` from :func:`per_unit` output: difference, interval, p-value."""
    rows = []
    base = units[units["arm"] == control]
    for arm in arms:
        if arm == control:
            continue
        other = units[units["arm"] == arm]
        d = ratio_difference(base["clicks"], base["impressions"], other["clicks"], other["impressions"], confidence)
        rows.append({"arm": arm, "control": control, "ctr_control": d.control, "ctr_arm": d.treatment,
                     "difference": d.difference, "low": d.low, "high": d.high, "p_value": d.p_value,
                     "std_error": d.std_error})
    columns = ["arm", "control", "ctr_control", "ctr_arm", "difference", "low", "high", "p_value", "std_error"]
    return pd.DataFrame(rows, columns=columns)


@dataclass(frozen=True)
class SRMResult:
    """The sample-ratio-mismatch check: units per arm against the configured weights."""

    observed: dict[str, int]
    expected: dict[str, float]
    chi2: float
    p_value: float
    flagged: bool


def srm_check(counts: dict[str, int], weights: dict[str, float], alpha: float = SRM_ALPHA) -> SRMResult:
    """Pearson's chi-square of ``counts`` (units per arm) against ``weights``; flagged when ``p < alpha``.

    Arms in ``weights`` with no units count as 0; units in an arm with no weight are an error.
    """
    unknown = sorted(set(counts) - set(weights))
    if unknown:
        raise DataError(f"units in arm(s) not in the experiment: {', '.join(map(str, unknown))}", field="arm")
    arms = list(weights)
    observed = np.array([counts.get(a, 0) for a in arms], dtype=np.float64)
    share = np.array([weights[a] for a in arms], dtype=np.float64)
    share = share / share.sum()
    total = observed.sum()
    expected = total * share
    if total == 0 or len(arms) < 2:
        chi2, p = 0.0, 1.0
    else:
        chi2, p = (float(x) for x in stats.chisquare(observed, expected))
    return SRMResult(
        observed={a: int(o) for a, o in zip(arms, observed, strict=True)},
        expected={a: float(e) for a, e in zip(arms, expected, strict=True)},
        chi2=chi2, p_value=p, flagged=bool(p < alpha),
    )


@dataclass(frozen=True)
class OffPolicyEstimate:
    """A target policy's CTR estimated from another policy's logged impressions."""

    ips: float
    ips_low: float
    ips_high: float
    snips: float
    snips_low: float
    snips_high: float
    recommendations: int


def off_policy_ctr(
    recommendation_id: Any, clicked: Any, propensity: Any, target_probability: Any,
    target_size: Any = None, confidence: float = 0.95,
) -> OffPolicyEstimate:
    """Estimate the CTR a *target* policy would get, from impressions logged under exploration.

    Per logged impression ``(r, i)``: ``c`` clicked, ``p0`` the logged show probability,
    ``pt`` the probability that the target policy shows ``i`` in answer ``r`` (0 or 1 for a
    deterministic ranking), ``w = pt / p0``. Assuming a click on ``i`` does not depend on the other
    items shown (item-position independence), ``sum_i c·w`` is unbiased for the target's expected
    clicks in answer ``r``, so

    * IPS:   ``mean_r( sum_i c·w / k_r )`` with ``k_r`` the target's list length (``target_size``,
      default: the logged list's length), interval from the per-answer values;
    * SNIPS: ``sum c·w / sum w`` (lower variance, slightly biased), interval by the delta method
      over answers.

    Unbiased only where the logging policy could show every item the target shows (``p0 > 0``:
    any ``epsilon > 0`` over the same pool).
    """
    z = _z(confidence)
    frame = pd.DataFrame({
        "r": np.asarray(recommendation_id, dtype=object),
        "c": np.asarray(clicked, dtype=np.float64),
        "p0": np.asarray(propensity, dtype=np.float64),
        "pt": np.asarray(target_probability, dtype=np.float64),
    })
    if not ((frame["p0"] > 0) & (frame["p0"] <= 1)).all():
        raise DataError("logged propensities must be in (0, 1]", field="propensity")
    if not ((frame["pt"] >= 0) & (frame["pt"] <= 1)).all():
        raise DataError("target probabilities must be in [0, 1]", field="target_probability")
    frame["w"] = frame["pt"] / frame["p0"]
    frame["cw"] = frame["c"] * frame["w"]
    grouped = frame.groupby("r", sort=True)
    per = pd.DataFrame({"cw": grouped["cw"].sum(), "w": grouped["w"].sum(), "n": grouped.size()})
    if target_size is None:
        k = per["n"].to_numpy(dtype=np.float64)
    else:
        k = np.broadcast_to(np.asarray(target_size, dtype=np.float64), (len(per),))
    values = per["cw"].to_numpy() / k
    count = len(per)
    ips = float(values.mean()) if count else float("nan")
    se = float(values.std(ddof=1) / np.sqrt(count)) if count > 1 else float("nan")
    snips, variance = ratio_delta(per["cw"].to_numpy(), per["w"].to_numpy())
    snips_se = float(np.sqrt(variance))
    return OffPolicyEstimate(
        ips=ips, ips_low=ips - z * se, ips_high=ips + z * se,
        snips=float(snips), snips_low=float(snips) - z * snips_se, snips_high=float(snips) + z * snips_se,
        recommendations=count,
    )
