"""``teamrec similar / recommend / people / train`` on the real Slack export and on a generated
Slack-like export with a private channel."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from teamrec.cli import main
from teamrec.cli.recommend import parse_params

PEOPLE = {
    "U1": ("ana", "Ana Lopez"),
    "U2": ("ben", "Ben Okafor"),
    "U3": ("cat", "Cat Novak"),
    "U4": ("dan", "Dan Weiss"),
    "U5": ("eve", "Eve Tanaka"),
    "U6": ("gus", "Gus Adeyemi"),
}
PUBLIC = {
    "C1": ("general", ["U1", "U2", "U3", "U4", "U5", "U6"]),
    "C2": ("ml", ["U1", "U2", "U3", "U6"]),
    "C3": ("data", ["U1", "U2", "U4", "U6"]),
    "C5": ("random", ["U4", "U5"]),
    "C6": ("ml-papers", ["U1", "U3"]),
}
PRIVATE = {"G1": ("secret-ml", ["U1", "U2", "U3"])}


def write_slack_export(root: Path) -> Path:
    """A minimal Slack export: users, public channels, one private channel (groups.json) and
    a day of messages per channel."""
    root.mkdir()
    users = [{"id": u, "team_id": "T1", "name": handle, "real_name": name} for u, (handle, name) in PEOPLE.items()]
    (root / "users.json").write_text(json.dumps(users))
    for file, channels in (("channels.json", PUBLIC), ("groups.json", PRIVATE)):
        listed = [
            {"id": c, "name": name, "members": members, "purpose": {"value": ""}}
            for c, (name, members) in channels.items()
        ]
        (root / file).write_text(json.dumps(listed))
        for name, members in channels.values():
            (root / name).mkdir()
            messages = [
                {"type": "message", "user": u, "text": "hi", "ts": f"{1700000000 + n}.000100"}
                for n, u in enumerate(members)
            ]
            (root / name / "2023-11-14.json").write_text(json.dumps(messages))
    return root


@pytest.fixture
def export(tmp_path) -> Path:
    return write_slack_export(tmp_path / "export")


def run_json(capsys, *args):
    code = main([*map(str, args), "--json"])
    out = capsys.readouterr()
    assert code == 0, out.err
    return json.loads(out.out)


# -- the real export ---------------------------------------------------------------------------
def test_similar_channels_on_the_real_export(capsys, slack_export_dir):
    out = run_json(capsys, "similar", slack_export_dir, "--format", "slack-export", "machine-learning")
    assert 1 <= len(out) <= 10
    names = [r["name"] for r in out]
    assert "machine-learning" not in names
    assert all(set(r) == {"id", "name", "score", "reason"} for r in out)
    scores = [r["score"] for r in out]
    assert scores == sorted(scores, reverse=True) and all(0 < s <= 1 for s in scores)
    assert all(r["id"].startswith("C") for r in out)


def test_train_then_people_and_recommend_by_name_on_the_real_export(capsys, tmp_path, slack_export_dir):
    summary = run_json(capsys, "train", slack_export_dir, "--format", "slack-export", "--out", tmp_path / "m")
    assert summary["algorithm"] == "auto" and summary["items"] == 38  # the default: chosen per team
    choice = summary["choice"]
    assert choice["algorithm"] in {r["algorithm"] for r in choice["validation"]} and not choice["budget_cut"]
    people = run_json(capsys, "people", "--model-dir", tmp_path / "m", "Rachel Mann", "-k", "5")
    assert len(people) == 5 and "Rachel Mann" not in [p["name"] for p in people]
    assert all(p["reason"].startswith("you share") for p in people)
    recs = run_json(capsys, "recommend", "--model-dir", tmp_path / "m", "rachel", "-k", "5")
    assert len(recs) == 5 and all(r["reason"] for r in recs)
    # The same answer straight from the export.
    direct = run_json(capsys, "recommend", slack_export_dir, "--format", "slack-export", "Rachel Mann", "-k", "5")
    assert [r["id"] for r in direct] == [r["id"] for r in recs]



def test_train_never_overwrites_a_folder_of_other_files(capsys, tmp_path, slack_export_dir):
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "thesis.tex").write_text("years of work")
    code = main(["train", str(slack_export_dir), "--format", "slack-export", "--out", str(tmp_path / "docs")])
    assert code == 2 and "refusing to overwrite" in capsys.readouterr().err
    assert [f.name for f in (tmp_path / "docs").iterdir()] == ["thesis.tex"]

# -- privacy on a generated export -----------------------------------------------------------
@pytest.mark.parametrize("algorithm", ["item-knn", "user-knn", "cooccurrence", "knn-regression"])
def test_private_channel_is_never_recommended_to_a_non_member(capsys, export, algorithm):
    for person in ["dan", "Eve Tanaka", "U6"]:
        out = run_json(capsys, "recommend", export, "--format", "slack-export", person, "-a", algorithm)
        assert "secret-ml" not in json.dumps(out), (person, out)
    # ... while the matrix and the algorithm do know it (the rule is what hides it).
    similar = run_json(capsys, "similar", export, "--format", "slack-export", "#ml", "--as", "ana", "-a", algorithm)
    assert "secret-ml" in [r["name"] for r in similar]


def test_similar_hides_private_channels_from_non_members(capsys, export):
    for viewer in [[], ["--as", "dan"], ["--as", "gus"]]:
        out = run_json(capsys, "similar", export, "--format", "slack-export", "ml", *viewer)
        assert out and "secret-ml" not in json.dumps(out)
    code = main(["similar", str(export), "--format", "slack-export", "secret-ml", "--as", "gus"])
    assert code == 2 and "private" in capsys.readouterr().err


def test_people_names_and_table_output(capsys, export):
    assert main(["people", str(export), "--format", "slack-export", "ana", "-k", "2"]) == 0
    out = capsys.readouterr().out
    assert "Ben Okafor" in out and "people like Ana Lopez" in out
    assert main(["similar", str(export), "--format", "slack-export", "#data"]) == 0
    assert "general" in capsys.readouterr().out


# -- options and errors ----------------------------------------------------------------------
def test_params_are_parsed_as_json_when_they_parse():
    assert parse_params(["neighbors=5", "similarity=jaccard", "shrinkage=2.5", "x=null", "y=true"]) == {
        "neighbors": 5, "similarity": "jaccard", "shrinkage": 2.5, "x": None, "y": True,
    }


def test_algorithm_params_reach_the_model(capsys, export, tmp_path):
    summary = run_json(capsys, "train", export, "--format", "slack-export", "-a", "user-knn",
                       "--param", "neighbors=3", "--param", "similarity=jaccard", "--out", tmp_path / "m")
    assert summary["params"]["neighbors"] == 3 and summary["params"]["similarity"] == "jaccard"
    fitted = run_json(capsys, "people", export, "--format", "slack-export", "ana", "-a", "user-knn",
                      "-p", "neighbors=3", "-p", "similarity=jaccard")
    saved = run_json(capsys, "people", "--model-dir", tmp_path / "m", "ana")
    assert fitted == saved and len(saved) == 3


def test_matrix_options_apply(capsys, export):
    # Messages only: the private channel's members still make it hidden from Dan.
    out = run_json(
        capsys, "recommend", export, "--format", "slack-export", "dan", "--kind", "message", "--agg", "count"
    )
    assert out and "secret-ml" not in json.dumps(out)


@pytest.mark.parametrize(
    "args, message",
    [
        (["similar", "{export}", "--format", "slack-export", "#nope"], "unknown item: '#nope'"),
        (["recommend", "{export}", "--format", "slack-export", "nobody"], "unknown user: 'nobody'"),
        (["people", "{export}", "--format", "slack-export", "nobody"], "unknown user: 'nobody'"),
        (["recommend", "{export}", "--format", "slack-export", "ana", "-a", "nope"], "unknown algorithm"),
        (["recommend", "{export}", "--format", "slack-export", "ana", "-p", "neighbors=0"], "neighbors"),
        (["recommend", "{export}", "--format", "slack-export", "ana", "-p", "oops"], "--param takes KEY=VALUE"),
        (["recommend", "{export}", "--format", "slack-export"], "USER"),
        (["similar", "--model-dir", "{export}", "a", "b"], "not both"),
        (["recommend", "--model-dir", "{export}", "ana"], "not a saved teamrec model"),
    ],
)
def test_errors_exit_2_with_one_line(capsys, export, args, message):
    code = main([a.format(export=export) for a in args])
    err = capsys.readouterr().err
    assert code == 2, err
    assert message in err and "Traceback" not in err


def test_model_dir_refuses_algorithm_options(capsys, export, tmp_path):
    assert main(["train", str(export), "--format", "slack-export", "--out", str(tmp_path / "m")]) == 0
    capsys.readouterr()
    assert main(["similar", "--model-dir", str(tmp_path / "m"), "ml", "-a", "user-knn"]) == 2
    assert "saved model" in capsys.readouterr().err


def test_no_binary_lets_slack_activity_reach_the_model(capsys, slack_export_dir):
    """A Slack export defaults to membership (0/1); --no-binary keeps the activity counts,
    which Slack's KNN regression predicts (in mode "all" its list's scores are the estimates,
    within the activity seen; the default mode weighs them by the neighbours behind them)."""
    base = [str(slack_export_dir), "--format", "slack-export", "--kind", "message", "--kind", "reply",
            "--kind", "reaction", "-a", "knn-regression", "-p", "mode=all", "Rachel Mann", "-k", "3"]
    binary = run_json(capsys, "recommend", *base)
    counts = run_json(capsys, "recommend", *base, "--no-binary")
    assert all(r["score"] <= 1.0 + 1e-9 for r in binary)
    assert max(r["score"] for r in counts) > 1.2  # log message counts, beyond what 0/1 can give


def test_kind_values_and_weights_on_every_command(capsys, tmp_path):
    """--kind-value / --kind-weight (Deskdrop's strengths, say) reach recommend and train too."""
    rows = (
        ["user,item,kind,value"] + [f"u{i},a,view,1" for i in range(6)] + ["u1,b,like,1", "u2,b,like,1", "z,c,view,1"]
    )
    path = tmp_path / "events.csv"
    path.write_text("\n".join(rows) + "\n")
    base = ["recommend", str(path), "--format", "csv", "z", "-k", "2", "-a", "popularity", "--param", "by=value"]
    assert [r["id"] for r in run_json(capsys, *base)] == ["a", "b"]  # 6 views beat 2 likes
    assert [r["id"] for r in run_json(capsys, *base, "--kind-value", "like=10")] == ["b", "a"]
    assert [r["id"] for r in run_json(capsys, *base, "--kind-weight", "like=5")] == ["b", "a"]
    assert main(base + ["--kind-value", "like=lots"]) == 2
    assert "--kind-value like: not a number" in capsys.readouterr().err
