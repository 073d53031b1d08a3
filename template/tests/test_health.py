from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from httpx import AsyncClient

from app.core.config import Settings
from tests.helpers import UNREACHABLE_URL, USERS, client_of_app, user_body
from tests.schema import execute

UPGRADE = "run `alembic upgrade head`"


async def test_health_reports_a_reachable_database(client: AsyncClient) -> None:
    response = await client.get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok"}


async def test_health_names_a_schema_behind_the_migrations(
    client: AsyncClient, settings: Settings
) -> None:
    async with schema_recorded_at(settings.database_url, "0001"):
        response = await client.get("/health")
    assert response.status_code == 503
    assert response.json() == {
        "status": "unavailable",
        "database": f"schema behind the migrations: {UPGRADE}",
    }


async def test_a_schema_ahead_of_this_code_still_serves(
    client: AsyncClient, settings: Settings
) -> None:
    # During a rolling deploy the next release's migrations run first, and the
    # replicas of this one keep serving until they are replaced.
    async with schema_recorded_at(settings.database_url, "from_the_next_release"):
        response = await client.get("/health")
    assert response.status_code == 200


async def test_health_names_a_database_without_a_schema(
    client: AsyncClient, settings: Settings
) -> None:
    await execute(settings.database_url, "ALTER TABLE alembic_version RENAME TO hidden")
    try:
        response = await client.get("/health")
    finally:
        await execute(
            settings.database_url, "ALTER TABLE hidden RENAME TO alembic_version"
        )
    assert response.status_code == 503
    assert response.json() == {
        "status": "unavailable",
        "database": f"no schema: {UPGRADE}",
    }


@asynccontextmanager
async def schema_recorded_at(database_url: str, revision: str) -> AsyncIterator[None]:
    """The database's record of its schema revision set to `revision` for the
    block; the schema itself stays as it is."""
    [applied] = await execute(database_url, "SELECT version_num FROM alembic_version")
    update = "UPDATE alembic_version SET version_num = '{}'"
    await execute(database_url, update.format(revision))
    try:
        yield
    finally:
        await execute(database_url, update.format(applied))


async def test_an_unreachable_database_gives_503_not_500(settings: Settings) -> None:
    unreachable = {"database_url": UNREACHABLE_URL}
    async with client_of_app(settings.model_copy(update=unreachable)) as client:
        health = await client.get("/health")
        creation = await client.post(USERS, json=user_body())
    assert health.status_code == 503
    assert health.json()["status"] == "unavailable"
    assert health.json()["database"]
    assert creation.status_code == 503
    assert creation.json() == {"detail": "Database unavailable"}
