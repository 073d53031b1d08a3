"""Serve a rendered project with uvicorn and hold it to the contract over real HTTP.

Run with the rendered project's own Python (it has httpx, uvicorn and, in JWT
variants, PyJWT), from the project's directory:

    python contract_check.py DATABASE_URL

It starts `uvicorn app.main:app` on a free loopback port against DATABASE_URL (an
empty database), drives the rows of CONTRACT.md that apply to the variant (the JWT
rows when the app serves /api/v1/auth/token), and exits non-zero on the first
broken promise.
"""

import asyncio
import base64
import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from serving import free_port, wait_until_serving

USERS = "/api/v1/users"
ITEMS = "/api/v1/items"
TOKEN = "/api/v1/auth/token"
PASSWORD = "live-check-password"
SECRET_KEY = "live-check-secret-key-" + "k" * 32


def expect(response: httpx.Response, status: int) -> Any:
    if response.status_code != status:
        raise AssertionError(
            f"{response.request.method} {response.request.url}: expected {status}, "
            f"got {response.status_code} {response.text[:300]}"
        )
    return response.json() if response.content else None


class Api:
    """Calls the API as one user or another; without JWT, everyone is anonymous."""

    def __init__(self, client: httpx.AsyncClient, jwt: bool) -> None:
        self.client = client
        self.jwt = jwt
        self.tokens: dict[int, str] = {}

    def body(self, email: str, full_name: str = "U") -> dict[str, str]:
        body = {"email": email, "full_name": full_name}
        return {**body, "password": PASSWORD} if self.jwt else body

    def headers(self, user: dict[str, Any] | None) -> dict[str, str]:
        if not self.jwt or user is None:
            return {}
        return {"Authorization": f"Bearer {self.tokens[user['id']]}"}

    async def register(self, email: str, full_name: str = "U") -> dict[str, Any]:
        user = expect(await self.client.post(USERS, json=self.body(email, full_name)), 201)
        if self.jwt:
            form = {"username": email, "password": PASSWORD}
            token = expect(await self.client.post(TOKEN, data=form), 200)
            assert token["token_type"] == "bearer"
            self.tokens[user["id"]] = token["access_token"]
        return user

    async def call(
        self, method: str, path: str, status: int, as_user: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> Any:
        headers = {**self.headers(as_user), **kwargs.pop("headers", {})}
        response = await self.client.request(method, path, headers=headers, **kwargs)
        return expect(response, status)

    def new_item(self, owner: dict[str, Any], **fields: Any) -> dict[str, Any]:
        return fields if self.jwt else {**fields, "owner_id": owner["id"]}


async def check_users(api: Api) -> tuple[dict[str, Any], dict[str, Any]]:
    ada = await api.register("Ada@X.io", "Ada")
    assert ada["email"] == "ada@x.io" and ada["is_active"] is True
    assert set(ada) == {"id", "email", "full_name", "is_active", "created_at"}
    assert datetime.fromisoformat(ada["created_at"]).utcoffset() == timedelta(0)
    await api.call("POST", USERS, 409, json=api.body("ADA@x.io"))
    for bad in (
        {"email": "nope"},
        {"full_name": ""},
        {"full_name": "x" * 256},
        {"role": "admin"},
    ):
        await api.call("POST", USERS, 422, json={**api.body("b@x.io"), **bad})
    await api.call(
        "POST", USERS, 422, content=b"{no", headers={"content-type": "application/json"}
    )
    assert await api.call("GET", f"{USERS}/{ada['id']}", 200, ada) == ada
    await api.call("GET", f"{USERS}/999999", 404, ada)
    await api.call("GET", USERS, 422, ada, params={"offset": -1})
    await api.call("GET", USERS, 422, ada, params={"limit": 101})
    patched = await api.call(
        "PATCH", f"{USERS}/{ada['id']}", 200, ada, json={"full_name": "Ada L"}
    )
    assert patched == {**ada, "full_name": "Ada L"}
    grace = await api.register("grace@x.io", "Grace")
    await api.call("PATCH", f"{USERS}/{grace['id']}", 409, grace, json={"email": "ADA@x.io"})
    if api.jwt:
        await api.call("PATCH", f"{USERS}/999999", 403, ada, json={})
        assert await api.call("GET", f"{USERS}/me", 200, grace) == grace
    else:
        await api.call("PATCH", f"{USERS}/999999", 404, json={})
    return {**ada, "full_name": "Ada L"}, grace


async def check_items(api: Api, ada: dict[str, Any], grace: dict[str, Any]) -> None:
    item = await api.call("POST", ITEMS, 201, ada, json=api.new_item(ada, title="Milk"))
    assert item["is_completed"] is False and item["description"] is None
    assert item["owner_id"] == ada["id"]
    if not api.jwt:
        await api.call("POST", ITEMS, 422, json={"title": "X", "owner_id": 999999})
    await api.call("POST", ITEMS, 422, ada, json=api.new_item(ada, title=""))
    await api.call("POST", ITEMS, 201, grace, json=api.new_item(grace, title="Walk milk"))
    page = await api.call("GET", ITEMS, 200, ada, params={"q": "MIL", "owner_id": ada["id"]})
    assert page["total"] == 1 and page["items"] == [item]
    page = await api.call("GET", ITEMS, 200, ada, params={"q": "MIL"})
    assert page["total"] == (1 if api.jwt else 2)
    await asyncio.sleep(0.01)
    done = await api.call(
        "PATCH", f"{ITEMS}/{item['id']}", 200, ada, json={"is_completed": True}
    )
    assert done["is_completed"] is True and done["updated_at"] > item["updated_at"]
    await api.call("GET", f"{ITEMS}/999999", 404, ada)
    if api.jwt:
        # Another user's item is as good as missing.
        for method in ("GET", "PATCH", "DELETE"):
            kwargs = {"json": {"title": "x"}} if method == "PATCH" else {}
            await api.call(method, f"{ITEMS}/{item['id']}", 404, grace, **kwargs)
        await api.call("DELETE", f"{USERS}/{ada['id']}", 403, grace)
    await api.call("DELETE", f"{USERS}/{ada['id']}", 204, ada)
    await api.call("GET", f"{ITEMS}/{item['id']}", 404, grace)
    await api.call("DELETE", f"{ITEMS}/{item['id']}", 404, grace)
    await api.call("GET", f"{USERS}/{ada['id']}", 404, grace)


async def check_tokens(api: Api, user: dict[str, Any]) -> None:
    """Every kind of bad token gets the same 401 with WWW-Authenticate: Bearer."""
    import jwt

    def signed(claims: dict[str, Any], key: str = SECRET_KEY) -> str:
        return jwt.encode(claims, key, algorithm="HS256")

    def alg_none(claims: dict[str, Any]) -> str:
        def part(data: dict[str, Any]) -> str:
            return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()

        return f"{part({'alg': 'none', 'typ': 'JWT'})}.{part(claims)}."

    now = int(datetime.now(UTC).timestamp())
    claims = {"sub": str(user["id"]), "iat": now, "exp": now + 300}
    ghost = await api.register("ghost@x.io")
    ghost_token = api.tokens[ghost["id"]]
    await api.call("DELETE", f"{USERS}/{ghost['id']}", 204, ghost)
    bad_headers = {
        "missing": {},
        "malformed": {"Authorization": "Bearer not.a.token"},
        "other key": {"Authorization": f"Bearer {signed(claims, 'x' * 40)}"},
        "expired": {
            "Authorization": f"Bearer {signed({**claims, 'iat': now - 900, 'exp': now - 600})}"
        },
        "alg none": {"Authorization": f"Bearer {alg_none(claims)}"},
        "sub not an id": {"Authorization": f"Bearer {signed({**claims, 'sub': 'ada'})}"},
        "deleted user": {"Authorization": f"Bearer {ghost_token}"},
    }
    bodies = set()
    for kind, headers in bad_headers.items():
        response = await api.client.get(f"{USERS}/me", headers=headers)
        assert response.status_code == 401, (kind, response.status_code)
        assert response.headers.get("www-authenticate") == "Bearer", kind
        bodies.add(response.text)
    assert len(bodies) == 1, bodies
    good = {"Authorization": f"Bearer {signed(claims)}"}
    assert expect(await api.client.get(f"{USERS}/me", headers=good), 200)["id"] == user["id"]
    wrong = {"username": user["email"], "password": "wrong password"}
    unknown = {"username": "nobody@x.io", "password": PASSWORD}
    answers = [await api.client.post(TOKEN, data=form) for form in (wrong, unknown)]
    assert [r.status_code for r in answers] == [401, 401]
    assert answers[0].json() == answers[1].json()
    await api.call("PATCH", f"{USERS}/{user['id']}", 200, user, json={"is_active": False})
    await api.call("GET", f"{USERS}/me", 403, user)
    inactive = {"username": user["email"], "password": PASSWORD}
    expect(await api.client.post(TOKEN, data=inactive), 403)


async def check_concurrency(api: Api) -> int:
    created = await asyncio.gather(
        *(api.client.post(USERS, json=api.body(f"p{n}@x.io")) for n in range(100))
    )
    assert sorted(r.status_code for r in created) == [201] * 100, [
        r.text for r in created if r.status_code != 201
    ][:3]
    raced = await asyncio.gather(
        *(api.client.post(USERS, json=api.body("race@x.io")) for _ in range(20))
    )
    assert sorted(r.status_code for r in raced) == [201] + [409] * 19
    observer = await api.register("observer@x.io")
    page = await api.call("GET", USERS, 200, observer, params={"limit": 1})
    assert len(page["items"]) == 1
    total: int = page["total"]
    return total


async def check(base_url: str) -> None:
    async with httpx.AsyncClient(base_url=base_url, timeout=60) as client:
        assert expect(await client.get("/health"), 200) == {
            "status": "ok",
            "database": "ok",
        }
        schema = expect(await client.get("/openapi.json"), 200)
        api = Api(client, jwt=TOKEN in schema["paths"])
        ada, grace = await check_users(api)
        await check_items(api, ada, grace)
        if api.jwt:
            await check_tokens(api, grace)
            for path in (USERS, f"{USERS}/1", ITEMS, f"{ITEMS}/1"):
                expect(await client.get(path), 401)
        total = await check_concurrency(api)
        # grace + 100 parallel + 1 race winner + observer
        assert total == 103, total


def main() -> None:
    database_url = sys.argv[1]
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "ENVIRONMENT": "production",
        "SECRET_KEY": SECRET_KEY,
        # Real argon2id at its cheapest: the check registers and logs in many
        # users, and the contract is not about how slow hashing is.
        "PASSWORD_HASH_TIME_COST": "1",
        "PASSWORD_HASH_MEMORY_COST": "8",
        "PASSWORD_HASH_PARALLELISM": "1",
    }
    command = [sys.executable, "-m", "uvicorn", "app.main:app", "--port", str(port)]
    server = subprocess.Popen([*command, "--log-level", "warning"], env=env)
    try:
        base_url = f"http://127.0.0.1:{port}"
        wait_until_serving(server, f"{base_url}/health")
        asyncio.run(check(base_url))
        print("contract check: every row that applies held over real HTTP")
    finally:
        server.terminate()
        server.wait(timeout=10)


if __name__ == "__main__":
    main()
