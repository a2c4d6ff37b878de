"""The HTML report: one standalone file with the table and embedded PNG plots."""

import base64
import re

import numpy as np

from teamrec.evaluation import AlgorithmSpec, EvalData, create_protocol, evaluate
from teamrec.evaluation import report as R
from teamrec.testing import checkerboard, random_matrix


def _pngs(text):
    found = re.findall(r'<img [^>]*src="data:image/png;base64,([A-Za-z0-9+/=]+)"', text)
    for blob in found:
        assert base64.b64decode(blob).startswith(b"\x89PNG\r\n\x1a\n")
    return found


def test_ranking_report_has_table_bars_and_curves(tmp_path):
    result = evaluate(EvalData(checkerboard()), create_protocol("holdout"),
                      [AlgorithmSpec("popularity"), AlgorithmSpec("popularity", label="by-value",
                                                                  params={"by": "value"})], k=5)
    result.command = "teamrec evaluate x --protocol holdout -a popularity"
    path = R.write_html(result, tmp_path / "out" / "report.html")
    text = path.read_text()
    assert text.startswith("<!DOCTYPE html>") and text.rstrip().endswith("</html>")
    assert '<table id="results">' in text
    for metric in result.metric_names:
        assert f"<th>{metric}</th>" in text
    assert "<td>by-value</td>" in text and "teamrec evaluate x" in text
    assert len(_pngs(text)) == 2  # metric per algorithm, metric against k
    assert "http" not in text.replace("http-equiv", "")  # nothing fetched from elsewhere
    assert not list(tmp_path.glob("out/.*.tmp"))
    # coverage, novelty and diversity are in the table, the curves and explained (issue 13 item 7)
    for metric in ("coverage@5", "novelty@5", "diversity@5"):
        assert f"<th>{metric}</th>" in text
    assert '<ul id="beyond-accuracy">' in text and "self-information" in text
    assert set(result.results[0].curves) >= {"coverage", "novelty", "diversity"}


def test_rating_report_states_the_change_against_the_baseline(tmp_path, toy_algorithms):
    result = evaluate(EvalData(random_matrix(30, 20, seed=2)), create_protocol("kfold", {"folds": 3}),
                      [AlgorithmSpec("test-constant", label="zero"),
                       AlgorithmSpec("test-constant", label="three", params={"value": 3.0})],
                      baseline="zero")
    text = R.to_html(result)
    assert len(_pngs(text)) == 1  # no metric-against-k plot for errors
    zero, three = (r.metrics["rmse"] for r in result.results)
    assert f"{three:.4f}" in text and f"{zero:.4f}" in text
    assert f"reduction of {(zero - three) / zero:.1%}" in text
    lines = R.change_lines(result)
    assert lines[0].startswith("three against zero: rmse")


def test_table_rows():
    result = evaluate(EvalData(checkerboard()), create_protocol("holdout"), [AlgorithmSpec("popularity")], k=3)
    header, rows = R.table(result)
    assert header[0] == "algorithm" and header[-2:] == ["fit s", "predict s"]
    assert rows[0][0] == "popularity" and len(rows[0]) == len(header)
    assert R.fmt(np.nan) == "-" and R.fmt_change(-0.35) == "-35.0%"
