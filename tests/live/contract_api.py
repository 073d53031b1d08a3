"""The contract's calls over real HTTP, as one user or another, for
contract_check.py: the routes, the password and key of the check, and `expect`,
which fails on any other status than the contract's.
"""

import secrets
from typing import Any

import httpx

USERS = "/api/v1/users"
ITEMS = "/api/v1/items"
TOKEN = "/api/v1/auth/token"
PASSWORD = "live-check-password"
SECRET_KEY = secrets.token_urlsafe(32)
SUPERUSER = "root@x.io"


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
        # With JWT, who may list and read every account (made by app.cli).
        self.superuser: dict[str, Any] | None = None

    async def log_in(self, email: str, password: str = PASSWORD) -> dict[str, Any]:
        form = {"username": email, "password": password}
        token = expect(await self.client.post(TOKEN, data=form), 200)
        assert token["token_type"] == "bearer"
        headers = {"Authorization": f"Bearer {token['access_token']}"}
        user = expect(await self.client.get(f"{USERS}/me", headers=headers), 200)
        self.tokens[user["id"]] = token["access_token"]
        return dict(user)

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
            assert await self.log_in(email) == user
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
