"""Direct work on the test database, below the application."""

import asyncio
import functools
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Connection, MetaData, pool, select, text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from app.models import metadata

ALEMBIC_INI = Path(__file__).parent.parent / "alembic.ini"

T = TypeVar("T")


def run(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine from a synchronous test or fixture."""
    return asyncio.run(coroutine)


@functools.cache
def engine_for(database_url: str) -> AsyncEngine:
    # One engine per database for the run: it learns the server once, and
    # without a pool (NullPool) it keeps no connection tied to the event loop
    # of the test that opened it.
    return create_async_engine(database_url, poolclass=pool.NullPool)


async def run_sync(database_url: str, function: Callable[[Connection], T]) -> T:
    """Call `function` with a connection to the database, in one transaction."""
    async with engine_for(database_url).begin() as connection:
        return await connection.run_sync(function)


async def execute(database_url: str, *statements: str) -> list[Any]:
    """Run SQL statements in one transaction; the first column of the last
    one's rows."""

    def run_all(connection: Connection) -> list[Any]:
        rows: list[Any] = []
        for statement in statements:
            result = connection.execute(text(statement))
            rows = list(result.scalars()) if result.returns_rows else []
        return rows

    return await run_sync(database_url, run_all)


async def drop_all_tables(database_url: str) -> None:
    def drop(connection: Connection) -> None:
        existing = MetaData()
        existing.reflect(connection)
        existing.drop_all(connection)

    await run_sync(database_url, drop)


async def delete_all_rows(database_url: str) -> None:
    def delete(connection: Connection) -> None:
        for table in reversed(metadata.sorted_tables):
            connection.execute(table.delete())

    await run_sync(database_url, delete)


async def column_values(database_url: str, table: str, column: str) -> list[Any]:
    """A column of every row of a table, in the order of the primary key."""

    def read(connection: Connection) -> list[Any]:
        columns = metadata.tables[table].c
        query = select(columns[column]).order_by(*metadata.tables[table].primary_key)
        return list(connection.scalars(query))

    return await run_sync(database_url, read)
