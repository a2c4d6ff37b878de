"""The SQLite store's schema, as numbered migrations applied in order, each exactly once.

A migration is a function of a connection, registered with its number; the numbers applied
are recorded in ``schema_migrations`` in the same transaction as the migration itself, so
a database is always at a whole version (the registry and the loop are
:mod:`teamrec.store._numbered_migrations`, shared with PostgreSQL). Add a migration by
appending a function with the next number; never edit one that has shipped.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager

from teamrec.store._numbered_migrations import NumberedMigrations

_SCHEMA: NumberedMigrations[sqlite3.Connection] = NumberedMigrations(placeholder="?", float_type="REAL")

#: number -> (name, function), applied in increasing order.
MIGRATIONS = _SCHEMA.migrations
migration = _SCHEMA.register
applied = _SCHEMA.applied


@migration(1, "events")
def _events(conn: sqlite3.Connection) -> None:
    conn.execute(
        """
        CREATE TABLE events (
            seq         INTEGER PRIMARY KEY AUTOINCREMENT,
            team        TEXT NOT NULL CHECK (team <> ''),
            user        TEXT NOT NULL CHECK (user <> ''),
            item        TEXT NOT NULL CHECK (item <> ''),
            kind        TEXT NOT NULL CHECK (kind <> ''),
            value       REAL NOT NULL,
            timestamp   REAL,
            received_at REAL NOT NULL
        )
        """
    )
    conn.execute("CREATE INDEX events_by_team ON events (team, seq)")


@migration(2, "batches")
def _batches(conn: sqlite3.Connection) -> None:
    # One row per stored batch: what arrived when, and the client's id for safe retries.
    conn.execute(
        """
        CREATE TABLE batches (
            id          INTEGER PRIMARY KEY AUTOINCREMENT,
            team        TEXT NOT NULL,
            batch_id    TEXT,
            n_events    INTEGER NOT NULL,
            received_at REAL NOT NULL,
            UNIQUE (team, batch_id)
        )
        """
    )
    conn.execute("ALTER TABLE events ADD COLUMN batch INTEGER REFERENCES batches (id)")



@migration(3, "impressions and feedback")
def _impressions_feedback(conn: sqlite3.Connection) -> None:
    # The experiments' logs (teamrec.store.feedback): append-only, apart from the learning
    # events. One row per item shown; one row per action on a shown item, never twice.
    conn.execute(
        """
        CREATE TABLE impressions (
            seq               INTEGER PRIMARY KEY AUTOINCREMENT,
            recommendation_id TEXT NOT NULL CHECK (recommendation_id <> ''),
            team              TEXT NOT NULL CHECK (team <> ''),
            person            TEXT NOT NULL CHECK (person <> ''),
            experiment        TEXT,
            arm               TEXT NOT NULL,
            item              TEXT NOT NULL CHECK (item <> ''),
            position          INTEGER NOT NULL CHECK (position >= 1),
            explored          INTEGER NOT NULL,
            propensity        REAL NOT NULL CHECK (propensity > 0 AND propensity <= 1),
            surface           TEXT,
            shown_at          REAL NOT NULL,
            UNIQUE (recommendation_id, item)
        )
        """
    )
    conn.execute("CREATE INDEX impressions_by_team ON impressions (team, experiment, seq)")
    conn.execute(
        """
        CREATE TABLE feedback (
            seq               INTEGER PRIMARY KEY AUTOINCREMENT,
            recommendation_id TEXT NOT NULL,
            team              TEXT NOT NULL,
            person            TEXT NOT NULL,
            item              TEXT NOT NULL,
            action            TEXT NOT NULL,
            surface           TEXT,
            at                REAL NOT NULL,
            UNIQUE (recommendation_id, item, action)
        )
        """
    )
    conn.execute("CREATE INDEX feedback_by_team ON feedback (team, seq)")
    conn.execute(
        """
        CREATE TABLE experiments (
            name        TEXT PRIMARY KEY,
            fingerprint TEXT NOT NULL,
            first_run   REAL NOT NULL
        )
        """
    )


@contextmanager
def _immediate(conn: sqlite3.Connection) -> Iterator[None]:
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise


def migrate(conn: sqlite3.Connection) -> list[int]:
    """Apply every migration the database lacks; returns the numbers applied now.

    ``conn`` must be in autocommit mode (``isolation_level=None``): each migration runs in its
    own ``BEGIN IMMEDIATE`` transaction, so two processes opening one new database do not
    both apply it.
    """
    return _SCHEMA.migrate(conn, _immediate)
