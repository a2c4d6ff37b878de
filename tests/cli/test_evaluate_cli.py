"""``teamrec evaluate``: JSON shape, the report file, the table, and one-line errors."""

import json

import numpy as np
import pytest

from teamrec.cli import main


@pytest.fixture
def ratings_csv(tmp_path):
    """A small explicit-rating CSV: 30 people, 25 items, values 1..5, timestamps."""
    rng = np.random.default_rng(0)
    users, items = np.nonzero(rng.random((30, 25)) < 0.35)
    values = rng.integers(1, 6, size=len(users))
    stamps = rng.integers(1_000_000, 2_000_000, size=len(users))
    path = tmp_path / "ratings.csv"
    lines = ["user,item,value,timestamp"] + [
        f"u{u},i{i},{v},{t}" for u, i, v, t in zip(users, items, values, stamps, strict=True)
    ]
    path.write_text("\n".join(lines) + "\n")
    return path


def run_json(capsys, *args):
    code = main(["evaluate", *map(str, args), "--json"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    return json.loads(captured.out)


def test_json_has_every_metric_and_timings_per_algorithm(capsys, ratings_csv):
    out = run_json(capsys, ratings_csv, "--format", "csv", "--protocol", "holdout",
                   "--algorithm", "popularity", "--algorithm", "item-knn", "--k", "5", "--seed", "1")
    assert out["protocol"] == "holdout" and out["k"] == 5 and out["seed"] == 1
    assert out["metrics"] == ["precision@5", "recall@5", "ndcg@5", "map@5", "hit_rate@5", "coverage@5",
                              "novelty@5", "diversity@5"]
    assert [r["label"] for r in out["results"]] == ["popularity", "item-knn"]
    for r in out["results"]:
        assert set(r["metrics"]) == set(out["metrics"])
        assert r["fit_seconds"] >= 0 and r["predict_seconds"] >= 0
        assert sorted(map(int, r["curves"]["ndcg"])) == [1, 2, 3, 4, 5]
    assert out["data"]["users"] == 30 and out["data"]["format"] == "csv"
    assert out["command"].startswith("teamrec evaluate ") and "--protocol holdout" in out["command"]
    again = run_json(capsys, ratings_csv, "--format", "csv", "--protocol", "holdout",
                     "--algorithm", "popularity", "--algorithm", "item-knn", "--k", "5", "--seed", "1")
    assert [r["metrics"] for r in again["results"]] == [r["metrics"] for r in out["results"]]


def test_rating_protocol_with_labels_params_baseline_and_report(capsys, ratings_csv, tmp_path):
    report = tmp_path / "report.html"
    out = run_json(capsys, ratings_csv, "--format", "csv", "--protocol", "kfold", "--folds", "3",
                   "--algorithm", "knn-regression", "--algorithm", "plain=knn-regression",
                   "--param", "plain.transforms=false", "--param", "knn-regression.neighbors=10",
                   "--baseline", "plain", "--report", report)
    assert out["metrics"] == ["rmse", "mae"] and out["protocol_params"] == {"folds": 3}
    plain = out["results"][1]
    assert plain["label"] == "plain" and plain["algorithm"] == "knn-regression"
    assert plain["params"] == {"transforms": False}
    assert len(plain["per_split"]) == 3
    assert set(out["changes"]["knn-regression"]) == {"rmse", "mae"}
    text = report.read_text()
    assert out["report"] == str(report)
    assert '<table id="results">' in text and '<img alt="' in text and "data:image/png;base64," in text


def test_grid_search_from_the_command_line(capsys, ratings_csv):
    out = run_json(capsys, ratings_csv, "--format", "csv", "--protocol", "holdout",
                   "--algorithm", "item-knn", "--grid", "item-knn.neighbors=2,20",
                   "--grid", "item-knn.similarity=cosine,jaccard", "--select-by", "recall@10")
    r = out["results"][0]
    assert out["select_by"] == "recall@10"
    assert len(r["grid"]["trials"][0]) == 4
    chosen = r["grid"]["selected"][0]
    assert chosen["neighbors"] in (2, 20) and chosen["similarity"] in ("cosine", "jaccard")
    best = max(r["grid"]["trials"][0], key=lambda t: t["recall@10"])
    assert best["params"] == chosen


def test_temporal_and_sampled_from_a_file(capsys, ratings_csv):
    out = run_json(capsys, ratings_csv, "--format", "csv", "--protocol", "temporal", "--algorithm", "popularity")
    assert "ndcg@10" in out["results"][0]["metrics"]
    out = run_json(capsys, ratings_csv, "--format", "csv", "--protocol", "sampled", "--negatives", "10",
                   "--algorithm", "popularity")
    assert set(out["results"][0]["metrics"]) == {"recall@5", "recall@10"}


def test_table_output(capsys, ratings_csv, tmp_path):
    report = tmp_path / "r.html"
    code = main(["evaluate", str(ratings_csv), "--format", "csv", "--protocol", "holdout",
                 "-a", "popularity", "--report", str(report)])
    out = capsys.readouterr().out
    assert code == 0 and "popularity" in out and "ndcg@10" in out and "best by ndcg@10" in out
    assert report.exists()


@pytest.mark.parametrize(
    "args, message",
    [
        (["--protocol", "nope", "-a", "popularity"], "unknown protocol"),
        (["--protocol", "kfold", "-a", "popularity"], "does not predict values"),
        (["--protocol", "holdout", "-a", "no-such-algorithm"], "unknown algorithm"),
        (["--protocol", "holdout", "-a", "popularity", "--param", "other.by=value"], "no --algorithm labelled"),
        (["--protocol", "holdout", "-a", "popularity", "--param", "popularity.nope=1"], "nope"),
        (["--protocol", "holdout", "-a", "popularity", "--folds", "3"], "folds"),
        (["--protocol", "holdout", "-a", "popularity", "--select-by", "rmse"], "select-by"),
        (["--protocol", "holdout", "-a", "popularity", "-a", "popularity"], "given twice"),
        (["--protocol", "holdout", "-a", "popularity", "--test-share", "2"], "test_share"),
    ],
)
def test_errors_are_one_line_and_exit_2(capsys, ratings_csv, args, message):
    code = main(["evaluate", str(ratings_csv), "--format", "csv", *args])
    err = capsys.readouterr().err
    assert code == 2, err
    assert message in err and "Traceback" not in err and err.count("\n") == 1


def test_kind_values_and_weights(capsys, tmp_path):
    path = tmp_path / "events.csv"
    rows = ["user,item,kind,value"]
    rng = np.random.default_rng(1)
    for u in range(20):
        for i in rng.choice(15, size=6, replace=False):
            rows.append(f"u{u},i{i},{'like' if (u + i) % 3 else 'view'},1")
    path.write_text("\n".join(rows) + "\n")
    base = ["--format", "csv", "--protocol", "holdout", "-a", "p=popularity", "--param", "p.by=value"]
    out = run_json(capsys, path, *base, "--kind-value", "like=5", "--kind-weight", "view=0.5")
    assert "--kind-value like=5" in out["command"] and "--kind-weight view=0.5" in out["command"]
    code = main(["evaluate", str(path), *base, "--kind-value", "like=x"])
    assert code == 2 and "not a number" in capsys.readouterr().err
