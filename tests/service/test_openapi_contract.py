"""The OpenAPI document says what the service does (issue 11): every 4xx of every operation
has the project's error body, reads that need no key do not claim to need one, and the
event rules' bounds are in the schema."""

from __future__ import annotations

from pathlib import Path

from teamrec.data.events import MAX_TIMESTAMP
from teamrec.service import create_app

from .conftest import make_settings


def _document(**changes) -> dict:
    return create_app(make_settings(Path("unused"), **changes)).openapi()


def test_every_4xx_of_every_operation_has_the_projects_error_body():
    doc = _document()
    operations = [(m, p, op) for p, item in doc["paths"].items() for m, op in item.items()]
    assert len(operations) >= 13
    for method, path, op in operations:
        codes = [c for c in op["responses"] if c.startswith("4")]
        assert "414" in codes, (method, path)
        for code in codes:
            schema = op["responses"][code]["content"]["application/json"]["schema"]
            assert schema == {"$ref": "#/components/schemas/ErrorOut"}, (method, path, code)
    assert "HTTPValidationError" not in doc["components"]["schemas"]


def test_reads_declare_an_optional_key_and_writes_a_required_one():
    doc = _document()
    paths = doc["paths"]
    optional = [{}, {"APIKeyHeader": []}]
    assert paths["/api/v1/teams/{team}/people/{user}/recommendations"]["get"]["security"] == optional
    assert paths["/api/v1/teams/{team}/model"]["get"]["security"] == optional
    assert sorted(map(str, paths["/api/v1/teams"]["get"]["security"])) == sorted(map(str, optional))
    assert paths["/api/v1/teams/{team}/events"]["post"]["security"] == [{"APIKeyHeader": []}]
    assert paths["/api/v1/teams/{team}/model/retrain"]["post"]["security"] == [{"APIKeyHeader": []}]
    # With read_keys on, reading needs a key too, and the document says so.
    keyed = _document(read_keys=True)["paths"]
    assert keyed["/api/v1/teams/{team}/model"]["get"]["security"] == [{"APIKeyHeader": []}]


def test_the_timestamp_bounds_are_in_the_schema():
    event = _document()["components"]["schemas"]["EventIn"]["properties"]["timestamp"]
    number, iso = (s for s in event["anyOf"] if s.get("type") in ("number", "string"))
    assert number["minimum"] == 0 and number["maximum"] == MAX_TIMESTAMP
    assert iso["format"] == "date-time" and iso["pattern"].startswith("^(19[7-9]")
