"""Replay, over real HTTP, the attacks that once worked on a JWT variant.

Run with the rendered project's own Python (it has httpx, uvicorn and PyJWT),
from the directory of a JWT project:

    python attack_check.py DATABASE_URL

DATABASE_URL is an empty database. The check migrates it, makes a superuser with
the project's CLI, serves the app with uvicorn as the project's image does (its
Dockerfile's CMD; ENVIRONMENT=production, no DOCS_ENABLED) and tries each attack
of the security reviews (the second's on logging in: login_attacks.py; on the
sockets: socket_attacks.py): every one must be refused as the contract says.
Then more servers: production hashing costs under a flood of logins (other
users' reads must all answer 200), one given an obviously weak SECRET_KEY and
one told to believe every forwarded address (neither may start), one behind a
proxy that is not this caller (its forwarded addresses must change nothing),
and development with two workers and no SECRET_KEY (a token must work on both).
Exits non-zero on the first attack that gets through.
"""

import asyncio
import json
import os
import secrets
import subprocess
import sys
import tempfile
import time
import unicodedata
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import jwt

sys.path.insert(0, str(Path(__file__).parent))
import login_attacks  # noqa: E402
import socket_attacks  # noqa: E402
from attack_api import (  # noqa: E402
    ITEMS,
    LOGOUT,
    PASSWORD,
    TOKEN,
    USERS,
    Attacker,
    bearer,
    log,
)
from contract_api import expect  # noqa: E402
from serving import free_port, image_command, wait_until_serving  # noqa: E402

SECRET_KEY = secrets.token_urlsafe(32)
ROOT = "root@x.io"
# Cheap hashing: the attacks are about what is refused, not how slowly.
CHEAP_HASHING = {
    "PASSWORD_HASH_TIME_COST": "1",
    "PASSWORD_HASH_MEMORY_COST": "8",
    "PASSWORD_HASH_PARALLELISM": "1",
}


@dataclass
class Served:
    port: int
    pid: int

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@contextmanager
def uvicorn(env: dict[str, str], *options: str) -> Iterator[Served]:
    """The app served as the image serves it."""
    port = free_port()
    command = image_command(port, "--log-level", "warning", *options)
    server = subprocess.Popen(command, env=env)
    try:
        served = Served(port, server.pid)
        wait_until_serving(server, f"{served.base_url}/health")
        yield served
    finally:
        server.terminate()
        server.wait(timeout=15)


def refused_at_start(env: dict[str, str], variable: str) -> None:
    """The app does not start with `env`, and its error names `variable`."""
    command = image_command(free_port())
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode != 0, f"started with {variable}={env[variable]!r}"
    assert variable in result.stderr, result.stderr[-2000:]


async def takeover_by_reused_id(attacker: Attacker) -> None:
    """1. Register, keep a token, delete the account: the next account to
    register must not be reachable with that token."""
    victim = await attacker.register("victim1@x.io")
    old = await attacker.token("victim1@x.io")
    assert await attacker.status("DELETE", f"{USERS}/{victim['id']}", old) == 204
    newcomer = await attacker.register("newcomer1@x.io")
    again = await attacker.register("victim1@x.io")
    assert newcomer["id"] > victim["id"] and again["id"] > newcomer["id"], "id reused"
    for method, path in (
        ("GET", f"{USERS}/me"),
        ("GET", ITEMS),
        ("PATCH", f"{USERS}/{newcomer['id']}"),
        ("PATCH", f"{USERS}/{again['id']}"),
    ):
        kwargs = {"json": {"full_name": "Taken"}} if method == "PATCH" else {}
        status = await attacker.status(method, path, old, **kwargs)
        assert status == 401, (method, path, status)
    log("1. a deleted account's token reaches no later account (401); ids not reused")


async def one_request_freezes_the_service(attacker: Attacker) -> None:
    """2. A huge body, 200k unknown keys, a megabyte password."""
    client = attacker.client
    json_headers = {"content-type": "application/json"}
    huge = {"email": "h@x.io", "full_name": "H", **{f"k{n}": 0 for n in range(200_000)}}
    body = json.dumps(huge).encode()

    async def chunks() -> Any:
        for start in range(0, len(body), 65536):
            yield body[start : start + 65536]

    for content in (body, chunks()):
        started = time.monotonic()
        response = await client.post(USERS, content=content, headers=json_headers)
        expect(response, 413)
        log(f"2. {len(body):,} bytes, 200,000 unknown keys: 413 in "
            f"{time.monotonic() - started:.2f} s")
    # Under the limit, as many unknown keys as fit: a short 422, and /health
    # answers meanwhile.
    under = {"email": "h@x.io", "full_name": "H", **{f"k{n}": 0 for n in range(90_000)}}
    content = json.dumps(under, separators=(",", ":")).encode()
    assert len(content) < 1024 * 1024, len(content)
    started = time.monotonic()
    creation = asyncio.create_task(client.post(USERS, content=content, headers=json_headers))
    health = await client.get("/health")
    response = await creation
    elapsed = time.monotonic() - started
    detail = expect(response, 422)["detail"]
    assert len(detail) <= 10 and len(response.content) < 5000, len(response.content)
    assert health.status_code == 200
    log(f"2. {len(content):,} bytes, 90,000 unknown keys: 422 of {len(response.content)} "
        f"bytes in {elapsed:.2f} s, /health answered meanwhile")
    secret = "m3gabyte-" + secrets.token_hex(8)
    password = secret * (900_000 // len(secret))
    response = await client.post(
        USERS, json={"email": "p@x.io", "full_name": "P", "password": password}
    )
    expect(response, 422)
    assert secret not in response.text and len(response.content) < 2000
    log("2. a megabyte password: 422 that repeats none of it")


async def reading_every_email(attacker: Attacker) -> None:
    """3. A logged-in user lists every account, or reads another."""
    mallory = await attacker.register("mallory@x.io")
    alice = await attacker.register("alice@x.io")
    token = await attacker.token("mallory@x.io")
    assert await attacker.status("GET", USERS, token) == 403
    assert await attacker.status("GET", f"{USERS}/{alice['id']}", token) == 403
    assert await attacker.status("GET", f"{USERS}/{mallory['id']}", token) == 200
    log("3. users list and other accounts: 403 for a user")


async def guessing_passwords(attacker: Attacker) -> None:
    """4. Twenty wrong passwords, then the right one."""
    await attacker.register("target@x.io")
    origin = {"X-Forwarded-For": "203.0.113.66"}
    statuses = []
    for password in ["wrong password"] * 20 + [PASSWORD]:
        form = {"username": "target@x.io", "password": password}
        response = await attacker.client.post(TOKEN, data=form, headers=origin)
        statuses.append(response.status_code)
    assert statuses == [401] * 5 + [429] * 16, statuses
    assert int(response.headers["Retry-After"]) > 0
    log("4. 20 wrong passwords then the right one: 5 × 401, then 429 with Retry-After")


async def no_way_back(attacker: Attacker, root: str) -> None:
    """5. A stolen token deactivates its owner, or changes the email."""
    owner = await attacker.register("owner@x.io")
    stolen = await attacker.token("owner@x.io")
    path = f"{USERS}/{owner['id']}"
    new_email = {"email": "thief@x.io"}
    assert await attacker.status("PATCH", path, stolen, json=new_email) == 422
    wrong = {**new_email, "current_password": "a guess"}
    assert await attacker.status("PATCH", path, stolen, json=wrong) == 400
    # Only a superuser deactivates; an inactive account's password tells nothing.
    assert await attacker.status("PATCH", path, stolen, json={"is_active": False}) == 403
    assert await attacker.status("PATCH", path, root, json={"is_active": False}) == 200
    form = {"username": "owner@x.io", "password": PASSWORD}
    expect(await attacker.client.post(TOKEN, data=form), 401)
    reactivate = {"is_active": True, "password": "the owner's new password"}
    assert await attacker.status("PATCH", path, root, json=reactivate) == 200
    assert await attacker.status("GET", f"{USERS}/me", stolen) == 401
    fresh = await attacker.token("owner@x.io", "the owner's new password")
    second = await attacker.token("owner@x.io", "the owner's new password")
    change = {"current_password": "the owner's new password", "new_password": PASSWORD}
    assert await attacker.status("POST", f"{USERS}/me/password", fresh, json=change) == 204
    assert await attacker.status("GET", f"{USERS}/me", second) == 401
    third = await attacker.token("owner@x.io")
    assert await attacker.status("POST", LOGOUT, third) == 204
    assert await attacker.status("GET", f"{USERS}/me", third) == 401
    log("5. email change needs the password; only a superuser deactivates, "
        "reactivates and resets; "
        "password change and logout revoke every token")


async def production_defaults(attacker: Attacker) -> None:
    """6. Docs served and no security headers in production."""
    for path in ("/docs", "/redoc", "/openapi.json"):
        expect(await attacker.client.get(path), 404)
    response = await attacker.client.post(TOKEN, data={"username": "x", "password": "y"})
    for name, value in (
        ("x-content-type-options", "nosniff"),
        ("x-frame-options", "DENY"),
        ("referrer-policy", "no-referrer"),
    ):
        assert response.headers.get(name) == value, name
    await attacker.register("cache@x.io")
    form = {"username": "cache@x.io", "password": PASSWORD}
    login = await attacker.client.post(TOKEN, data=form)
    assert login.headers.get("cache-control") == "no-store"
    log("6. no docs, security headers, token responses not cached")


async def a_subject_of_5000_digits(attacker: Attacker) -> None:
    """7. A validly signed token whose `sub` has 5000 digits."""
    user = await attacker.register("digits@x.io")
    claims = jwt.decode(
        await attacker.token("digits@x.io"), SECRET_KEY, algorithms=["HS256"]
    )
    assert claims["sub"] == str(user["id"])
    for changes in ({"sub": "9" * 5000}, {"stamp": ["x"]}, {"sub": 7}, {"iat": "now"}):
        forged = jwt.encode({**claims, **changes}, SECRET_KEY, algorithm="HS256")
        assert await attacker.status("GET", f"{USERS}/me", forged) == 401, changes
    log("7. a 5000-digit sub and other malformed claims: 401")


async def a_decomposed_email(attacker: Attacker) -> None:
    """8. An email registered in NFD logs in, however it is typed."""
    decomposed = unicodedata.normalize("NFD", "Zoë@X.io")
    await attacker.register(decomposed)
    await attacker.token(decomposed)
    await attacker.token(unicodedata.normalize("NFC", "zoë@x.io"))
    log("8. an NFD email registers and logs in, in either form")


async def attack(served: Served) -> None:
    # Connections that send nothing, held open while every other attack runs.
    held_open = asyncio.create_task(socket_attacks.idle_and_trickling(served.port))
    async with httpx.AsyncClient(base_url=served.base_url, timeout=30) as client:
        attacker = Attacker(client)
        root = await attacker.token(ROOT)
        await takeover_by_reused_id(attacker)
        await one_request_freezes_the_service(attacker)
        await reading_every_email(attacker)
        await guessing_passwords(attacker)
        await no_way_back(attacker, root)
        await production_defaults(attacker)
        await a_subject_of_5000_digits(attacker)
        await a_decomposed_email(attacker)
        await login_attacks.guesses_from_many_addresses(client, PASSWORD)
        await login_attacks.spraying_many_accounts(client)
        await login_attacks.rotating_ipv6(client, PASSWORD)
        await login_attacks.forwarded_values_that_are_no_address(client, PASSWORD)
    await socket_attacks.huge_heads(served.port, served.pid)
    await held_open


def weak_key_refused(env: dict[str, str]) -> None:
    """6. An obviously weak SECRET_KEY: the app does not start, and says why."""
    refused_at_start({**env, "SECRET_KEY": "a" * 32}, "SECRET_KEY")
    log("6. SECRET_KEY of 32 × 'a': refused at start-up")


def forwarded_addresses_believed_only_from_the_proxy(env: dict[str, str]) -> None:
    """16. Production told to believe every caller's X-Forwarded-For does not
    start; behind a proxy at another address, a new forwarded address per
    guess changes nothing."""
    refused_at_start({**env, "FORWARDED_ALLOW_IPS": "*"}, "FORWARDED_ALLOW_IPS")
    with uvicorn({**env, "FORWARDED_ALLOW_IPS": "192.0.2.1"}) as served:
        asyncio.run(
            login_attacks.rotating_forwarded_for(served.base_url, PASSWORD)
        )


async def tokens_on_every_worker(base_url: str) -> None:
    async with httpx.AsyncClient(base_url=base_url, timeout=30) as client:
        attacker = Attacker(client)
        await attacker.register("worker@x.io")
        token = await attacker.token("worker@x.io")
        # New connections, so uvicorn's workers share them out.
        statuses = [
            (await httpx.AsyncClient(base_url=base_url).get(
                f"{USERS}/me", headers=bearer(token)
            )).status_code
            for _ in range(20)
        ]
    assert statuses == [200] * 20, statuses


def development_workers_share_a_key(env: dict[str, str]) -> None:
    """6. Development with --workers 2 and no SECRET_KEY: one key for both."""
    with tempfile.TemporaryDirectory() as data_home:
        development = {
            key: value for key, value in env.items() if key != "SECRET_KEY"
        } | {"ENVIRONMENT": "development", "XDG_DATA_HOME": data_home}
        with uvicorn(development, "--workers", "2") as served:
            asyncio.run(tokens_on_every_worker(served.base_url))
    log("6. development, two workers, no SECRET_KEY: a token works on both")


def main() -> None:
    database_url = sys.argv[1]
    env = {
        **os.environ,
        **CHEAP_HASHING,
        "DATABASE_URL": database_url,
        "ENVIRONMENT": "production",
        "SECRET_KEY": SECRET_KEY,
        # The app's access lines would drown this check's output.
        "LOG_LEVEL": "WARNING",
    }
    env.pop("DOCS_ENABLED", None)
    subprocess.run(
        [sys.executable, "-m", "alembic", "upgrade", "head"],
        env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    subprocess.run(
        [sys.executable, "-m", "app.cli", "create-superuser", ROOT],
        env={**env, "SUPERUSER_PASSWORD": PASSWORD}, check=True,
        stdout=subprocess.DEVNULL,
    )
    started = datetime.now(UTC)
    with uvicorn(env) as served:
        asyncio.run(attack(served))
    # The flood at the production hashing costs, which are what it is about.
    production = {name: value for name, value in env.items() if name not in CHEAP_HASHING}
    with uvicorn(production) as served:
        flood = login_attacks.a_login_flood_beside_other_users(
            served.base_url, PASSWORD, sqlite=database_url.startswith("sqlite")
        )
        asyncio.run(flood)
    weak_key_refused(env)
    forwarded_addresses_believed_only_from_the_proxy(env)
    development_workers_share_a_key(env)
    seconds = (datetime.now(UTC) - started).total_seconds()
    log(f"every attack refused ({seconds:.1f} s)")


if __name__ == "__main__":
    main()
