import asyncio
import logging
from functools import cache
from pathlib import Path

from alembic.script import ScriptDirectory
from fastapi import APIRouter, Request, Response, status

from app.database import Database
from app.schemas import Health, Liveness

router = APIRouter(tags=["health"])
logger = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).resolve().parents[2] / "migrations"
UPGRADE = "run `alembic upgrade head`"


@router.get("/health/live")
async def live() -> Liveness:
    """Liveness: the process answers requests. The database is not asked, so
    an outage makes replicas unready (/health), never restarted."""
    return Liveness(status="ok")


@router.get(
    "/health",
    responses={
        status.HTTP_503_SERVICE_UNAVAILABLE: {
            "model": Health,
            "description": "The database cannot be reached, or its schema is "
            "behind the migrations",
        }
    },
)
async def health(request: Request, response: Response) -> Health:
    """Readiness: whether the service can serve, by a round trip to the
    database, which names the revisions its schema is at."""
    database: Database = request.app.state.database
    try:
        async with asyncio.timeout(database.timeout):
            problem = await schema_problem(database)
    except Exception as error:  # any failure means "unavailable", never a 500
        logger.warning("Health check failed: %r", error)
        response.status_code = status.HTTP_503_SERVICE_UNAVAILABLE
        # The error's class tells an operator what failed without handing a
        # client the database's host names or messages.
        return Health(status="unavailable", database=type(error).__name__)
    if problem is not None:
        response.status_code = status.HTTP_503_SERVICE_UNAVAILABLE
        return Health(status="unavailable", database=problem)
    return Health(status="ok", database="ok")


async def schema_problem(database: Database) -> str | None:
    """What keeps the schema from serving this code, if anything."""
    try:
        applied = await database.schema_revisions()
    except Exception:
        await database.ping()  # raises if the database itself is out of reach
        return f"no schema: {UPGRADE}"
    heads, known = migrations()
    # A revision this code does not know is a newer one, applied for the next
    # release during a rolling deploy: this code still serves.
    if applied != heads and applied <= known:
        logger.warning("Schema at %s, migrations at %s", applied, heads)
        return f"schema behind the migrations: {UPGRADE}"
    return None


@cache
def migrations() -> tuple[frozenset[str], frozenset[str]]:
    """The heads of migrations/versions, and every revision there."""
    scripts = ScriptDirectory(str(MIGRATIONS))
    return (
        frozenset(scripts.get_heads()),
        frozenset(script.revision for script in scripts.walk_revisions()),
    )
