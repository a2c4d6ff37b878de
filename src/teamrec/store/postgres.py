"""The shared event store: PostgreSQL through psycopg 3 and a connection pool.

Same contract as the embedded SQLite store (:mod:`teamrec.store.base`), for when several
service processes, or a service and a batch job, share one set of events:

* a batch is one transaction, committed (and, with PostgreSQL's default
  ``synchronous_commit=on``, flushed to the WAL on disk) before :meth:`append` returns;
* ``batch_id`` is unique per team in the database itself (``ON CONFLICT DO NOTHING``), so a
  retried batch is stored once even when two processes receive it at the same moment;
* every event has a store-wide sequence number (a ``bigserial``); :meth:`since` reads a team's
  events after a sequence number, which is how a service catches up with what other
  processes stored. Appends to one team take a per-team advisory lock before drawing their
  sequence numbers, so a team's numbers are handed out in commit order and a reader that has
  seen number *n* of a team can never later find a smaller one appear (the classic hole of
  incremental reads over a sequence with concurrent writers).

Writes send whole columns as arrays (one ``INSERT ... SELECT FROM unnest``), reads stream
``COPY ... TO STDOUT`` into pandas' CSV parser: no per-row Python on either path.

Install with the ``postgres`` extra: ``pip install 'teamrec[postgres]'``.
"""

from __future__ import annotations

import io
import logging
import time

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pa_csv

from teamrec.data.events import EVENT_COLUMNS, empty_events, normalize_events
from teamrec.errors import ConfigError, DataError
from teamrec.store.base import AppendResult, prepare

try:
    import psycopg
    from psycopg_pool import ConnectionPool
except ImportError as exc:  # pragma: no cover - the extra is not installed
    raise ConfigError(
        "the PostgreSQL event store needs psycopg 3 and psycopg-pool: pip install 'teamrec[postgres]'"
    ) from exc

from teamrec.store import _pg_migrations

log = logging.getLogger(__name__)

_COLUMNS_SQL = 'team, "user", item, kind, value, timestamp'
_INSERT = (
    'INSERT INTO events (team, "user", item, kind, value, timestamp, received_at, batch) '
    "SELECT %(team)s, u, i, k, v, NULLIF(t, 'NaN'::float8), %(now)s, %(batch)s "
    "FROM unnest(%(user)s::text[], %(item)s::text[], %(kind)s::text[], %(value)s::float8[], %(ts)s::float8[]) "
    "WITH ORDINALITY AS b(u, i, k, v, t, n) ORDER BY n"
)


def _redact(url: str) -> str:
    """The URL without its password, for messages and repr."""
    try:
        info = psycopg.conninfo.conninfo_to_dict(url)
    except psycopg.ProgrammingError:
        return "postgresql://?"
    host = info.get("host", "")
    port = info.get("port", "")
    return f"postgresql://{info.get('user', '')}@{host}{':' + str(port) if port else ''}/{info.get('dbname', '')}"


class PostgresEventStore:
    """Events in a PostgreSQL database (schema created and migrated on open).

    ``url`` is a libpq connection string or URL (``postgresql://user:pass@host:5432/db``);
    ``pool_size`` bounds the connections this process holds (the service's threads share them).
    """

    def __init__(self, url: str, *, pool_size: int = 4, timeout: float = 30.0) -> None:
        self.url = url
        self._where = _redact(url)
        try:
            with psycopg.connect(url, autocommit=True, connect_timeout=int(timeout)) as conn:
                self.migrations_applied = _pg_migrations.migrate(conn)
        except psycopg.Error as exc:
            raise ConfigError(f"cannot open the PostgreSQL event store {self._where}: {_first_line(exc)}") from None
        self._pool = ConnectionPool(
            url, min_size=1, max_size=max(1, pool_size), timeout=timeout, open=True, name="teamrec-events"
        )

    @property
    def schema_version(self) -> int:
        with self._pool.connection() as conn:
            return max(_pg_migrations.applied(conn), default=0)

    # -- writes ----------------------------------------------------------------------------
    def append(self, team: str, events: pd.DataFrame, *, batch_id: str | None = None) -> AppendResult:
        frame = prepare(team, events)
        now = time.time()
        try:
            with self._pool.connection() as conn, conn.transaction():
                # One writer per team at a time: the team's sequence numbers follow commit order.
                conn.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", (team,))
                row = conn.execute(
                    "INSERT INTO batches (team, batch_id, n_events, received_at) VALUES (%s, %s, %s, %s) "
                    "ON CONFLICT (team, batch_id) DO NOTHING RETURNING id",
                    (team, batch_id, len(frame), now),
                ).fetchone()
                if row is None:  # this team already stored a batch with this id
                    return AppendResult(stored=0, total=self._count(conn, team), duplicate=True)
                if len(frame):
                    conn.execute(
                        _INSERT,
                        {
                            "team": team,
                            "now": now,
                            "batch": row[0],
                            "user": frame["user"].tolist(),
                            "item": frame["item"].tolist(),
                            "kind": frame["kind"].tolist(),
                            "value": frame["value"].to_numpy(dtype=np.float64).tolist(),
                            "ts": frame["timestamp"].to_numpy(dtype=np.float64).tolist(),
                        },
                    )
                total = self._count(conn, team)
        except psycopg.Error as exc:
            raise DataError(f"the batch was not stored: {_first_line(exc)}", file=self._where) from None
        return AppendResult(stored=len(frame), total=total)

    # -- reads -----------------------------------------------------------------------------
    def events(self, team: str) -> pd.DataFrame:
        frame, _ = self._read(team, None)
        return frame

    def since(self, team: str, sequence: int = 0) -> tuple[pd.DataFrame, int]:
        """The team's events stored after store-wide sequence number ``sequence``, oldest
        first, and the new high-water mark (the largest sequence returned, or ``sequence``)."""
        frame, last = self._read(team, int(sequence))
        return frame, sequence if last is None else last

    def _read(self, team: str, after: int | None) -> tuple[pd.DataFrame, int | None]:
        where = "team = %s" if after is None else "team = %s AND seq > %s"
        params = (team,) if after is None else (team, after)
        query = f"COPY (SELECT {_COLUMNS_SQL}, seq FROM events WHERE {where} ORDER BY seq) TO STDOUT (FORMAT csv)"
        buffer = io.BytesIO()
        try:
            with self._pool.connection() as conn, conn.cursor() as cur, cur.copy(query, params) as copy:
                for block in copy:
                    buffer.write(block)
        except psycopg.Error as exc:
            raise DataError(f"cannot read events: {_first_line(exc)}", file=self._where) from None
        if buffer.tell() == 0:
            return empty_events(), None
        buffer.seek(0)
        # Text columns stay text ("NA" is an id, not a missing value); an unquoted empty
        # timestamp is SQL NULL (NaN); Arrow parses PostgreSQL's shortest exact floats exactly.
        names = [*EVENT_COLUMNS, "seq"]
        types = {"team": pa.string(), "user": pa.string(), "item": pa.string(), "kind": pa.string(),
                 "value": pa.float64(), "timestamp": pa.float64(), "seq": pa.int64()}
        table = pa_csv.read_csv(
            buffer,
            read_options=pa_csv.ReadOptions(column_names=names, use_threads=False),
            parse_options=pa_csv.ParseOptions(newlines_in_values=True),
            convert_options=pa_csv.ConvertOptions(column_types=types, null_values=[""], strings_can_be_null=False,
                                                  quoted_strings_can_be_null=False),
        )
        frame = table.to_pandas()
        last = int(frame["seq"].iloc[-1])
        return normalize_events(frame.drop(columns="seq"), source=self._where), last

    @staticmethod
    def _count(conn: psycopg.Connection, team: str) -> int:
        return _scalar(conn.execute("SELECT count(*) FROM events WHERE team = %s", (team,)).fetchone())

    def count(self, team: str | None = None) -> int:
        with self._pool.connection() as conn:
            if team is not None:
                return self._count(conn, team)
            return _scalar(conn.execute("SELECT count(*) FROM events").fetchone())

    def teams(self) -> list[str]:
        with self._pool.connection() as conn:
            return [r[0] for r in conn.execute("SELECT DISTINCT team FROM events ORDER BY team")]

    def close(self) -> None:
        self._pool.close()

    def __repr__(self) -> str:
        return f"PostgresEventStore({self._where!r})"


def _scalar(row: tuple | None) -> int:
    return int(row[0]) if row else 0


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
