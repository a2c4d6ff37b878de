"""Serving the teams of a ``teamrec batch`` output ([batch] settings): a team's model is loaded
on its first request, the least recently used are dropped beyond ``max_teams_loaded`` (memory
bounded by the count), a request after a drop loads it again, and what is served is what the
batch wrote."""

from __future__ import annotations

import pytest

from teamrec.batch import read_output
from teamrec.batch.local import run_local
from teamrec.data.generate import generate_workload, write_workload
from teamrec.errors import ConfigError, UnsupportedError
from teamrec.service import create_app
from teamrec.service.batch_models import batch_teams
from teamrec.service.settings import load_settings
from teamrec.store import MemoryEventStore

from .conftest import AUTH, TestClient, make_settings


@pytest.fixture(scope="module")
def batch_out(tmp_path_factory):
    root = tmp_path_factory.mktemp("batch")
    source = write_workload(generate_workload(5, 6_000, seed=5), root / "events")
    run_local(source, root / "out", k=5, workers=1)
    return root / "out"


def batch_client(globex_dir, batch_out, **batch):
    settings = make_settings(globex_dir, batch={"path": str(batch_out), "max_teams_loaded": 2, **batch})
    return TestClient(create_app(settings, store=MemoryEventStore()))


def loaded(client) -> list[str]:
    return client.app.state.service.registry.batch_loaded.names()


def batch_states(client) -> int:
    registry = client.app.state.service.registry
    return sum(1 for team, _ in registry._states if team not in registry.settings.teams)


def first_user(batch_out, team: str) -> str:
    return str(read_output(batch_out, "recommendations", [team])["user"].iloc[0])


def test_a_team_is_loaded_on_its_first_request_and_served_as_the_batch_wrote(globex_dir, batch_out):
    teams = batch_teams(make_settings(globex_dir, batch={"path": str(batch_out)}).batch)
    assert len(teams) == 5
    written = read_output(batch_out, "recommendations", [teams[0]])
    with batch_client(globex_dir, batch_out) as client:
        assert loaded(client) == [] and client.get("/health").json()["status"] == "ok"
        for user in written["user"].unique()[:5]:
            body = client.get(f"/api/v1/teams/{teams[0]}/people/{user}/recommendations", params={"k": 5}).json()
            expected = written[written["user"] == user].sort_values("rank")["item"].tolist()
            assert [r["id"] for r in body["results"]] == expected
        assert loaded(client) == [teams[0]]
        similar = read_output(batch_out, "similar_items", [teams[0]])
        item = str(similar["item"].iloc[0])
        body = client.get(f"/api/v1/teams/{teams[0]}/items/{item}/similar", params={"k": 5}).json()
        assert [r["id"] for r in body["results"]] == similar[similar["item"] == item]["similar"].tolist()


def test_least_recently_used_are_dropped_and_reloaded_on_request(globex_dir, batch_out):
    with batch_client(globex_dir, batch_out) as client:
        teams = batch_teams(client.app.state.service.settings.batch)

        def ask(team):
            response = client.get(f"/api/v1/teams/{team}/people/{first_user(batch_out, team)}/recommendations")
            assert response.status_code == 200, response.text
            return response.json()["model_version"]

        assert ask(teams[0]) == 1
        ask(teams[1])
        ask(teams[0])  # used again: teams[1] is now the least recently used
        ask(teams[2])
        assert loaded(client) == [teams[0], teams[2]] and batch_states(client) == 2
        assert ask(teams[1]) == 2  # dropped, then loaded again
        assert loaded(client) == [teams[2], teams[1]]
        for team in teams * 2:  # every team, twice: never more than two models in memory
            ask(team)
            assert batch_states(client) <= 2 and len(loaded(client)) <= 2
        # the configured teams are untouched by the churn
        globex = client.get("/api/v1/teams/globex/people/g4/recommendations", headers=AUTH["globex-admin"])
        assert globex.status_code == 200


def test_unknown_filtered_and_retrained_batch_teams(globex_dir, batch_out):
    teams = batch_teams(make_settings(globex_dir, batch={"path": str(batch_out)}).batch)
    with batch_client(globex_dir, batch_out, teams=[teams[1]]) as client:
        assert client.get("/api/v1/teams/nope/people/u1/recommendations").status_code == 404
        assert client.get(f"/api/v1/teams/{teams[0]}/people/u1/recommendations").status_code == 404  # not listed
        assert client.get("/api/v1/teams/..%2F..%2Fetc/people/u1/recommendations").status_code == 404
        user = first_user(batch_out, teams[1])
        assert client.get(f"/api/v1/teams/{teams[1]}/people/{user}/recommendations").status_code == 200
        registry = client.app.state.service.registry
        with pytest.raises(UnsupportedError, match="batch output"):
            registry.retrain(teams[1])


def test_batch_settings(tmp_path, batch_out):
    config = tmp_path / "teamrec.toml"
    config.write_text('[batch]\npath = "out"\nmax_teams_loaded = 50\n'
                      '[[keys]]\nteam = "t0"\nscopes = ["write"]\nkey = "t0-write-key-0123456789"\n')
    settings = load_settings(config, env={})
    assert settings.batch.path == str(tmp_path / "out") and settings.batch.max_teams_loaded == 50
    assert settings.teams == {} and settings.serves_batch_team("t0")
    with pytest.raises(ConfigError, match="max_teams_loaded"):
        load_settings(config, env={}, overrides={"batch": {"path": "x", "max_teams_loaded": 0}})
