"""The PostgreSQL databases of a nox run: TEST_DATABASE_URL's when it is set,
otherwise one throwaway server, started on first need and removed at exit."""

from __future__ import annotations

import atexit
import os
import subprocess
import threading
from collections.abc import Callable
from pathlib import Path

from postgres_server import PostgresServer, find_binaries

NO_SERVER = (
    "The PostgreSQL variants need a database: set TEST_DATABASE_URL="
    "postgresql+asyncpg://USER:PASSWORD@HOST:PORT/DB (a database the tests may "
    "wipe), or install the PostgreSQL server binaries (e.g. `apt-get install "
    "postgresql`) so a throwaway server can run."
)
NO_BINARIES_FOR_FAULTS = (
    "The fault check stops and restarts a PostgreSQL server of its own: install "
    "the PostgreSQL server binaries (e.g. `apt-get install postgresql`), even "
    "when TEST_DATABASE_URL names a server."
)


class NoPostgres(Exception):
    """No database can be had; the message says what to install or set."""


def external_url() -> str | None:
    """TEST_DATABASE_URL: the one database there is, when it is set."""
    return os.environ.get("TEST_DATABASE_URL") or None


def server_binaries() -> Path:
    binaries = find_binaries()
    if binaries is None:
        raise NoPostgres(NO_BINARIES_FOR_FAULTS)
    return binaries


class ThrowawayPostgres:
    """One server for the run, with a database per purpose."""

    def __init__(self, log: Callable[[str], None] = print) -> None:
        self.server: PostgresServer | None = None
        self.log = log
        self.created: set[str] = set()
        self._lock = threading.Lock()

    @property
    def port(self) -> int:
        assert self.server is not None
        return self.server.port

    def fresh(self, name: str) -> str:
        """An empty database `name` (TEST_DATABASE_URL when that is set)."""
        if url := external_url():
            return url
        with self._lock:
            self._start()
            assert self.server is not None
            psql = [
                str(self.server.binaries / "psql"), "-h", "127.0.0.1",
                "-p", str(self.server.port), "-U", "postgres", "-q",
            ]
            for sql in (
                f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)', f'CREATE DATABASE "{name}"'
            ):
                subprocess.run(
                    [*psql, "-c", sql], check=True,
                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                )
            self.created.add(name)
            return self.server.url(name)

    def kept(self, name: str) -> str:
        """The database `name`, created on first need and kept after that."""
        if url := external_url():
            return url
        with self._lock:
            known = name in self.created and self.server is not None
        return self.server.url(name) if known and self.server else self.fresh(name)

    def _start(self) -> None:
        if self.server is not None:
            return
        binaries = find_binaries()
        if binaries is None:
            raise NoPostgres(NO_SERVER)
        self.server = PostgresServer(binaries)
        atexit.register(self.server.remove)
        self.log(f"Starting a throwaway PostgreSQL on port {self.server.port}")
        self.server.start()


POSTGRES = ThrowawayPostgres()
