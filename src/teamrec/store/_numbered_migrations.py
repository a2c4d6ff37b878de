"""Numbered schema migrations, the part every SQL backend shares (sqlite-utils' habit).

A backend's schema module (:mod:`teamrec.store._migrations` for SQLite,
:mod:`teamrec.store._pg_migrations` for PostgreSQL) makes one :class:`NumberedMigrations`,
registers its migrations with the decorator, and applies them with :meth:`~NumberedMigrations.migrate`,
giving the transaction its database needs (SQLite's ``BEGIN IMMEDIATE``, PostgreSQL's
advisory lock): each migration runs in its own transaction, which also records its number in
``schema_migrations``, so a database is always at a whole version and two processes opening
one new database do not both apply a migration. What differs between the backends -- the
placeholder style, the float column type, how a transaction is taken -- is a parameter here.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any, Generic, Protocol, TypeVar


class Connection(Protocol):
    """What the migrations use of a DB-API-like connection (sqlite3 and psycopg both fit)."""

    def execute(self, query: Any, params: Any = ..., /) -> Any: ...


ConnT = TypeVar("ConnT", bound=Connection)


class NumberedMigrations(Generic[ConnT]):
    """One backend's migrations: ``number -> (name, function of a connection)``."""

    def __init__(self, *, placeholder: str, float_type: str) -> None:
        #: number -> (name, function), applied in increasing order.
        self.migrations: dict[int, tuple[str, Callable[[ConnT], None]]] = {}
        self._create_record = (
            "CREATE TABLE IF NOT EXISTS schema_migrations "
            f"(version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at {float_type} NOT NULL)"
        )
        self._insert_record = (
            f"INSERT INTO schema_migrations (version, name, applied_at) VALUES ({', '.join([placeholder] * 3)})"
        )

    def register(self, number: int, name: str) -> Callable[[Callable[[ConnT], None]], Callable[[ConnT], None]]:
        """Decorator: register a function of a connection as migration ``number``."""

        def register(func: Callable[[ConnT], None]) -> Callable[[ConnT], None]:
            if number in self.migrations:
                raise ValueError(f"migration {number} is defined twice")
            self.migrations[number] = (name, func)
            return func

        return register

    def applied(self, conn: ConnT) -> list[int]:
        """The migration numbers recorded in the database (creating the record table if needed)."""
        conn.execute(self._create_record)
        return [row[0] for row in conn.execute("SELECT version FROM schema_migrations ORDER BY version")]

    def migrate(self, conn: ConnT, transaction: Callable[[ConnT], AbstractContextManager[object]]) -> list[int]:
        """Apply every migration the database lacks, each inside ``transaction(conn)`` (which
        commits on a normal exit and rolls back on an exception); returns the numbers applied now."""
        done_now = []
        for number in sorted(self.migrations):
            name, func = self.migrations[number]
            with transaction(conn):
                if number in self.applied(conn):
                    continue
                func(conn)
                conn.execute(self._insert_record, (number, name, time.time()))
            done_now.append(number)
        return done_now
