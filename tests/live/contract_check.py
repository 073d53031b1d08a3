"""Serve a rendered project with uvicorn and hold it to the contract over real HTTP.

Run with the rendered project's own Python (it has httpx and uvicorn), from the
project's directory:

    python contract_check.py DATABASE_URL

It starts `uvicorn app.main:app` on a free loopback port against DATABASE_URL, deletes
every user through the API (so the database may hold a test run's leftovers), drives
the non-JWT rows of CONTRACT.md, and exits non-zero on the first broken promise.
"""

import asyncio
import os
import socket
import subprocess
import sys
import time
from datetime import datetime

import httpx


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def expect(response: httpx.Response, status: int) -> dict:  # type: ignore[type-arg]
    if response.status_code != status:
        raise AssertionError(
            f"{response.request.method} {response.request.url}: expected {status}, "
            f"got {response.status_code} {response.text[:300]}"
        )
    return response.json() if response.content else {}


async def check(base_url: str) -> None:
    async with httpx.AsyncClient(base_url=base_url, timeout=30) as client:
        assert expect(await client.get("/health"), 200) == {
            "status": "ok",
            "database": "ok",
        }
        users = "/api/v1/users"
        while leftovers := expect(await client.get(users), 200)["items"]:
            for user in leftovers:
                expect(await client.delete(f"{users}/{user['id']}"), 204)
        ada = expect(
            await client.post(users, json={"email": "Ada@X.io", "full_name": "Ada"}),
            201,
        )
        assert ada["email"] == "ada@x.io" and ada["is_active"] is True
        assert datetime.fromisoformat(ada["created_at"]).utcoffset().total_seconds() == 0
        assert set(ada) == {"id", "email", "full_name", "is_active", "created_at"}
        expect(await client.post(users, json={"email": "ADA@x.io", "full_name": "A"}), 409)
        expect(await client.post(users, json={"email": "nope", "full_name": "A"}), 422)
        expect(await client.post(users, json={"email": "b@x.io", "full_name": ""}), 422)
        expect(
            await client.post(users, json={"email": "b@x.io", "full_name": "x" * 256}),
            422,
        )
        expect(
            await client.post(
                users, json={"email": "b@x.io", "full_name": "B", "role": "admin"}
            ),
            422,
        )
        expect(
            await client.post(
                users, content=b"\xff{", headers={"content-type": "application/json"}
            ),
            400,  # FastAPI's answer to a body that is not even text
        )
        assert expect(await client.get(f"{users}/{ada['id']}"), 200) == ada
        expect(await client.get(f"{users}/999999"), 404)
        expect(await client.get(users, params={"offset": -1}), 422)
        expect(await client.get(users, params={"limit": 101}), 422)

        patched = expect(
            await client.patch(f"{users}/{ada['id']}", json={"full_name": "Ada L"}), 200
        )
        assert patched == {**ada, "full_name": "Ada L"}
        grace = expect(
            await client.post(users, json={"email": "grace@x.io", "full_name": "G"}),
            201,
        )
        expect(await client.patch(f"{users}/{grace['id']}", json={"email": "ADA@x.io"}), 409)
        expect(await client.patch(f"{users}/999999", json={}), 404)

        items = "/api/v1/items"
        item = expect(
            await client.post(items, json={"title": "Milk", "owner_id": ada["id"]}), 201
        )
        assert item["is_completed"] is False and item["description"] is None
        expect(await client.post(items, json={"title": "X", "owner_id": 999999}), 422)
        expect(await client.post(items, json={"title": "", "owner_id": ada["id"]}), 422)
        expect(await client.post(items, json={"title": "Walk", "owner_id": grace["id"]}), 201)
        page = expect(await client.get(items, params={"q": "MIL"}), 200)
        assert page["total"] == 1 and page["items"] == [item]
        page = expect(await client.get(items, params={"owner_id": grace["id"]}), 200)
        assert page["total"] == 1
        time.sleep(0.01)
        done = expect(
            await client.patch(f"{items}/{item['id']}", json={"is_completed": True}), 200
        )
        assert done["is_completed"] is True and done["updated_at"] > item["updated_at"]
        expect(await client.get(f"{items}/999999"), 404)

        expect(await client.delete(f"{users}/{ada['id']}"), 204)
        expect(await client.get(f"{items}/{item['id']}"), 404)
        expect(await client.delete(f"{users}/{ada['id']}"), 404)
        expect(await client.delete(f"{items}/{item['id']}"), 404)

        created = await asyncio.gather(
            *(
                client.post(users, json={"email": f"p{n}@x.io", "full_name": "P"})
                for n in range(100)
            )
        )
        assert sorted(r.status_code for r in created) == [201] * 100, [
            r.text for r in created if r.status_code != 201
        ][:3]
        raced = await asyncio.gather(
            *(
                client.post(users, json={"email": "race@x.io", "full_name": "R"})
                for _ in range(20)
            )
        )
        assert sorted(r.status_code for r in raced) == [201] + [409] * 19
        page = expect(await client.get(users, params={"limit": 1}), 200)
        assert page["total"] == 102 and len(page["items"]) == 1  # grace + 100 + race

        schema = expect(await client.get("/openapi.json"), 200)
        assert {"/health", "/api/v1/users/{user_id}", "/api/v1/items"} <= set(
            schema["paths"]
        )


def main() -> None:
    database_url = sys.argv[1]
    port = free_port()
    env = {**os.environ, "DATABASE_URL": database_url}
    server = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "app.main:app", "--port", str(port), "--log-level", "warning"],
        env=env,
    )
    try:
        base_url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(f"{base_url}/health", timeout=1)
                break
            except httpx.TransportError:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit("uvicorn did not start") from None
                time.sleep(0.2)
        asyncio.run(check(base_url))
        print("contract check: every non-JWT row held over real HTTP")
    finally:
        server.terminate()
        server.wait(timeout=10)


if __name__ == "__main__":
    main()
