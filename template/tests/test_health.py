from httpx import AsyncClient

from app.core.config import Settings
from tests.helpers import USERS, client_of_app, user_body


async def test_health_reports_a_reachable_database(client: AsyncClient) -> None:
    response = await client.get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok"}


async def test_an_unreachable_database_gives_503_not_500(settings: Settings) -> None:
    scheme = settings.database_url.split(":")[0]
    unreachable = {"database_url": UNREACHABLE_URLS[scheme]}
    async with client_of_app(settings.model_copy(update=unreachable)) as client:
        health = await client.get("/health")
        creation = await client.post(USERS, json=user_body())
    assert health.status_code == 503
    assert health.json()["status"] == "unavailable"
    assert health.json()["database"]
    assert creation.status_code == 503
    assert creation.json() == {"detail": "Database unavailable"}


# A directory that cannot exist, and a port nothing listens on.
UNREACHABLE_URLS = {
    "sqlite+aiosqlite": "sqlite+aiosqlite:////nonexistent/directory/db.sqlite",
    "postgresql+asyncpg": "postgresql+asyncpg://postgres:postgres@127.0.0.1:1/db",
}
