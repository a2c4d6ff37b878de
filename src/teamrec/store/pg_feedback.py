"""The experiments' impressions/feedback log in PostgreSQL, beside the shared event store.

The same contract and tables as :class:`teamrec.store.feedback.SQLiteFeedbackLog` (PostgreSQL
migration 3), for when several service processes share one database: the uniqueness rules
(an item once per recommendation, an action once per shown item, the first fingerprint an
experiment ran with) are the database's own constraints, so they hold across processes too.
A frame is one transaction: all rows or none.
"""

from __future__ import annotations

import logging
import time

import pandas as pd

from teamrec.errors import ConfigError, DataError
from teamrec.store import _pg_migrations
from teamrec.store.feedback import (
    _finish,
    _SQLReads,
)
from teamrec.store.postgres import _first_line, _redact

try:
    import psycopg
    from psycopg_pool import ConnectionPool
except ImportError as exc:  # pragma: no cover - the extra is not installed
    raise ConfigError("the PostgreSQL feedback log needs psycopg 3: pip install 'teamrec[postgres]'") from exc

log = logging.getLogger(__name__)


class PostgresFeedbackLog(_SQLReads):
    """Impressions, feedback and experiment fingerprints in a PostgreSQL database (migrated on open)."""

    _PH = "%s"

    def __init__(self, url: str, *, pool_size: int = 2, timeout: float = 30.0) -> None:
        self._where = _redact(url)
        try:
            with psycopg.connect(url, autocommit=True, connect_timeout=int(timeout)) as conn:
                _pg_migrations.migrate(conn)
        except psycopg.Error as exc:
            raise ConfigError(f"cannot open the PostgreSQL feedback log {self._where}: {_first_line(exc)}") from None
        self._pool = ConnectionPool(url, min_size=1, max_size=max(1, pool_size), timeout=timeout, open=True,
                                    name="teamrec-feedback")

    def _insert(self, table: str, columns: tuple[str, ...], rows: list[tuple], on_conflict: DataError) -> int:
        sql = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join(['%s'] * len(columns))})"
        try:
            with self._pool.connection() as conn, conn.transaction(), conn.cursor() as cur:
                cur.executemany(sql, rows)
        except psycopg.errors.UniqueViolation:
            raise on_conflict from None
        except psycopg.Error as exc:
            raise DataError(f"not stored: {_first_line(exc)}", file=table) from None
        return len(rows)

    def _select(self, sql: str, args: tuple, columns: tuple[str, ...]) -> pd.DataFrame:
        try:
            with self._pool.connection() as conn:
                rows = conn.execute(sql, args).fetchall()
        except psycopg.Error as exc:
            raise DataError(f"cannot read the feedback log: {_first_line(exc)}", file=self._where) from None
        return _finish(pd.DataFrame.from_records(rows, columns=list(columns)), columns)

    def running_fingerprint(self, name: str) -> str | None:
        with self._pool.connection() as conn:
            row = conn.execute("SELECT fingerprint FROM experiments WHERE name = %s", (name,)).fetchone()
        return None if row is None else str(row[0])

    def record_fingerprint(self, name: str, fingerprint: str) -> str:
        with self._pool.connection() as conn, conn.transaction():
            conn.execute("INSERT INTO experiments (name, fingerprint, first_run) VALUES (%s, %s, %s) "
                         "ON CONFLICT (name) DO NOTHING", (name, fingerprint, time.time()))
            row = conn.execute("SELECT fingerprint FROM experiments WHERE name = %s", (name,)).fetchone()
        assert row is not None  # inserted above, or there already
        return str(row[0])

    def close(self) -> None:
        self._pool.close()

    def __repr__(self) -> str:
        return f"PostgresFeedbackLog({self._where!r})"
