"""The schema a project's migrations build, described for comparison (suite_once.py).

Run from the project, in its environment, with DATABASE_URL naming a database
it may wipe: `python schema_of.py OUTPUT`. It drops every table there (as the
project's tests do), upgrades the database to head with the project's alembic.ini
and writes every table's columns, keys, indexes and
constraints to OUTPUT as JSON, in a stable order.
"""

import asyncio
import json
import os
import sys
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import MetaData, inspect
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine


def describe(connection: Connection) -> dict[str, Any]:
    inspector = inspect(connection)
    return {
        table: {
            "columns": inspector.get_columns(table),
            "primary_key": inspector.get_pk_constraint(table),
            "foreign_keys": sorted(inspector.get_foreign_keys(table), key=str),
            "indexes": sorted(inspector.get_indexes(table), key=str),
            "unique": sorted(inspector.get_unique_constraints(table), key=str),
            "checks": sorted(inspector.get_check_constraints(table), key=str),
        }
        for table in sorted(inspector.get_table_names())
    }


def drop_every_table(connection: Connection) -> None:
    tables = MetaData()
    tables.reflect(connection)
    tables.drop_all(connection)


async def on_database(url: str, function: Any) -> Any:
    engine = create_async_engine(url)
    try:
        async with engine.begin() as connection:
            return await connection.run_sync(function)
    finally:
        await engine.dispose()


if __name__ == "__main__":
    sys.path.insert(0, os.getcwd())  # the project's `app`, for its migrations
    url = os.environ["DATABASE_URL"]
    asyncio.run(on_database(url, drop_every_table))
    command.upgrade(Config("alembic.ini"), "head")
    schema = asyncio.run(on_database(url, describe))
    Path(sys.argv[1]).write_text(json.dumps(schema, indent=1, sort_keys=True, default=str))
