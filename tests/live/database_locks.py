"""Locks taken on the database from outside a served app, for fault_check.py:
each stalls the app's writes to `users`, and tells how many of its connections
wait and how many rows there are.

Plain standard library at import time; asyncpg, in the app's environment, when
a PostgreSQL lock is taken.
"""

import sqlite3
from pathlib import Path
from typing import Any


class DatabaseLock:
    """A lock taken from outside the app that stalls its writes to `users`."""

    async def __aenter__(self) -> None:
        raise NotImplementedError

    async def __aexit__(self, *exc_info: object) -> None:
        raise NotImplementedError

    async def waiting(self) -> int:
        """How many of the app's connections wait on the lock (-1: unknown)."""
        return -1

    async def row_count(self) -> int:
        raise NotImplementedError

    async def app_connections(self) -> int:
        return 0


class PostgresLock(DatabaseLock):
    def __init__(self, dsn: str) -> None:
        self.dsn = dsn
        self.holder: Any = None

    async def __aenter__(self) -> None:
        import asyncpg

        self.holder = await asyncpg.connect(self.dsn)
        self.transaction = self.holder.transaction()
        await self.transaction.start()
        await self.holder.execute("LOCK TABLE users IN ACCESS EXCLUSIVE MODE")

    async def __aexit__(self, *exc_info: object) -> None:
        await self.transaction.rollback()
        await self.holder.close()

    async def _fetch(self, sql: str) -> int:
        import asyncpg

        connection = await asyncpg.connect(self.dsn)
        try:
            value: int = await connection.fetchval(sql)
            return value
        finally:
            await connection.close()

    async def waiting(self) -> int:
        return await self._fetch(
            "SELECT count(*) FROM pg_stat_activity "
            "WHERE datname = current_database() AND wait_event_type = 'Lock'"
        )

    async def row_count(self) -> int:
        return await self._fetch("SELECT count(*) FROM users")

    async def app_connections(self) -> int:
        return await self._fetch(
            "SELECT count(*) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )


class SQLiteLock(DatabaseLock):
    def __init__(self, path: Path) -> None:
        self.path = path

    async def __aenter__(self) -> None:
        # In WAL mode an exclusive transaction stops writers, not readers.
        self.holder = sqlite3.connect(self.path, isolation_level=None)
        self.holder.execute("BEGIN EXCLUSIVE")

    async def __aexit__(self, *exc_info: object) -> None:
        self.holder.execute("ROLLBACK")
        self.holder.close()

    async def row_count(self) -> int:
        with sqlite3.connect(self.path) as connection:
            count: int = connection.execute("SELECT count(*) FROM users").fetchone()[0]
        connection.close()
        return count
