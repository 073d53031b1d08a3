"""What the attack replay's modules share (attack_check.py, login_attacks.py,
socket_attacks.py): the routes, the password of its users, its output, and an
attacker's calls over real HTTP."""

from typing import Any

import httpx

from contract_api import expect

USERS = "/api/v1/users"
ITEMS = "/api/v1/items"
TOKEN = "/api/v1/auth/token"
LOGOUT = "/api/v1/auth/logout"
PASSWORD = "attack-check-password"


def log(message: str) -> None:
    print(f"attack check: {message}", flush=True)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


class Attacker:
    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client

    async def register(self, email: str, password: str = PASSWORD) -> dict[str, Any]:
        body = {"email": email, "full_name": "U", "password": password}
        return dict(expect(await self.client.post(USERS, json=body), 201))

    async def token(self, email: str, password: str = PASSWORD) -> str:
        form = {"username": email, "password": password}
        token: str = expect(await self.client.post(TOKEN, data=form), 200)["access_token"]
        return token

    async def status(self, method: str, path: str, token: str, **kwargs: Any) -> int:
        response = await self.client.request(method, path, headers=bearer(token), **kwargs)
        return response.status_code
