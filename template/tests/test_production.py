"""What production needs beyond the API: no docs unless asked for, and the
headers that keep browsers from misusing the responses."""

import pytest
from httpx import AsyncClient

from app.core.config import Settings
from tests.helpers import USERS, client_of_app

DOCS = ("/docs", "/redoc", "/openapi.json")
SECURITY_HEADERS = {
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
}


@pytest.mark.usefixtures("migrated")
async def test_production_serves_no_docs(settings: Settings) -> None:
    production = settings.model_copy(update={"environment": "production"})
    async with client_of_app(production) as client:
        for path in DOCS:
            assert (await client.get(path)).status_code == 404, path
        assert (await client.get("/health")).status_code == 200


@pytest.mark.usefixtures("migrated")
async def test_production_serves_the_docs_when_enabled(settings: Settings) -> None:
    production = settings.model_copy(
        update={"environment": "production", "docs_enabled": True}
    )
    async with client_of_app(production) as client:
        for path in DOCS:
            assert (await client.get(path)).status_code == 200, path


async def test_every_response_carries_the_security_headers(
    client: AsyncClient,
) -> None:
    responses = [
        await client.get("/health"),
        await client.get("/docs"),
        await client.get("/no/such/page"),
        await client.post(USERS, json={"email": "not an email"}),
        await client.post(USERS, content=b"{" * 2_000_000),
    ]
    assert [response.status_code for response in responses] == [200, 200, 404, 422, 413]
    for response in responses:
        assert SECURITY_HEADERS.items() <= response.headers.items()


async def test_a_405_lists_every_method_the_path_takes(client: AsyncClient) -> None:
    for path, methods in (
        ("/api/v1/users", "GET, POST"),
        ("/api/v1/items/1", "DELETE, GET, PATCH"),
    ):
        response = await client.put(path, json={})
        assert response.status_code == 405
        assert response.headers["Allow"] == methods
