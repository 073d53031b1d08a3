"""Serve a rendered project with uvicorn and hold it to the contract over real HTTP.

Run with the rendered project's own Python (it has httpx, uvicorn and, in JWT
variants, PyJWT), from the project's directory:

    python contract_check.py DATABASE_URL [--workers N]

It starts uvicorn as the project's image does (its Dockerfile's CMD) on a free
loopback port against DATABASE_URL (an empty database), drives the rows of CONTRACT.md that apply to the variant (the JWT
rows when the app serves /api/v1/auth/token), and exits non-zero on the first
broken promise. With `--workers N`, uvicorn runs N processes on the one database:
the same contract, its 100 parallel creates and 20-way email race included, and
with JWT one token on many new connections, which the workers share out.
"""

import asyncio
import base64
import json
import os
import subprocess
import sys
import tempfile
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from serving import free_port, image_command, wait_until_serving

from contract_api import (
    ITEMS, PASSWORD, SECRET_KEY, SUPERUSER, TOKEN, USERS, Api, expect,
)


async def check_users(api: Api) -> tuple[dict[str, Any], dict[str, Any]]:
    ada = await api.register("Ada@X.io", "Ada")
    assert ada["email"] == "ada@x.io" and ada["is_active"] is True
    fields = {"id", "email", "full_name", "is_active", "created_at"}
    assert set(ada) == (fields | {"is_superuser"} if api.jwt else fields)
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
    lister = api.superuser or ada
    await api.call("GET", f"{USERS}/999999", 404, lister)
    await api.call("GET", USERS, 422, lister, params={"offset": -1})
    await api.call("GET", USERS, 422, lister, params={"limit": 101})
    patched = await api.call(
        "PATCH", f"{USERS}/{ada['id']}", 200, ada, json={"full_name": "Ada L"}
    )
    assert patched == {**ada, "full_name": "Ada L"}
    grace = await api.register("grace@x.io", "Grace")
    taken = {"email": "ADA@x.io", **({"current_password": PASSWORD} if api.jwt else {})}
    await api.call("PATCH", f"{USERS}/{grace['id']}", 409, grace, json=taken)
    if api.jwt:
        # Another account is forbidden to users, whether or not it exists.
        for method in ("GET", "PATCH", "DELETE"):
            kwargs = {"json": {}} if method == "PATCH" else {}
            await api.call(method, f"{USERS}/{grace['id']}", 403, ada, **kwargs)
            await api.call(method, f"{USERS}/999999", 403, ada, **kwargs)
        await api.call("GET", USERS, 403, ada)
        await api.call("PATCH", f"{USERS}/999999", 404, api.superuser, json={})
        assert await api.call("GET", f"{USERS}/me", 200, grace) == grace
        # Changing one's email takes the current password.
        await api.call("PATCH", f"{USERS}/{grace['id']}", 422, grace, json={"email": "g@x.io"})
        wrong = {"email": "g@x.io", "current_password": "not the password"}
        await api.call("PATCH", f"{USERS}/{grace['id']}", 400, grace, json=wrong)
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
    await api.call("GET", f"{USERS}/{ada['id']}", 404, api.superuser or grace)


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
    # A token the app issued, which it accepts: each bad one changes one thing.
    claims = jwt.decode(api.tokens[user["id"]], SECRET_KEY, algorithms=["HS256"])
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
        "sub of 5000 digits": {
            "Authorization": f"Bearer {signed({**claims, 'sub': '9' * 5000})}"
        },
        "another stamp": {"Authorization": f"Bearer {signed({**claims, 'stamp': 'x'})}"},
        "no stamp": {
            "Authorization": f"Bearer {signed({k: v for k, v in claims.items() if k != 'stamp'})}"
        },
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
    # Only a superuser sets is_active. Deactivation ends every session, and the
    # right password answers as a wrong one.
    old_token = api.tokens[user["id"]]
    path = f"{USERS}/{user['id']}"
    await api.call("PATCH", path, 403, user, json={"is_active": False})
    await api.call("PATCH", path, 200, api.superuser, json={"is_active": False})
    await api.call("GET", f"{USERS}/me", 401, user)
    inactive = {"username": user["email"], "password": PASSWORD}
    assert expect(await api.client.post(TOKEN, data=inactive), 401) == answers[0].json()
    reactivate = {"is_active": True, "password": "a new passphrase"}
    await api.call("PATCH", f"{USERS}/{user['id']}", 200, api.superuser, json=reactivate)
    await api.log_in(user["email"], "a new passphrase")
    assert api.tokens[user["id"]] != old_token
    # A password change and a logout each end every session.
    change = {"current_password": "a new passphrase", "new_password": PASSWORD}
    await api.call("POST", f"{USERS}/me/password", 204, user, json=change)
    await api.call("GET", f"{USERS}/me", 401, user)
    await api.log_in(user["email"])
    await api.call("POST", "/api/v1/auth/logout", 204, user)
    await api.call("GET", f"{USERS}/me", 401, user)


async def check_login_throttle(api: Api) -> None:
    """Failed logins per email and client address: 429 with Retry-After. The
    client address is the one uvicorn's proxy headers name (it trusts
    127.0.0.1 by default)."""
    victim = await api.register("victim@x.io")
    attacker = {"X-Forwarded-For": "203.0.113.9"}
    form = {"username": "victim@x.io", "password": "wrong password"}
    statuses = [
        (await api.client.post(TOKEN, data=form, headers=attacker)).status_code
        for _ in range(6)
    ]
    assert statuses == [401] * 5 + [429], statuses
    right = {"username": "victim@x.io", "password": PASSWORD}
    refused = await api.client.post(TOKEN, data=right, headers=attacker)
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) > 0
    # The owner, from elsewhere, still logs in.
    elsewhere = {"X-Forwarded-For": "198.51.100.4"}
    expect(await api.client.post(TOKEN, data=right, headers=elsewhere), 200)
    await api.call("DELETE", f"{USERS}/{victim['id']}", 204, victim)


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
    observer = api.superuser or await api.register("observer@x.io")
    page = await api.call("GET", USERS, 200, observer, params={"limit": 1})
    assert len(page["items"]) == 1
    total: int = page["total"]
    return total


async def check_http_safeguards(api: Api) -> None:
    """Security headers and a request id on every answer, and 413 for a body
    over the limit whether or not it declares its length."""
    health = await api.client.get("/health")
    for name, value in (
        ("x-content-type-options", "nosniff"),
        ("x-frame-options", "DENY"),
        ("referrer-policy", "no-referrer"),
    ):
        assert health.headers.get(name) == value, (name, health.headers)
    # A request id on every answer: the caller's when sane, else a new one.
    given = await api.client.get("/health/live", headers={"X-Request-ID": "check-1"})
    assert expect(given, 200) == {"status": "ok"}
    assert given.headers.get("x-request-id") == "check-1", given.headers
    unsafe = await api.client.get("/health/live", headers={"X-Request-ID": "a b"})
    assert unsafe.headers.get("x-request-id") not in (None, "a b"), unsafe.headers
    body = b'{"full_name": "' + b"x" * (1024 * 1024) + b'"}'

    async def chunks() -> Any:
        for start in range(0, len(body), 65536):
            yield body[start : start + 65536]

    headers = {"content-type": "application/json"}
    for content in (body, chunks()):
        response = await api.client.post(USERS, content=content, headers=headers)
        assert response.status_code == 413, response.status_code
        assert response.json() == {"detail": "Content Too Large"}


async def check_one_token_on_every_worker(base_url: str) -> None:
    """A token issued by one worker is accepted by whichever worker answers."""
    async with httpx.AsyncClient(base_url=base_url, timeout=60) as client:
        api = Api(client, jwt=True)
        user = await api.register("workers@x.io")
    for _ in range(40):
        # A new connection each time: the kernel hands it to any worker.
        async with httpx.AsyncClient(base_url=base_url, timeout=60) as fresh:
            response = await fresh.get(f"{USERS}/me", headers=api.headers(user))
            assert expect(response, 200)["id"] == user["id"]


async def check(base_url: str) -> None:
    async with httpx.AsyncClient(base_url=base_url, timeout=60) as client:
        assert expect(await client.get("/health"), 200) == {
            "status": "ok",
            "database": "ok",
        }
        schema = expect(await client.get("/openapi.json"), 200)
        api = Api(client, jwt=TOKEN in schema["paths"])
        if api.jwt:
            api.superuser = await api.log_in(SUPERUSER)
            assert api.superuser["is_superuser"] is True
        ada, grace = await check_users(api)
        await check_items(api, ada, grace)
        if api.jwt:
            await check_tokens(api, grace)
            await check_login_throttle(api)
            for path in (USERS, f"{USERS}/1", ITEMS, f"{ITEMS}/1"):
                expect(await client.get(path), 401)
        await check_http_safeguards(api)
        total = await check_concurrency(api)
        # grace + 100 parallel + 1 race winner + the superuser or an observer
        assert total == 103, total


def main() -> None:
    database_url, *options = sys.argv[1:]
    workers = int(options[1]) if options[:1] == ["--workers"] else 1
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "ENVIRONMENT": "production",
        # The check reads /openapi.json to know which variant it serves.
        "DOCS_ENABLED": "true",
        "SECRET_KEY": SECRET_KEY,
        # Real argon2id at its cheapest: the check registers and logs in many
        # users, and the contract is not about how slow hashing is.
        "PASSWORD_HASH_TIME_COST": "1",
        "PASSWORD_HASH_MEMORY_COST": "8",
        "PASSWORD_HASH_PARALLELISM": "1",
    }
    if os.path.exists("app/cli.py"):
        # The first superuser, made as the project's README says.
        subprocess.run(
            [sys.executable, "-m", "app.cli", "create-superuser", SUPERUSER],
            env={**env, "SUPERUSER_PASSWORD": PASSWORD},
            check=True,
        )
    # As the project's image serves it.
    command = image_command(port, *(["--workers", str(workers)] if workers > 1 else []))
    # The server's log goes to a file, read at the end (not into this output).
    log = tempfile.TemporaryFile(mode="w+")
    server = subprocess.Popen(command, env=env, stderr=log)
    try:
        base_url = f"http://127.0.0.1:{port}"
        wait_until_serving(server, f"{base_url}/health")
        asyncio.run(check(base_url))
        if workers > 1 and os.path.exists("app/cli.py"):
            asyncio.run(check_one_token_on_every_worker(base_url))
        where = f"{workers} uvicorn workers" if workers > 1 else "one uvicorn process"
        print(f"contract check: every row that applies held over real HTTP ({where})")
    finally:
        server.terminate()
        server.wait(timeout=10)
    log.seek(0)
    if workers == 1:
        check_production_log(log.read())


def check_production_log(text: str) -> None:
    """Every line uvicorn and the app wrote is a JSON object; the access line
    of the request that sent X-Request-ID: check-1 carries that id."""
    lines = [json.loads(line) for line in text.splitlines()]
    [access] = [
        line
        for line in lines
        if line["logger"] == "app.access" and line["request_id"] == "check-1"
    ]
    assert (access["method"], access["path"], access["status"]) == (
        "GET",
        "/health/live",
        200,
    ), access
    print(f"contract check: {len(lines)} JSON log lines, among them {json.dumps(access)}")


if __name__ == "__main__":
    main()
