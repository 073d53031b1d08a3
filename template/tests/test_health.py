from httpx import ASGITransport, AsyncClient

from app.core.config import Settings
from app.main import create_app


async def test_health_reports_a_reachable_database(client: AsyncClient) -> None:
    response = await client.get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok"}


async def test_an_unreachable_database_gives_503_not_500(settings: Settings) -> None:
    scheme = settings.database_url.split(":")[0]
    app = create_app(Settings(database_url=UNREACHABLE_URLS[scheme]))
    async with app.router.lifespan_context(app):
        transport = ASGITransport(app=app)
        async with AsyncClient(transport=transport, base_url="http://test") as client:
            health = await client.get("/health")
            listing = await client.get("/api/v1/users")
            creation = await client.post(
                "/api/v1/users", json={"email": "a@example.com", "full_name": "A"}
            )
    assert health.status_code == 503
    assert health.json()["status"] == "unavailable"
    assert health.json()["database"]
    for response in (listing, creation):
        assert response.status_code == 503
        assert response.json() == {"detail": "Database unavailable"}


# A directory that cannot exist, and a port nothing listens on.
UNREACHABLE_URLS = {
    "sqlite+aiosqlite": "sqlite+aiosqlite:////nonexistent/directory/db.sqlite",
    "postgresql+asyncpg": "postgresql+asyncpg://postgres:postgres@127.0.0.1:1/db",
}
