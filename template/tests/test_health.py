from httpx import ASGITransport, AsyncClient

from app.core.config import Settings
from app.main import create_app


async def test_health_reports_a_reachable_database(client: AsyncClient) -> None:
    response = await client.get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok"}


async def test_health_reports_an_unreachable_database(settings: Settings) -> None:
    unreachable = settings.model_copy(
        update={"database_url": UNREACHABLE_URLS[settings.database_url.split(":")[0]]}
    )
    app = create_app(unreachable)
    async with app.router.lifespan_context(app):
        transport = ASGITransport(app=app)
        async with AsyncClient(transport=transport, base_url="http://test") as client:
            response = await client.get("/health")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable"
    assert body["database"]


# A directory that cannot exist, and a port nothing listens on.
UNREACHABLE_URLS = {
    "sqlite+aiosqlite": "sqlite+aiosqlite:////nonexistent/directory/db.sqlite",
    "postgresql+asyncpg": "postgresql+asyncpg://postgres:postgres@127.0.0.1:1/db",
}
