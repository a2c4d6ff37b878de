"""The log schemas and the report: numbers, text, JSON and chart from impressions and feedback."""

import json

import numpy as np
import pandas as pd
import pytest

from teamrec.errors import DataError
from teamrec.experiments.frames import (
    IMPRESSION_COLUMNS,
    clicked,
    empty_feedback,
    empty_impressions,
    validate_feedback,
    validate_impressions,
)
from teamrec.experiments.report import build_report
from teamrec.experiments.settings import parse_experiment
from teamrec.experiments.stats import wilson_interval

T0 = pd.Timestamp("2026-12-02T10:00:00Z")
EXPERIMENT = parse_experiment({
    "name": "pop-vs-knn",
    "arms": [{"name": "pop", "algorithm": "popularity"}, {"name": "knn", "algorithm": "item-knn", "epsilon": 0.2}],
    "start": "2026-12-01T00:00:00Z",
})


def logs(persons=200, answers_per_person=4, k=5, ctr=(0.05, 0.10), seed=0, skew=0.5):
    """A generated log: persons split between the arms (share ``skew`` in pop), clicks at each arm's CTR."""
    rng = np.random.default_rng(seed)
    arm_of = np.where(rng.random(persons) < skew, "pop", "knn")
    rows, feedback = [], []
    for p in range(persons):
        for a in range(answers_per_person):
            rid = f"r{p}-{a}"
            items = rng.choice(100, size=k, replace=False)
            for pos, item in enumerate(items, start=1):
                explored = bool(rng.random() < 0.2)
                rows.append((rid, "t", f"p{p}", arm_of[p], f"i{item}", pos, explored, 0.5, T0))
                rate = ctr[0] if arm_of[p] == "pop" else ctr[1]
                if rng.random() < rate:
                    feedback.append((rid, f"i{item}", "click", T0 + pd.Timedelta(seconds=5)))
                    if rng.random() < 0.3:  # a second positive action on the same impression counts once
                        feedback.append((rid, f"i{item}", "join", T0 + pd.Timedelta(seconds=9)))
                elif rng.random() < 0.02:
                    feedback.append((rid, f"i{item}", "dismiss", T0 + pd.Timedelta(seconds=5)))
    impressions = pd.DataFrame(rows, columns=list(IMPRESSION_COLUMNS))
    return impressions, pd.DataFrame(feedback, columns=["recommendation_id", "item", "action", "at"])


def test_report_numbers_match_a_direct_count():
    impressions, feedback = logs()
    report = build_report(impressions, feedback, EXPERIMENT)
    positive = feedback[feedback["action"].isin(["click", "join"])].drop_duplicates(["recommendation_id", "item"])
    merged = impressions.merge(positive.assign(c=1)[["recommendation_id", "item", "c"]], how="left")
    merged["c"] = merged["c"].fillna(0)
    arms = report.arms.set_index("arm")
    assert list(report.arms["arm"]) == ["pop", "knn"]
    for arm in ("pop", "knn"):
        rows = merged[merged["arm"] == arm]
        assert arms.at[arm, "impressions"] == len(rows)
        assert arms.at[arm, "clicks"] == rows["c"].sum()
        assert arms.at[arm, "units"] == rows["person"].nunique()
        low, high = wilson_interval(rows["c"].sum(), len(rows))
        assert arms.at[arm, "low"] == pytest.approx(float(low))
        assert arms.at[arm, "high"] == pytest.approx(float(high))
    diff = report.differences.iloc[0]
    assert diff["arm"] == "knn" and diff["control"] == "pop"
    assert diff["difference"] == pytest.approx(arms.at["knn", "ctr"] - arms.at["pop", "ctr"])
    assert diff["low"] < diff["difference"] < diff["high"]
    assert not report.srm.flagged
    assert set(report.explored["explored"]) == {True, False}
    assert report.by_position["position"].max() == 5
    by_pos = merged[(merged["arm"] == "knn") & (merged["position"] == 1)]
    got = report.by_position.query("arm == 'knn' and position == 1")["ctr"].item()
    assert got == pytest.approx(by_pos["c"].mean())


def test_a_clear_difference_is_significant_and_none_is_not():
    impressions, feedback = logs(persons=600, ctr=(0.05, 0.15))
    diff = build_report(impressions, feedback, EXPERIMENT).differences.iloc[0]
    assert diff["p_value"] < 0.001 and diff["low"] > 0
    impressions, feedback = logs(persons=600, ctr=(0.08, 0.08), seed=3)
    diff = build_report(impressions, feedback, EXPERIMENT).differences.iloc[0]
    assert diff["p_value"] > 0.001  # equal CTRs: a false positive at this level is a 1-in-1000 event


def test_the_report_flags_a_sample_ratio_mismatch():
    impressions, feedback = logs(persons=2000, answers_per_person=1, skew=0.6)
    report = build_report(impressions, feedback, EXPERIMENT)
    assert report.srm.flagged
    assert "MISMATCH" in report.to_text()


def test_renderings():
    impressions, feedback = logs()
    # feedback on an impression that does not exist is counted, not used
    feedback = pd.concat([feedback, pd.DataFrame([("nope", "i1", "click", T0)], columns=feedback.columns)])
    # impressions of the default policy (not in the experiment) are left out
    outside = impressions.head(3).assign(arm="default", recommendation_id="outside")
    report = build_report(pd.concat([impressions, outside]), feedback, EXPERIMENT)
    assert report.unmatched_feedback == 1 and report.excluded_impressions == 3
    text = report.to_text()
    assert text.splitlines()[0] == "experiment pop-vs-knn  (unit: person; control: pop)"
    for needle in ("95% interval", "difference against pop", "sample ratio", "explored against exploited",
                   "CTR by position", "left out: 3 impression(s)"):
        assert needle in text
    payload = report.to_dict()
    assert json.loads(json.dumps(payload, allow_nan=False)) == payload
    assert [a["arm"] for a in payload["arms"]] == ["pop", "knn"]
    assert payload["srm"]["flagged"] is False
    png = report.to_chart("png")
    assert png.startswith(b"\x89PNG\r\n\x1a\n") and len(png) > 5000
    svg = report.to_chart("svg")
    assert b"<svg" in svg
    with pytest.raises(DataError, match="png or svg"):
        report.to_chart("gif")


def test_report_without_an_experiment_uses_the_logged_arms():
    impressions, feedback = logs()
    report = build_report(impressions, feedback)
    assert report.srm is None
    assert set(report.arms["arm"]) == {"pop", "knn"}
    assert "sample ratio" not in report.to_text()


def test_team_unit_aggregates_per_team():
    impressions, feedback = logs(persons=100)
    impressions["team"] = "t" + (impressions["person"].str[1:].astype(int) % 10).astype(str)
    impressions["arm"] = np.where(impressions["team"].isin(["t0", "t1", "t2", "t3", "t4"]), "pop", "knn")
    team_exp = EXPERIMENT.model_copy(update={"unit": "team"})
    report = build_report(impressions, feedback, team_exp)
    assert report.arms["units"].tolist() == [5, 5]
    assert "per-team delta method" in report.to_text()


def test_schemas_validate_with_errors_naming_row_and_field():
    impressions, feedback = logs(persons=3)
    ok = validate_impressions(impressions)
    assert list(ok.columns) == list(IMPRESSION_COLUMNS)
    assert str(ok["shown_at"].dtype) == "datetime64[ns, UTC]" or "UTC" in str(ok["shown_at"].dtype)
    cases = [
        (impressions.drop(columns="propensity"), "missing column(s) propensity"),
        (impressions.assign(propensity=[0.5] * 3 + [0.0] + [0.5] * (len(impressions) - 4)),
         "impressions, field 'propensity': row 3: must be in (0, 1], got 0.0"),
        (impressions.assign(position=0), "field 'position': row 0: must be an integer >= 1"),
        (impressions.assign(person=[""] + ["p"] * (len(impressions) - 1)), "field 'person': row 0: blank id"),
        (impressions.assign(explored="maybe"), "field 'explored': row 0: must be true or false"),
        (impressions.assign(shown_at="yesterday"), "field 'shown_at': row 0: not a time"),
        (pd.concat([impressions, impressions.head(1)]), "item shown twice in one recommendation"),
        (impressions.assign(arm=["pop", "knn"] * (len(impressions) // 2) + ["pop"] * (len(impressions) % 2)),
         "has more than one team, person or arm"),
    ]
    for frame, message in cases:
        with pytest.raises(DataError) as info:
            validate_impressions(frame)
        assert message in str(info.value)
        assert "\n" not in str(info.value)
    with pytest.raises(DataError, match="row 0: unknown action 'like'"):
        validate_feedback(feedback.assign(action="like"))
    epoch = validate_feedback(feedback.assign(at=1_796_000_000))
    assert epoch["at"].iloc[0] == pd.Timestamp(1_796_000_000, unit="s", tz="UTC")
    assert len(empty_impressions()) == 0 and len(empty_feedback()) == 0
    assert clicked(empty_impressions(), empty_feedback()).shape == (0,)


def test_an_empty_log_and_an_arm_without_impressions_still_report():
    report = build_report(empty_impressions(), empty_feedback(), EXPERIMENT)
    assert report.arms["impressions"].tolist() == [0, 0]
    assert json.loads(json.dumps(report.to_dict(), allow_nan=False))["arms"][0]["ctr"] is None
    assert "-" in report.to_text() and report.to_chart("png").startswith(b"\x89PNG")
    impressions, feedback = logs(persons=50)
    only_pop = impressions[impressions["arm"] == "pop"]
    report = build_report(only_pop, feedback, EXPERIMENT)
    assert report.arms.set_index("arm").at["knn", "units"] == 0
    assert report.srm.flagged
    assert np.isnan(report.differences.iloc[0]["difference"])
    assert report.to_chart("svg").startswith(b"<?xml")
    with pytest.raises(DataError, match="no impressions to report on"):
        build_report(empty_impressions(), empty_feedback())
