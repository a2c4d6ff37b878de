"""A team whose algorithm is ``auto``: ``/model`` shows what was chosen and the validation
figures behind it, and a full retrain searches again on the data it has then."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pandas as pd
import pytest
from tests.service.conftest import TestClient

from teamrec.data.dataset import Dataset
from teamrec.service import Settings, create_app
from teamrec.store import MemoryEventStore

KEY = {"X-API-Key": "initech-admin-key-0123456789"}
M = "/api/v1/teams/initech/model"


def initech_dataset() -> Dataset:
    """30 people in 12 channels, in two cliques (enough entries to validate a choice on)."""
    rng = np.random.default_rng(3)
    rows = [(f"u{u}", f"C{c}") for u in range(30) for c in range(12)
            if rng.random() < (0.7 if (c < 6) == (u < 15) else 0.1)]
    events = pd.DataFrame({"team": "initech", "user": [u for u, _ in rows], "item": [c for _, c in rows],
                           "kind": "member", "value": 1.0, "timestamp": 1.7e9})
    items = pd.DataFrame({"team": "initech", "item": [f"C{c}" for c in range(12)],
                          "name": [f"channel-{c}" for c in range(12)], "description": "", "private": False,
                          "archived": False})
    return Dataset(events=events, items=items, users=None, info={"format": "csv"})


@pytest.fixture
def client(tmp_path) -> Iterator[TestClient]:
    source = initech_dataset().save(tmp_path / "initech")
    settings = Settings.model_validate({
        "mode": "production",
        "database": "memory:",
        "teams": {"initech": {"source": str(source), "matrix": {"kinds": ["member"], "binary": True},
                              "algorithm": "auto",
                              "params": {"candidates": ["popularity", "item-knn", "rp3beta"],
                                         "budget_seconds": 5}}},
        "keys": [{"team": "initech", "key": KEY["X-API-Key"], "scopes": ["admin"]}],
    })
    with TestClient(create_app(settings, store=MemoryEventStore()), raise_server_exceptions=False) as client:
        yield client


def test_model_shows_the_choice_and_a_retrain_chooses_again(client):
    body = client.get(M, headers=KEY).json()
    assert body["algorithm"] == "auto"
    choice = body["choice"]
    tried = {row["algorithm"] for row in choice["validation"]}
    assert {"popularity", "item-knn", "rp3beta"} <= tried
    assert choice["metric"] == "ndcg@10" and choice["algorithm"] in tried | {"blend"}
    best = max(row["ndcg@10"] for row in choice["validation"])
    assert choice["value"] <= best and 0 < choice["value"] <= 1
    # new members change the data: a full retrain searches again and its figures move
    events = [{"user": f"u{u}", "item": f"C{c}", "kind": "member", "value": 1, "timestamp": 1.8e9}
              for u in range(15) for c in range(6, 12)]
    assert client.post("/api/v1/teams/initech/events", json={"events": events}, headers=KEY).status_code == 201
    after = client.post(f"{M}/retrain", headers=KEY).json()
    assert after["model_version"] == 2
    assert after["choice"]["validation"] != choice["validation"]
    assert client.get(M, headers=KEY).json()["choice"] == after["choice"]


def test_other_algorithms_have_no_choice():
    settings = Settings.model_validate({"mode": "production", "database": "memory:",
                                        "teams": {"demo": {"format": "demo"}},
                                        "keys": [{"team": "demo", "key": KEY["X-API-Key"], "scopes": ["admin"]}]})
    with TestClient(create_app(settings, store=MemoryEventStore())) as other:
        assert other.get("/api/v1/teams/demo/model", headers=KEY).json()["choice"] is None
