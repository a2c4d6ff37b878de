"""A throwaway PostgreSQL server on loopback, for tests and benchmarks.

:class:`LocalPostgres` runs Debian's (or any) PostgreSQL binaries -- ``initdb`` and ``pg_ctl``
-- on a fresh data folder in a temporary directory, on a free port of 127.0.0.1 with trust
authentication, and removes everything on :meth:`stop`. ``initdb`` refuses to run as root, so
as root the server runs as the ``postgres`` system user (created by Debian's package) through
``runuser``. Not for production: trust authentication, and ``fsync=off`` unless asked.

Binaries are found from ``$TEAMREC_PG_BIN``, then ``pg_config --bindir``, then the newest
``/usr/lib/postgresql/*/bin``, then ``$PATH``.
"""

from __future__ import annotations

import contextlib
import glob
import logging
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

from teamrec.errors import ConfigError

log = logging.getLogger(__name__)


def find_bindir() -> Path:
    """The folder holding ``initdb`` and ``pg_ctl``; :class:`ConfigError` when there is none."""
    candidates: list[str] = []
    if os.environ.get("TEAMREC_PG_BIN"):
        candidates.append(os.environ["TEAMREC_PG_BIN"])
    pg_config = shutil.which("pg_config")
    if pg_config:
        with contextlib.suppress(OSError, subprocess.CalledProcessError):
            candidates.append(subprocess.run([pg_config, "--bindir"], check=True, capture_output=True,
                                             text=True).stdout.strip())

    def version(path: str) -> tuple[int, ...]:
        name = Path(path).parent.name
        return tuple(int(p) for p in name.split(".") if p.isdigit())

    candidates += sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=version, reverse=True)
    initdb = shutil.which("initdb")
    if initdb:
        candidates.append(str(Path(initdb).parent))
    for folder in candidates:
        if (Path(folder) / "initdb").exists() and (Path(folder) / "pg_ctl").exists():
            return Path(folder)
    raise ConfigError("PostgreSQL server binaries (initdb, pg_ctl) not found: apt-get install postgresql")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class LocalPostgres:
    """One PostgreSQL server in a temporary folder; :meth:`start`, :meth:`url`, :meth:`stop`."""

    def __init__(self, *, user: str = "teamrec", fsync: bool = False, os_user: str = "postgres") -> None:
        self.bindir = find_bindir()
        self.user = user
        self.fsync = fsync
        self.port = 0
        self._root: Path | None = None
        self._as: list[str] = []
        if os.geteuid() == 0:
            try:
                pwd.getpwnam(os_user)
            except KeyError:
                raise ConfigError(f"running as root and there is no {os_user!r} user to run PostgreSQL as") from None
            self._as = ["runuser", "-u", os_user, "--"]
            self._os_user = os_user

    def _run(self, *args: str) -> None:
        result = subprocess.run([*self._as, *args], capture_output=True, text=True)
        if result.returncode != 0:
            raise ConfigError(f"{Path(args[0]).name} failed: {(result.stderr or result.stdout).strip()[-500:]}")

    def start(self) -> LocalPostgres:
        self._root = Path(tempfile.mkdtemp(prefix="teamrec-pg-"))
        data = self._root / "data"
        if self._as:
            entry = pwd.getpwnam(self._os_user)
            os.chown(self._root, entry.pw_uid, entry.pw_gid)
        self._run(str(self.bindir / "initdb"), "-D", str(data), "-U", self.user, "--auth=trust",
                  "-E", "UTF8", "--locale=C", "--no-sync")
        self.port = free_port()
        options = (f"-p {self.port} -c listen_addresses=127.0.0.1 -c unix_socket_directories={self._root} "
                   f"-c fsync={'on' if self.fsync else 'off'} -c max_connections=100")
        self._run(str(self.bindir / "pg_ctl"), "-D", str(data), "-o", options, "-l", str(self._root / "log"),
                  "-w", "-t", "60", "start")
        log.info("PostgreSQL %s started on port %d", self.bindir, self.port)
        return self

    def url(self, dbname: str = "postgres") -> str:
        return f"postgresql://{self.user}@127.0.0.1:{self.port}/{dbname}"

    def create_database(self, name: str) -> str:
        """Create an empty database ``name``; returns its URL."""
        import psycopg

        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def stop(self) -> None:
        if self._root is None:
            return
        with contextlib.suppress(ConfigError):
            self._run(str(self.bindir / "pg_ctl"), "-D", str(self._root / "data"), "-m", "immediate", "-w", "stop")
        shutil.rmtree(self._root, ignore_errors=True)
        self._root = None

    def __enter__(self) -> LocalPostgres:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
