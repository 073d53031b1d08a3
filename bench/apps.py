"""The apps under load: a rendered variant or a reference app from this
directory, each rendered, given a database, served by uvicorn and seeded
through its own API. Used by run.py."""

from __future__ import annotations

import asyncio
import os
import secrets
import shutil
import socket
import sqlite3
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import httpx
import jwt

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
DOCS = ROOT / "docs"
sys.path.insert(0, str(ROOT / "tests/live"))
from serving import image_command  # noqa: E402

USERS = 20
ITEMS = 2000
CONNECTIONS = 50
# Random, so that the variants (which refuse an obviously weak key) take it.
SECRET_KEY = secrets.token_urlsafe(32)
ORMS = ("sqlalchemy", "sqlmodel", "databases")
DRIVERS = ("asyncpg", "aiosqlite")
WORKLOADS = {
    "get": "GET /api/v1/items/{id}",
    "list": "GET /api/v1/items?limit=50",
    "create": "POST /api/v1/items",
}
CEILING, FLOOR, PEER = "ceiling", "naive", "fullstack"
MODULES = {CEILING: "ceiling_app", FLOOR: "naive_app", PEER: "fullstack_app"}
# The name of a variant served again by plain `uvicorn app.main:app` ends so.
PLAIN_UVICORN = "-plain-uvicorn"


def log(message: str) -> None:
    print(f"bench: {message}", file=sys.stderr, flush=True)


# --- apps --------------------------------------------------------------------


@dataclass
class App:
    name: str
    driver: str
    jwt: bool
    kind: str  # "variant", CEILING, FLOOR or PEER
    # A variant is served as its image serves it, unless this says "plain
    # `uvicorn app.main:app`" (what the image's server options cost).
    plain_uvicorn: bool = False
    directory: Path | None = None
    database_url: str = ""
    port: int = 0
    process: subprocess.Popen[bytes] | None = None
    item_ids: list[int] = field(default_factory=list)
    token: str = ""
    owner_id: int = 0
    last_seeded: int = 0  # items above this id were made by a create workload

    @property
    def reference(self) -> str:
        """The name of the ceiling (or floor) this app is compared with."""
        return f"{CEILING}-{'jwt' if self.jwt else 'nojwt'}"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def clean_env(**extra: str) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"VIRTUAL_ENV", "UV_PROJECT_ENVIRONMENT", "PYTHONPATH"}
    }
    return env | extra


def render(variant: App, workdir: Path) -> Path:
    """A fresh render of the working tree (uncommitted changes included)."""
    import copier

    destination = workdir / variant.name
    shutil.rmtree(destination, ignore_errors=True)
    orm, driver, jwt_answer = variant.name.split("-")
    copier.run_copy(
        str(ROOT),
        destination,
        data={
            "project_name": "Bench",
            "orm": orm,
            "driver": driver,
            "jwt": jwt_answer == "jwt",
        },
        vcs_ref="HEAD",
        defaults=True,
        quiet=True,
        unsafe=True,
    )
    subprocess.run(
        [sys.executable, "-m", "uv", "sync", "--quiet", "--no-dev"],
        cwd=destination,
        env=clean_env(),
        check=True,
    )
    return destination


def create_schema(app: App) -> None:
    """Build a variant's schema as its README says: `alembic upgrade head`."""
    assert app.directory is not None
    subprocess.run(
        [str(app.directory / ".venv/bin/alembic"), "upgrade", "head"],
        cwd=app.directory,
        env=clean_env(DATABASE_URL=app.database_url),
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


CEILING_SCHEMA = """
CREATE TABLE users (
    id SERIAL PRIMARY KEY,
    email VARCHAR(255) NOT NULL UNIQUE,
    full_name VARCHAR(255) NOT NULL,
    is_active BOOLEAN NOT NULL,
    created_at TIMESTAMP WITH TIME ZONE NOT NULL
);
CREATE TABLE items (
    id SERIAL PRIMARY KEY,
    title VARCHAR(200) NOT NULL,
    description VARCHAR(2000),
    is_completed BOOLEAN NOT NULL,
    owner_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at TIMESTAMP WITH TIME ZONE NOT NULL,
    updated_at TIMESTAMP WITH TIME ZONE NOT NULL
);
CREATE INDEX ix_items_owner_id ON items (owner_id);
"""


async def create_database(admin_url: str, name: str) -> str:
    connection = await asyncpg.connect(admin_url)
    try:
        await connection.execute(f'DROP DATABASE IF EXISTS "{name}"')
        await connection.execute(f'CREATE DATABASE "{name}"')
    finally:
        await connection.close()
    host_part = admin_url.split("://", 1)[1].rsplit("/", 1)[0]
    return f"postgresql+asyncpg://{host_part}/{name}"


async def run_sql(database_url: str, *statements: str) -> None:
    connection = await asyncpg.connect(database_url.replace("+asyncpg", ""))
    try:
        for sql in statements:
            await connection.execute(sql)
    finally:
        await connection.close()


def start(app: App) -> None:
    app.port = free_port()
    # The access line of every request is left out, as it is for the references.
    env = clean_env(
        DATABASE_URL=app.database_url, SECRET_KEY=SECRET_KEY, LOG_LEVEL="WARNING"
    )
    options = ["--no-access-log", "--log-level", "warning"]
    if app.kind == "variant":
        assert app.directory is not None
        python = str(app.directory / ".venv/bin/python")
        if app.plain_uvicorn:
            command = [python, "-m", "uvicorn", "app.main:app", "--port", str(app.port)]
            command += options
        else:
            command = image_command(app.port, *options, project=app.directory, python=python)
        cwd = app.directory
    else:
        module = f"{MODULES[app.kind]}:app"
        command = [sys.executable, "-m", "uvicorn", module, "--port", str(app.port), *options]
        cwd = BENCH
        env["BENCH_JWT"] = "1" if app.jwt else "0"
    app.process = subprocess.Popen(command, cwd=cwd, env=env)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if app.process.poll() is not None:
            raise SystemExit(f"bench: {app.name} exited at start-up")
        try:
            # The reference apps have no /health; any answer means "serving".
            httpx.get(app.url + "/docs", timeout=1)
            return
        except httpx.TransportError:
            time.sleep(0.2)
    raise SystemExit(f"bench: {app.name} did not start within 30 s")


def stop(app: App) -> None:
    if app.process is not None and app.process.poll() is None:
        app.process.terminate()
        try:
            app.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            app.process.kill()
    app.process = None


def mint_token(user_id: int) -> str:
    now = datetime.now(UTC)
    claims = {"sub": str(user_id), "iat": now, "exp": now + timedelta(days=1)}
    return jwt.encode(claims, SECRET_KEY, algorithm="HS256")


async def seed(app: App) -> None:
    """USERS users and ITEMS items, through the app's own API."""
    limits = asyncio.Semaphore(10)
    async with httpx.AsyncClient(base_url=app.url, timeout=30) as client:

        async def post(path: str, body: dict[str, object], token: str = "") -> int:
            headers = {"Authorization": f"Bearer {token}"} if token else {}
            async with limits:
                response = await client.post(path, json=body, headers=headers)
            if response.status_code != 201:
                raise SystemExit(
                    f"bench: seeding {app.name}: {path} answered "
                    f"{response.status_code} {response.text[:200]}"
                )
            return int(response.json()["id"])

        user_ids = []
        for number in range(USERS):
            body: dict[str, object] = {
                "email": f"user{number}@bench.example",
                "full_name": f"Bench User {number}",
            }
            if app.jwt and app.kind == "variant":
                body["password"] = "correct horse battery"
            user_ids.append(await post("/api/v1/users", body))
        if app.jwt and app.kind == "variant":
            # A variant's tokens carry the account's stamp: log in for them.
            tokens = {}
            for number, user_id in enumerate(user_ids):
                form = {
                    "username": f"user{number}@bench.example",
                    "password": "correct horse battery",
                }
                response = await client.post("/api/v1/auth/token", data=form)
                response.raise_for_status()
                tokens[user_id] = response.json()["access_token"]
        else:
            tokens = {user_id: mint_token(user_id) for user_id in user_ids}

        async def create(number: int) -> tuple[int, int]:
            owner_id = user_ids[number % USERS]
            body: dict[str, object] = {
                "title": f"Item {number}",
                "description": f"Seeded item number {number}",
            }
            if app.jwt:
                return owner_id, await post("/api/v1/items", body, tokens[owner_id])
            return owner_id, await post("/api/v1/items", body | {"owner_id": owner_id})

        created = await asyncio.gather(*(create(number) for number in range(ITEMS)))
    app.owner_id = user_ids[0]
    app.token = tokens[app.owner_id]
    # With JWT, an item of someone else answers 404; ask only for the caller's.
    app.item_ids = sorted(
        item_id for owner, item_id in created if not app.jwt or owner == app.owner_id
    )


def trim(app: App) -> None:
    """Delete what a create workload added, so every round lists the same rows."""
    # wrk stops without waiting for the requests it has sent: let them finish.
    time.sleep(1)
    if app.driver == "asyncpg":
        delete = f"DELETE FROM items WHERE id > {app.last_seeded}"
        asyncio.run(run_sql(app.database_url, delete, "VACUUM items"))
    else:
        path = app.database_url.split("///", 1)[1]
        with sqlite3.connect(path) as connection:
            connection.execute("DELETE FROM items WHERE id > ?", (app.last_seeded,))


async def last_item_id(app: App) -> int:
    if app.driver == "asyncpg":
        connection = await asyncpg.connect(app.database_url.replace("+asyncpg", ""))
        try:
            return int(await connection.fetchval("SELECT max(id) FROM items"))
        finally:
            await connection.close()
    path = app.database_url.split("///", 1)[1]
    with sqlite3.connect(path) as connection:
        return int(connection.execute("SELECT max(id) FROM items").fetchone()[0])
