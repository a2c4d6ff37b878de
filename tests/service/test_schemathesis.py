"""The API as published (issue 11): Schemathesis drives every operation of the OpenAPI
document against the app, in process, without a key and with the team's admin key, and
every response must conform (status codes and error bodies as documented, no 5xx, invalid
input refused, auth declared as it is enforced). Examples are bounded to keep it quick."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest

schemathesis = pytest.importorskip("schemathesis")

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from schemathesis import GenerationMode  # noqa: E402

from teamrec.service import create_app  # noqa: E402
from teamrec.store import MemoryEventStore  # noqa: E402

from .conftest import AUTH, TestClient, make_settings  # noqa: E402

#: Every operation of the published document (it does not depend on the teams' data).
OPERATIONS = [
    (method.upper(), path)
    for path, item in create_app(make_settings(Path("unused"))).openapi()["paths"].items()
    for method in item
]
EXAMPLES = settings(max_examples=20, deadline=None, derandomize=True, database=None,
                    suppress_health_check=list(HealthCheck))


@pytest.fixture(scope="module")
def api_schema(globex_dir) -> Iterator[object]:
    # No background refits while batches are fuzzed in.
    # (A long enough URL limit that Schemathesis's long lists meet the 422 of the list caps;
    # the 414 of the URL cap is tested in test_guard.)
    app = create_app(make_settings(globex_dir, online={"refit_events": 0, "refit_seconds": None},
                                   max_url_bytes=1_000_000), store=MemoryEventStore())
    with TestClient(app):  # runs the lifespan: the models are in service while Schemathesis calls
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield schemathesis.openapi.from_asgi("/openapi.json", app)


@pytest.mark.parametrize("key", [None, "demo-admin"], ids=["no-key", "admin-key"])
@pytest.mark.parametrize("method, path", OPERATIONS, ids=[f"{m} {p}" for m, p in OPERATIONS])
def test_every_operation_conforms(api_schema, method, path, key):
    operation = api_schema[path][method]
    headers = AUTH[key] if key else None

    strategies = [operation.as_strategy(), operation.as_strategy(GenerationMode.NEGATIVE)]
    if "{team}" in path:  # valid data about a team, person and item that exist, not only 404s
        known = {"team": "demo", "user": "U0103", "item": "C0106"}
        strategies.append(operation.as_strategy(path_parameters={k: v for k, v in known.items() if f"{{{k}}}" in path}))

    @given(case=st.one_of(*strategies))
    @EXAMPLES
    def run(case) -> None:
        case.call_and_validate(headers=headers)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        run()
