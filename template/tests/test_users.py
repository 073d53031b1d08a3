import asyncio
from datetime import UTC, datetime
from typing import Any

import pytest
from httpx import AsyncClient

USERS = "/api/v1/users"


async def create_user(
    client: AsyncClient, email: str = "ada@example.com", full_name: str = "Ada"
) -> dict[str, Any]:
    response = await client.post(USERS, json={"email": email, "full_name": full_name})
    assert response.status_code == 201, response.text
    user: dict[str, Any] = response.json()
    return user


async def test_create_user_returns_the_user(client: AsyncClient) -> None:
    before = datetime.now(UTC)
    user = await create_user(client, "Ada@Example.COM", "Ada Lovelace")
    assert set(user) == {"id", "email", "full_name", "is_active", "created_at"}
    assert user["email"] == "ada@example.com"
    assert user["full_name"] == "Ada Lovelace"
    assert user["is_active"] is True
    created_at = datetime.fromisoformat(user["created_at"])
    assert created_at.utcoffset() is not None
    assert created_at.utcoffset().total_seconds() == 0  # type: ignore[union-attr]
    assert before <= created_at <= datetime.now(UTC)


async def test_created_user_can_be_read_back(client: AsyncClient) -> None:
    user = await create_user(client)
    response = await client.get(f"{USERS}/{user['id']}")
    assert response.status_code == 200
    assert response.json() == user


async def test_email_is_unique_case_insensitively(client: AsyncClient) -> None:
    await create_user(client, "ada@example.com")
    response = await client.post(
        USERS, json={"email": "ADA@example.com", "full_name": "Other"}
    )
    assert response.status_code == 409
    assert "detail" in response.json()
    listed = await client.get(USERS)
    assert listed.json()["total"] == 1


@pytest.mark.parametrize(
    "body",
    [
        {"email": "not-an-email", "full_name": "Ada"},
        {"email": "ada@example.com", "full_name": ""},
        {"email": "ada@example.com", "full_name": "x" * 256},
        {"email": "ada@example.com", "full_name": "Ada\x00"},
        {"email": "ada@example.com", "full_name": "Ada", "is_admin": True},
        {"email": "ada@example.com"},
        {"full_name": "Ada"},
        {"email": None, "full_name": "Ada"},
    ],
    ids=[
        "bad-email",
        "empty-name",
        "long-name",
        "nul-in-name",
        "unknown-field",
        "no-name",
        "no-email",
        "null-email",
    ],
)
async def test_create_user_rejects_invalid_input(
    client: AsyncClient, body: dict[str, Any]
) -> None:
    response = await client.post(USERS, json=body)
    assert response.status_code == 422
    assert isinstance(response.json()["detail"], list)
    assert (await client.get(USERS)).json()["total"] == 0


async def test_create_user_rejects_a_body_that_is_not_json(
    client: AsyncClient,
) -> None:
    response = await client.post(
        USERS, content=b"{not json", headers={"content-type": "application/json"}
    )
    assert response.status_code == 422


async def test_full_name_of_255_characters_is_accepted(client: AsyncClient) -> None:
    user = await create_user(client, full_name="x" * 255)
    assert user["full_name"] == "x" * 255


async def test_list_users_pages_in_id_order(client: AsyncClient) -> None:
    created = [await create_user(client, f"user{n}@example.com") for n in range(5)]
    response = await client.get(USERS, params={"offset": 1, "limit": 2})
    assert response.status_code == 200
    page = response.json()
    assert page == {"items": created[1:3], "total": 5, "offset": 1, "limit": 2}


async def test_list_users_defaults_to_the_first_fifty(client: AsyncClient) -> None:
    page = (await client.get(USERS)).json()
    assert page == {"items": [], "total": 0, "offset": 0, "limit": 50}


@pytest.mark.parametrize(
    "params",
    [
        {"offset": -1},
        {"limit": 0},
        {"limit": 101},
        {"offset": "x"},
        {"offset": 2**63},
    ],
)
async def test_list_users_rejects_bad_paging(
    client: AsyncClient, params: dict[str, Any]
) -> None:
    response = await client.get(USERS, params=params)
    assert response.status_code == 422


async def test_huge_offset_gives_an_empty_page(client: AsyncClient) -> None:
    await create_user(client)
    page = (await client.get(USERS, params={"offset": 2**63 - 1})).json()
    assert page["items"] == []
    assert page["total"] == 1


@pytest.mark.parametrize("user_id", ["999", "0", str(2**31), str(2**64), "abc"])
async def test_missing_or_impossible_ids_are_not_found_or_invalid(
    client: AsyncClient, user_id: str
) -> None:
    for method in ("GET", "PATCH", "DELETE"):
        kwargs: dict[str, Any] = {"json": {}} if method == "PATCH" else {}
        response = await client.request(method, f"{USERS}/{user_id}", **kwargs)
        expected = 404 if user_id == "999" else 422
        assert response.status_code == expected, (method, response.text)


async def test_patch_changes_only_the_fields_sent(client: AsyncClient) -> None:
    user = await create_user(client, "ada@example.com", "Ada")
    response = await client.patch(
        f"{USERS}/{user['id']}", json={"full_name": "Ada Lovelace"}
    )
    assert response.status_code == 200
    assert response.json() == {**user, "full_name": "Ada Lovelace"}
    response = await client.patch(f"{USERS}/{user['id']}", json={"is_active": False})
    assert response.json() == {**user, "full_name": "Ada Lovelace", "is_active": False}
    read_back = (await client.get(f"{USERS}/{user['id']}")).json()
    assert read_back == response.json()


async def test_empty_patch_changes_nothing(client: AsyncClient) -> None:
    user = await create_user(client)
    response = await client.patch(f"{USERS}/{user['id']}", json={})
    assert response.status_code == 200
    assert response.json() == user


async def test_patch_lower_cases_the_email(client: AsyncClient) -> None:
    user = await create_user(client)
    response = await client.patch(
        f"{USERS}/{user['id']}", json={"email": "Ada.L@Example.com"}
    )
    assert response.json()["email"] == "ada.l@example.com"


async def test_patch_to_a_taken_email_conflicts(client: AsyncClient) -> None:
    await create_user(client, "ada@example.com")
    grace = await create_user(client, "grace@example.com")
    response = await client.patch(
        f"{USERS}/{grace['id']}", json={"email": "ADA@example.com"}
    )
    assert response.status_code == 409
    read_back = (await client.get(f"{USERS}/{grace['id']}")).json()
    assert read_back["email"] == "grace@example.com"


@pytest.mark.parametrize(
    "body",
    [
        {"email": None},
        {"full_name": None},
        {"is_active": None},
        {"full_name": ""},
        {"email": "nope"},
        {"id": 5},
        {"created_at": "2020-01-01T00:00:00Z"},
    ],
)
async def test_patch_rejects_invalid_input(
    client: AsyncClient, body: dict[str, Any]
) -> None:
    user = await create_user(client)
    response = await client.patch(f"{USERS}/{user['id']}", json=body)
    assert response.status_code == 422
    assert (await client.get(f"{USERS}/{user['id']}")).json() == user


async def test_delete_user_removes_the_user_and_its_items(
    client: AsyncClient,
) -> None:
    user = await create_user(client)
    other = await create_user(client, "grace@example.com")
    for owner in (user, other):
        response = await client.post(
            "/api/v1/items", json={"title": "Write", "owner_id": owner["id"]}
        )
        assert response.status_code == 201
    response = await client.delete(f"{USERS}/{user['id']}")
    assert response.status_code == 204
    assert response.content == b""
    assert (await client.get(f"{USERS}/{user['id']}")).status_code == 404
    items = (await client.get("/api/v1/items")).json()
    assert [item["owner_id"] for item in items["items"]] == [other["id"]]
    assert (await client.delete(f"{USERS}/{user['id']}")).status_code == 404


async def test_one_hundred_parallel_creates_lose_nothing(client: AsyncClient) -> None:
    responses = await asyncio.gather(
        *(
            client.post(
                USERS, json={"email": f"user{n}@example.com", "full_name": f"U{n}"}
            )
            for n in range(100)
        )
    )
    assert [response.status_code for response in responses] == [201] * 100
    page = (await client.get(USERS, params={"limit": 100})).json()
    assert page["total"] == 100
    assert {user["email"] for user in page["items"]} == {
        f"user{n}@example.com" for n in range(100)
    }


async def test_parallel_creates_with_one_email_give_one_user(
    client: AsyncClient,
) -> None:
    responses = await asyncio.gather(
        *(
            client.post(
                USERS,
                json={
                    "email": ("RACE" if n % 2 else "race") + "@example.com",
                    "full_name": "R",
                },
            )
            for n in range(20)
        )
    )
    statuses = sorted(response.status_code for response in responses)
    assert statuses == [201] + [409] * 19
    assert (await client.get(USERS)).json()["total"] == 1
