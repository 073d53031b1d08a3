"""What operators rely on: a liveness probe that leaves the database alone, an id
on every answer that ties it to its log lines, and CORS only when configured."""

import re

import pytest
from httpx import AsyncClient

from app.core.config import Settings
from tests.helpers import (
    UNREACHABLE_URL,
    USERS,
    client_of_app,
    client_of_broken_app,
    user_body,
)

GENERATED_ID = re.compile(r"[0-9a-f]{32}")
ORIGIN = "https://app.example.com"


@pytest.mark.usefixtures("migrated")
async def test_liveness_answers_while_the_database_is_down(settings: Settings) -> None:
    down = settings.model_copy(update={"database_url": UNREACHABLE_URL})
    async with client_of_app(down) as client:
        assert (await client.get("/health")).status_code == 503
        live = await client.get("/health/live")
    assert live.status_code == 200
    assert live.json() == {"status": "ok"}


async def test_every_answer_carries_a_new_request_id(client: AsyncClient) -> None:
    responses = [
        await client.get("/health"),
        await client.get("/health/live"),
        await client.get(f"{USERS}/0"),  # an error
        await client.post(USERS, json={"email": "not an email"}),  # 422
        await client.post(USERS, content=b"x" * (2 * 1024 * 1024)),  # 413
    ]
    ids = [response.headers["x-request-id"] for response in responses]
    assert all(GENERATED_ID.fullmatch(value) for value in ids), ids
    assert len(set(ids)) == len(ids)


async def test_a_sane_request_id_from_the_caller_comes_back(
    client: AsyncClient,
) -> None:
    for given in ("3f2b9c1e-7d4a-4e8b-9f0a-1c2d3e4f5a6b", "edge-proxy.42:7"):
        response = await client.get("/health", headers={"X-Request-ID": given})
        assert response.headers["x-request-id"] == given


async def test_a_request_id_that_could_forge_a_log_line_is_replaced(
    client: AsyncClient,
) -> None:
    unsafe = ["a b", "x" * 129, "id\\nlevel=ERROR", '{"level": "ERROR"}', "é"]
    for given in (value.encode() for value in unsafe):
        response = await client.get("/health", headers={b"X-Request-ID": given})
        assert GENERATED_ID.fullmatch(response.headers["x-request-id"]), given


@pytest.mark.usefixtures("migrated")
async def test_a_503_names_its_request(settings: Settings) -> None:
    down = settings.model_copy(update={"database_url": UNREACHABLE_URL})
    async with client_of_app(down) as client:
        response = await client.post(
            USERS, json=user_body(), headers={"X-Request-ID": "outage-1"}
        )
    assert response.status_code == 503
    assert response.headers["x-request-id"] == "outage-1"


async def test_an_unexpected_error_is_a_json_500_that_names_its_request(
    settings: Settings,
) -> None:
    async with client_of_broken_app(settings) as client:
        response = await client.get("/broken", headers={"X-Request-ID": "bug-1"})
    assert response.status_code == 500
    assert response.json() == {"detail": "Internal Server Error"}
    assert response.headers["x-request-id"] == "bug-1"
    assert response.headers["x-content-type-options"] == "nosniff"


async def test_no_cors_headers_by_default(client: AsyncClient) -> None:
    response = await client.get("/health", headers={"Origin": ORIGIN})
    assert "access-control-allow-origin" not in response.headers


@pytest.mark.usefixtures("migrated")
async def test_cors_origins_may_call_the_api(settings: Settings) -> None:
    configured = settings.model_copy(
        update={"cors_origins": [ORIGIN, "http://localhost:5173"]}
    )
    async with client_of_app(configured) as client:
        preflight = await client.options(
            USERS,
            headers={
                "Origin": ORIGIN,
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "authorization, content-type",
            },
        )
        answer = await client.get("/health", headers={"Origin": ORIGIN})
        stranger = await client.get(
            "/health", headers={"Origin": "https://evil.example.com"}
        )
    assert preflight.status_code == 200
    assert preflight.headers["access-control-allow-origin"] == ORIGIN
    assert "POST" in preflight.headers["access-control-allow-methods"]
    assert preflight.headers["x-request-id"]
    assert answer.headers["access-control-allow-origin"] == ORIGIN
    assert "x-request-id" in answer.headers["access-control-expose-headers"].lower()
    assert "access-control-allow-origin" not in stranger.headers


def test_cors_origins_are_read_comma_separated() -> None:
    given = f" {ORIGIN}, http://localhost:5173 ,"
    settings = Settings.model_validate({"cors_origins": given})
    assert settings.cors_origins == [ORIGIN, "http://localhost:5173"]
    assert Settings.model_validate({"cors_origins": ""}).cors_origins == []


@pytest.mark.parametrize(
    "origin", ["app.example.com", "https://app.example.com/", "https://a.com/path"]
)
def test_a_cors_origin_that_is_not_one_stops_start_up(origin: str) -> None:
    with pytest.raises(ValueError, match="not an origin"):
        Settings.model_validate({"cors_origins": origin})
