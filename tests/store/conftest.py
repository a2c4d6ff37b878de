"""A real PostgreSQL server for the store tests: started once per session, one fresh
database per test (see :mod:`teamrec.store.pg_local`)."""

from __future__ import annotations

import itertools

import pytest

from teamrec.errors import ConfigError

_names = itertools.count()


@pytest.fixture(scope="session")
def postgres_server():
    from teamrec.store.pg_local import LocalPostgres

    try:
        server = LocalPostgres().start()
    except ConfigError as exc:
        pytest.fail(f"cannot start PostgreSQL for the store tests ({exc}); .ci/run installs it")
    yield server
    server.stop()


@pytest.fixture
def postgres_url(postgres_server) -> str:
    """The URL of a new, empty database on the session's server."""
    return postgres_server.create_database(f"t{next(_names)}")
