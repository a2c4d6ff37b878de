"""``teamrec stats`` / ``teamrec ingest`` on the real data sets, and their error handling."""

import json

import pytest

from teamrec.cli import main


def stats_json(capsys, *args):
    assert main(["stats", *map(str, args), "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_stats_deskdrop(capsys, deskdrop_csv):
    out = stats_json(capsys, deskdrop_csv, "--format", "deskdrop")
    assert (out["users"], out["items"], out["events"]) == (1895, 2987, 72312)
    assert out["duplicates_dropped"] == 11 and out["events_kept"] == 72301


def test_stats_movielens(capsys, ml100k_dir):
    out = stats_json(capsys, ml100k_dir / "u.data", "--format", "movielens")
    assert (out["users"], out["items"], out["events"]) == (943, 1682, 100000)


def test_stats_lastfm(capsys, lastfm_dir):
    out = stats_json(capsys, lastfm_dir / "user_artists.dat", "--format", "lastfm")
    assert (out["users"], out["items"], out["events"]) == (1892, 17632, 92834)


def test_stats_slack_export(capsys, slack_export_dir):
    out = stats_json(capsys, slack_export_dir, "--format", "slack-export")
    assert out["items"] == 39 and out["teams"] == 1 and out["users"] == 51
    # users.json lists 71; the 6 bots and 14 deleted users are left out of the 51 above.
    reader = out["reader"]
    assert (reader["users_in_export"], reader["bots_left_out"], reader["deleted_left_out"]) == (71, 6, 14)
    assert reader["users_kept"] == 51 and reader["channels"] == 39


def test_ingest_then_stats_from_the_folder(capsys, tmp_path, ml100k_dir):
    assert main(["ingest", str(ml100k_dir / "u.data"), "--format", "movielens", "--out", str(tmp_path / "ml")]) == 0
    capsys.readouterr()
    out = stats_json(capsys, tmp_path / "ml")  # no --format: an ingested folder is recognised
    assert (out["users"], out["items"], out["events"]) == (943, 1682, 100000)


def test_table_output(capsys, ml100k_dir):
    assert main(["stats", str(ml100k_dir / "u.data"), "--format", "movielens"]) == 0
    assert "943" in capsys.readouterr().out


@pytest.mark.parametrize(
    "content, expected",
    [
        ("user,item\n1,2\n1,notanumber_is_fine\n", None),
        ("", "empty file"),
    ],
)
def test_csv_errors_exit_2_with_one_line(capsys, tmp_path, content, expected):
    path = tmp_path / "events.csv"
    path.write_text(content)
    code = main(["stats", str(path), "--format", "csv"])
    err = capsys.readouterr().err
    if expected is None:
        assert code == 0
    else:
        assert code == 2 and expected in err and "Traceback" not in err
        assert err.count("\n") == 1 and str(path) in err


def test_unknown_deskdrop_event_names_line_and_field(capsys, tmp_path):
    path = tmp_path / "ui.csv"
    path.write_text(
        "timestamp,eventType,contentId,personId,sessionId,userAgent,userRegion,userCountry\n"
        "1465413032,VIEW,1,2,3,,,\n"
        "1465413032,DISLIKE,1,2,3,,,\n"
    )
    assert main(["stats", str(path), "--format", "deskdrop"]) == 2
    err = capsys.readouterr().err
    assert "line 3" in err and "eventType" in err and "DISLIKE" in err
    assert main(["stats", str(path), "--format", "deskdrop", "--skip-bad-rows", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["rows_skipped"] == 1 and out["events_kept"] == 1


def test_unknown_format_and_missing_file(capsys, tmp_path):
    assert main(["stats", str(tmp_path), "--format", "nope"]) == 2
    assert "unknown format" in capsys.readouterr().err
    assert main(["stats", str(tmp_path / "absent.csv"), "--format", "csv"]) == 2
    assert "no such file" in capsys.readouterr().err
    assert main(["stats", str(tmp_path)]) == 2  # a plain folder needs --format


def test_ingest_failure_leaves_existing_output(capsys, tmp_path, ml100k_dir):
    out = tmp_path / "ml"
    assert main(["ingest", str(ml100k_dir / "u.data"), "--format", "movielens", "--out", str(out)]) == 0
    before = sorted(p.name for p in out.iterdir())
    bad = tmp_path / "bad.csv"
    bad.write_text("")
    assert main(["ingest", str(bad), "--format", "csv", "--out", str(out)]) == 2
    assert sorted(p.name for p in out.iterdir()) == before


def test_every_command_has_help(capsys):
    import typer

    from teamrec.cli import app

    command = typer.main.get_command(app)
    for name in command.list_commands(None):
        assert main([name, "--help"]) == 0, name
        assert "Usage" in capsys.readouterr().out
