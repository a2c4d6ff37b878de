"""Errors become JSON by kind; anything unexpected is a generic 500 without a trace."""

from __future__ import annotations

import logging

import pytest

from teamrec.errors import (
    AccessDeniedError,
    ConfigError,
    DataError,
    ModelTooLargeError,
    NotFittedError,
    UnknownIdError,
    UnsupportedError,
)
from teamrec.service import create_app
from teamrec.service.settings import Settings
from teamrec.store import MemoryEventStore

from .conftest import AUTH, TestClient, make_settings

T = "/api/v1/teams/demo"


@pytest.mark.parametrize(
    "error, status, code",
    [
        (UnknownIdError("item", "x"), 404, "not_found"),
        (AccessDeniedError("no"), 403, "forbidden"),
        (DataError("broken", file="f.csv", line=3, field="user"), 422, "invalid_data"),
        (ConfigError("bad setting"), 400, "bad_request"),
        (UnsupportedError("cannot"), 400, "unsupported"),
        (NotFittedError("not yet"), 503, "not_ready"),
        (ModelTooLargeError("too big"), 400, "bad_request"),
    ],
)
def test_teamrec_errors_by_kind(client, monkeypatch, error, status, code):
    state = client.app.state.service.registry.get("demo")

    def fail(*args, **kwargs):
        raise error

    monkeypatch.setattr(state.index, "search_items", fail)
    response = client.get(f"{T}/items", params={"q": "x"})
    assert response.status_code == status
    assert response.json() == {"error": code, "message": str(error)}


def test_unexpected_errors_are_a_generic_500(client, monkeypatch, caplog):
    state = client.app.state.service.registry.get("demo")

    def boom(*args, **kwargs):
        raise RuntimeError("secret internals: /etc/passwd line 7")

    monkeypatch.setattr(state.model, "recommend", boom)
    with caplog.at_level(logging.ERROR, logger="teamrec.service"):
        response = client.get(f"{T}/people/U0103/recommendations")
    assert response.status_code == 500
    assert response.json() == {"error": "internal_error", "message": "internal server error"}
    assert "secret" not in response.text and "Traceback" not in response.text
    assert "secret internals" in caplog.text  # the operator still learns what happened


def test_a_failed_retrain_keeps_the_old_model(tmp_path, globex_dir):
    """The source vanishes: the retrain (in the worker process) fails with the data error,
    which names the file but not where the server keeps it; the old model keeps serving."""
    import shutil

    source = shutil.copytree(globex_dir, tmp_path / "private-folder" / "export")
    teams = {"demo": {"format": "demo"}, "globex": {"source": str(source), "format": "teamrec"}}
    settings = make_settings(globex_dir, teams=teams)
    with TestClient(create_app(settings, store=MemoryEventStore()), raise_server_exceptions=False) as client:
        G = "/api/v1/teams/globex"
        shutil.rmtree(source)
        response = client.post(f"{G}/model/retrain", headers=AUTH["globex-admin"])
        assert response.status_code == 422 and response.json()["error"] == "invalid_data"
        assert str(tmp_path) not in response.text and "private-folder" not in response.text
        info = client.get(f"{G}/model", headers=AUTH["globex-admin"]).json()
        assert info["model_version"] == 1
        message = info["last_retrain_error"]["message"]
        assert "export" in message and str(tmp_path) not in message and "private-folder" not in message
        assert client.get(f"{G}/people/g1/recommendations").status_code == 200
        shutil.copytree(globex_dir, source)
        assert client.post(f"{G}/model/retrain", headers=AUTH["globex-admin"]).status_code == 200
        assert client.get(f"{G}/model").json()["last_retrain_error"] is None  # cleared by a success


def test_a_failed_background_retrain_is_reported_by_the_model_info(client, monkeypatch):
    """A retrain with wait=false has nobody to answer: /model says it failed, and why
    (a bug's details stay in the server log)."""
    import time

    from teamrec.service import training

    def broken(*args, **kwargs):
        raise RuntimeError("secret internals")

    monkeypatch.setattr(training, "load_folder_steps", broken)  # a bug in the server's half of a retrain
    assert client.post(f"{T}/model/retrain", params={"wait": False}, headers=AUTH["demo-admin"]).status_code == 202
    deadline = time.monotonic() + 30
    while (failure := client.get(f"{T}/model").json()["last_retrain_error"]) is None:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert failure["message"] == "internal error (RuntimeError); see the server log"
    assert "secret" not in client.get(f"{T}/model").text


def test_retraining_a_team_without_a_source_is_400(tmp_path, globex_dir):
    from teamrec import TeamModel, build_matrix
    from teamrec.data.sources import read_source

    folder = TeamModel.fit(build_matrix(read_source(globex_dir)), "item-knn").save(tmp_path / "saved")
    settings = Settings.model_validate({
        "database": "memory:",
        "teams": {"saved": {"model_dir": str(folder)}},
        "keys": [{"team": "saved", "key": "k" * 20, "scopes": ["admin"]}],
    })
    with TestClient(create_app(settings, store=MemoryEventStore())) as client:
        info = client.get("/api/v1/teams/saved/model").json()
        assert info["format"] == "saved model" and info["events"]["source"] is None
        response = client.post("/api/v1/teams/saved/model/retrain", headers={"X-API-Key": "k" * 20})
        assert response.status_code == 400 and "no source" in response.json()["message"]


def test_method_not_allowed_is_json(read_client):
    response = read_client.delete(f"{T}/model")
    assert response.status_code == 405 and response.json()["error"] == "method_not_allowed"
