"""The schema a project's migrations build, described for comparison (suite_once.py).

Run from the project, in its environment, with DATABASE_URL naming a database
it may wipe: `python schema_of.py OUTPUT`. With the project's own test helpers
(tests/schema.py) it drops every table there, upgrades the database to head with
the project's alembic.ini and writes every table's columns, keys, indexes and
constraints to OUTPUT as JSON, in a stable order.
"""

import json
import os
import sys
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import inspect
from sqlalchemy.engine import Connection


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


if __name__ == "__main__":
    sys.path.insert(0, os.getcwd())  # the project's `app` and `tests`
    from tests.schema import drop_all_tables, run, run_sync

    url = os.environ["DATABASE_URL"]
    run(drop_all_tables(url))
    command.upgrade(Config("alembic.ini"), "head")
    schema = run(run_sync(url, describe))
    Path(sys.argv[1]).write_text(json.dumps(schema, indent=1, sort_keys=True, default=str))
