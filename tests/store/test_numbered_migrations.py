"""The numbered-migration registry both SQL backends share (teamrec.store._numbered_migrations),
on SQLite with the SQLite store's own transaction: numbers refused twice, each migration applied
once and recorded, and a failing migration leaving neither its changes nor its record."""

from __future__ import annotations

import sqlite3

import pytest

from teamrec.store import _migrations
from teamrec.store._numbered_migrations import NumberedMigrations


def _registry() -> NumberedMigrations[sqlite3.Connection]:
    return NumberedMigrations(placeholder="?", float_type="REAL")


def test_a_number_is_registered_once():
    schema = _registry()
    schema.register(1, "first")(lambda conn: None)
    with pytest.raises(ValueError, match="migration 1 is defined twice"):
        schema.register(1, "again")(lambda conn: None)


def test_each_migration_is_applied_once_in_order_and_recorded():
    schema = _registry()
    order: list[int] = []

    @schema.register(2, "second")
    def _second(conn: sqlite3.Connection) -> None:
        order.append(2)
        conn.execute("ALTER TABLE t ADD COLUMN b TEXT")

    @schema.register(1, "first")
    def _first(conn: sqlite3.Connection) -> None:
        order.append(1)
        conn.execute("CREATE TABLE t (a INTEGER)")

    conn = sqlite3.connect(":memory:", isolation_level=None)
    assert schema.migrate(conn, _migrations._immediate) == [1, 2]
    assert schema.migrate(conn, _migrations._immediate) == []
    assert order == [1, 2] and schema.applied(conn) == [1, 2]
    names = conn.execute("SELECT version, name FROM schema_migrations ORDER BY version").fetchall()
    assert names == [(1, "first"), (2, "second")]


def test_a_failing_migration_leaves_nothing_half_applied():
    schema = _registry()

    @schema.register(1, "half")
    def _half(conn: sqlite3.Connection) -> None:
        conn.execute("CREATE TABLE t (a INTEGER)")
        raise RuntimeError("disk on fire")

    conn = sqlite3.connect(":memory:", isolation_level=None)
    with pytest.raises(RuntimeError, match="disk on fire"):
        schema.migrate(conn, _migrations._immediate)
    assert schema.applied(conn) == []
    tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert "t" not in tables
