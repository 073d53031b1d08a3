import asyncio
from datetime import datetime
from typing import Any

import pytest
from httpx import AsyncClient

ITEMS = "/api/v1/items"


@pytest.fixture
async def owner(client: AsyncClient) -> dict[str, Any]:
    response = await client.post(
        "/api/v1/users", json={"email": "owner@example.com", "full_name": "Owner"}
    )
    assert response.status_code == 201
    user: dict[str, Any] = response.json()
    return user


async def create_item(
    client: AsyncClient, owner_id: int, **fields: Any
) -> dict[str, Any]:
    response = await client.post(
        ITEMS, json={"title": "Buy milk", "owner_id": owner_id, **fields}
    )
    assert response.status_code == 201, response.text
    item: dict[str, Any] = response.json()
    return item


async def test_create_item_applies_defaults(
    client: AsyncClient, owner: dict[str, Any]
) -> None:
    item = await create_item(client, owner["id"])
    assert set(item) == {
        "id",
        "title",
        "description",
        "is_completed",
        "owner_id",
        "created_at",
        "updated_at",
    }
    assert item["title"] == "Buy milk"
    assert item["description"] is None
    assert item["is_completed"] is False
    assert item["owner_id"] == owner["id"]
    assert datetime.fromisoformat(item["created_at"]).utcoffset() is not None
    assert item["created_at"] == item["updated_at"]


async def test_create_item_with_every_field(
    client: AsyncClient, owner: dict[str, Any]
) -> None:
    item = await create_item(
        client, owner["id"], description="2 litres", is_completed=True
    )
    assert item["description"] == "2 litres"
    assert item["is_completed"] is True
    assert (await client.get(f"{ITEMS}/{item['id']}")).json() == item


async def test_create_item_for_a_missing_owner_is_invalid(
    client: AsyncClient,
) -> None:
    response = await client.post(ITEMS, json={"title": "Orphan", "owner_id": 12345})
    assert response.status_code == 422
    [error] = response.json()["detail"]
    assert error["loc"] == ["body", "owner_id"]
    assert (await client.get(ITEMS)).json()["total"] == 0


@pytest.mark.parametrize(
    "fields",
    [
        {"title": ""},
        {"title": "x" * 201},
        {"title": None},
        {"title": "a\x00b"},
        {"description": "x" * 2001},
        {"is_completed": "maybe"},
        {"owner_id": "abc"},
        {"owner_id": 2**63},
        {"priority": 1},
    ],
)
async def test_create_item_rejects_invalid_fields(
    client: AsyncClient, owner: dict[str, Any], fields: dict[str, Any]
) -> None:
    body = {"title": "Valid", "owner_id": owner["id"], **fields}
    response = await client.post(ITEMS, json=body)
    assert response.status_code == 422
    assert (await client.get(ITEMS)).json()["total"] == 0


async def test_longest_title_and_description_are_accepted(
    client: AsyncClient, owner: dict[str, Any]
) -> None:
    item = await create_item(
        client, owner["id"], title="t" * 200, description="d" * 2000
    )
    assert len(item["title"]) == 200
    assert len(item["description"]) == 2000


async def test_list_items_filters_and_counts(client: AsyncClient) -> None:
    owners = []
    for name in ("a", "b"):
        response = await client.post(
            "/api/v1/users", json={"email": f"{name}@example.com", "full_name": name}
        )
        owners.append(response.json()["id"])
    titles = ["Buy MILK", "Walk dog", "milkshake", "Pay rent", "50%_off milk"]
    items = [
        await create_item(client, owners[n % 2], title=title)
        for n, title in enumerate(titles)
    ]

    page = (await client.get(ITEMS)).json()
    assert page == {"items": items, "total": 5, "offset": 0, "limit": 50}

    page = (await client.get(ITEMS, params={"q": "milk"})).json()
    assert [item["title"] for item in page["items"]] == [
        "Buy MILK",
        "milkshake",
        "50%_off milk",
    ]
    assert page["total"] == 3

    page = (await client.get(ITEMS, params={"q": "milk", "limit": 1})).json()
    assert [item["title"] for item in page["items"]] == ["Buy MILK"]
    assert page["total"] == 3

    page = (await client.get(ITEMS, params={"owner_id": owners[1]})).json()
    assert [item["id"] for item in page["items"]] == [items[1]["id"], items[3]["id"]]
    assert page["total"] == 2

    page = (await client.get(ITEMS, params={"owner_id": owners[0], "q": "MILK"})).json()
    assert page["total"] == 3

    # LIKE wildcards in q are matched literally.
    page = (await client.get(ITEMS, params={"q": "%_"})).json()
    assert [item["title"] for item in page["items"]] == ["50%_off milk"]


@pytest.mark.parametrize(
    "params",
    [{"offset": -1}, {"limit": 0}, {"limit": 101}, {"owner_id": "x"}, {"q": "a\x00"}],
)
async def test_list_items_rejects_bad_parameters(
    client: AsyncClient, params: dict[str, Any]
) -> None:
    assert (await client.get(ITEMS, params=params)).status_code == 422


async def test_patch_item_changes_only_the_fields_sent(
    client: AsyncClient, owner: dict[str, Any]
) -> None:
    item = await create_item(client, owner["id"], description="first")
    response = await client.patch(f"{ITEMS}/{item['id']}", json={"is_completed": True})
    assert response.status_code == 200
    patched = response.json()
    unchanged = {"id", "title", "description", "owner_id", "created_at"}
    assert {key: patched[key] for key in unchanged} == {
        key: item[key] for key in unchanged
    }
    assert patched["is_completed"] is True
    assert datetime.fromisoformat(patched["updated_at"]) > datetime.fromisoformat(
        item["updated_at"]
    )
    assert (await client.get(f"{ITEMS}/{item['id']}")).json() == patched


async def test_patch_item_can_clear_the_description(
    client: AsyncClient, owner: dict[str, Any]
) -> None:
    item = await create_item(client, owner["id"], description="first")
    response = await client.patch(f"{ITEMS}/{item['id']}", json={"description": None})
    assert response.status_code == 200
    assert response.json()["description"] is None


@pytest.mark.parametrize(
    "body",
    [{"title": None}, {"title": ""}, {"is_completed": None}, {"owner_id": 1}],
)
async def test_patch_item_rejects_invalid_input(
    client: AsyncClient, owner: dict[str, Any], body: dict[str, Any]
) -> None:
    item = await create_item(client, owner["id"])
    response = await client.patch(f"{ITEMS}/{item['id']}", json=body)
    assert response.status_code == 422
    assert (await client.get(f"{ITEMS}/{item['id']}")).json() == item


async def test_delete_item(client: AsyncClient, owner: dict[str, Any]) -> None:
    item = await create_item(client, owner["id"])
    response = await client.delete(f"{ITEMS}/{item['id']}")
    assert response.status_code == 204
    assert (await client.get(f"{ITEMS}/{item['id']}")).status_code == 404
    assert (await client.delete(f"{ITEMS}/{item['id']}")).status_code == 404


@pytest.mark.parametrize("item_id", ["999", "0", str(2**31), "abc"])
async def test_missing_or_impossible_item_ids(
    client: AsyncClient, item_id: str
) -> None:
    expected = 404 if item_id == "999" else 422
    assert (await client.get(f"{ITEMS}/{item_id}")).status_code == expected
    response = await client.patch(f"{ITEMS}/{item_id}", json={"title": "x"})
    assert response.status_code == expected
    assert (await client.delete(f"{ITEMS}/{item_id}")).status_code == expected


async def test_parallel_item_creates_lose_nothing(
    client: AsyncClient, owner: dict[str, Any]
) -> None:
    responses = await asyncio.gather(
        *(
            client.post(ITEMS, json={"title": f"Item {n}", "owner_id": owner["id"]})
            for n in range(50)
        )
    )
    assert all(response.status_code == 201 for response in responses)
    assert (await client.get(ITEMS)).json()["total"] == 50


async def test_openapi_documents_every_route(client: AsyncClient) -> None:
    schema = (await client.get("/openapi.json")).json()
    paths = schema["paths"]
    assert set(paths) == {
        "/health",
        "/api/v1/users",
        "/api/v1/users/{user_id}",
        "/api/v1/items",
        "/api/v1/items/{item_id}",
    }
    assert set(paths["/api/v1/users/{user_id}"]["patch"]["responses"]) >= {
        "200",
        "404",
        "409",
        "422",
    }
    assert "503" in paths["/health"]["get"]["responses"]
