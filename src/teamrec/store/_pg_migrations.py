"""The PostgreSQL store's schema, as numbered migrations applied in order, each exactly once.

The same registry and loop as the SQLite store's :mod:`teamrec.store._migrations`
(:mod:`teamrec.store._numbered_migrations`): a migration is a function of a connection
registered with its number, and the numbers applied are recorded in
``schema_migrations`` in the same transaction as the migration itself, so a database is always
at a whole version. Each migration runs under a transaction-level advisory lock, so two
processes opening one new database do not both apply it. Add a migration by appending a
function with the next number; never edit one that has shipped.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import psycopg

from teamrec.store._numbered_migrations import NumberedMigrations

_SCHEMA: NumberedMigrations[psycopg.Connection] = NumberedMigrations(placeholder="%s", float_type="DOUBLE PRECISION")

#: number -> (name, function), applied in increasing order.
MIGRATIONS = _SCHEMA.migrations
migration = _SCHEMA.register
applied = _SCHEMA.applied

#: The advisory lock key every migration transaction takes (any constant, unique to teamrec).
_LOCK_KEY = 0x7465616D726563  # "teamrec"


@migration(1, "events")
def _events(conn: psycopg.Connection) -> None:
    # seq is the store-wide sequence number that since() reads incrementally.
    conn.execute(
        """
        CREATE TABLE events (
            seq         BIGSERIAL PRIMARY KEY,
            team        TEXT NOT NULL CHECK (team <> ''),
            "user"      TEXT NOT NULL CHECK ("user" <> ''),
            item        TEXT NOT NULL CHECK (item <> ''),
            kind        TEXT NOT NULL CHECK (kind <> ''),
            value       DOUBLE PRECISION NOT NULL,
            timestamp   DOUBLE PRECISION,
            received_at DOUBLE PRECISION NOT NULL
        )
        """
    )
    conn.execute("CREATE INDEX events_by_team ON events (team, seq)")


@migration(2, "batches")
def _batches(conn: psycopg.Connection) -> None:
    # One row per stored batch: what arrived when, and the client's id for safe retries.
    conn.execute(
        """
        CREATE TABLE batches (
            id          BIGSERIAL PRIMARY KEY,
            team        TEXT NOT NULL,
            batch_id    TEXT,
            n_events    INTEGER NOT NULL,
            received_at DOUBLE PRECISION NOT NULL,
            UNIQUE (team, batch_id)
        )
        """
    )
    conn.execute("ALTER TABLE events ADD COLUMN batch BIGINT REFERENCES batches (id)")



@migration(3, "impressions and feedback")
def _impressions_feedback(conn: psycopg.Connection) -> None:
    # The experiments' logs (teamrec.store.feedback), as SQLite's migration 3: append-only,
    # apart from the learning events. One row per item shown; one per action, never twice.
    conn.execute(
        """
        CREATE TABLE impressions (
            seq               BIGSERIAL PRIMARY KEY,
            recommendation_id TEXT NOT NULL CHECK (recommendation_id <> ''),
            team              TEXT NOT NULL CHECK (team <> ''),
            person            TEXT NOT NULL CHECK (person <> ''),
            experiment        TEXT,
            arm               TEXT NOT NULL,
            item              TEXT NOT NULL CHECK (item <> ''),
            position          INTEGER NOT NULL CHECK (position >= 1),
            explored          BOOLEAN NOT NULL,
            propensity        DOUBLE PRECISION NOT NULL CHECK (propensity > 0 AND propensity <= 1),
            surface           TEXT,
            shown_at          DOUBLE PRECISION NOT NULL,
            UNIQUE (recommendation_id, item)
        )
        """
    )
    conn.execute("CREATE INDEX impressions_by_team ON impressions (team, experiment, seq)")
    conn.execute(
        """
        CREATE TABLE feedback (
            seq               BIGSERIAL PRIMARY KEY,
            recommendation_id TEXT NOT NULL,
            team              TEXT NOT NULL,
            person            TEXT NOT NULL,
            item              TEXT NOT NULL,
            action            TEXT NOT NULL,
            surface           TEXT,
            at                DOUBLE PRECISION NOT NULL,
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
            first_run   DOUBLE PRECISION NOT NULL
        )
        """
    )

@contextmanager
def _locked(conn: psycopg.Connection) -> Iterator[None]:
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK_KEY,))
        yield


def migrate(conn: psycopg.Connection) -> list[int]:
    """Apply every migration the database lacks; returns the numbers applied now.

    ``conn`` must be in autocommit mode: each migration runs in its own transaction, which
    first takes the migration advisory lock (so concurrent openers wait, then see it applied).
    """
    return _SCHEMA.migrate(conn, _locked)
