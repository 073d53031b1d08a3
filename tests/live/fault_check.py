"""Take the database away from a rendered project served by uvicorn, and watch it cope.

Run with the rendered project's own Python, from the project's directory:

    python fault_check.py postgres BINARY_DIRECTORY   # asyncpg variants
    python fault_check.py sqlite                      # aiosqlite variants

PostgreSQL: a server of the check's own (initdb'd from BINARY_DIRECTORY, never the
one the tests use) is stopped before uvicorn starts, started, stopped again under
traffic and started again. SQLite: the database file's directory does not exist
at start-up. Then both: more concurrent requests than the pool holds while a lock
taken on the database side keeps every connection busy, and a SIGTERM to uvicorn
with requests in flight.

Every answer must come within the contract's 5 seconds (DATABASE_TIMEOUT is 1 s
here, 2 s on SQLite): no hang, no 500, and the app recovers without a restart.
Exits non-zero on the first broken promise.
"""

import asyncio
import os
import secrets
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).parent))
from database_locks import DatabaseLock, PostgresLock, SQLiteLock  # noqa: E402
from postgres_server import PostgresServer  # noqa: E402
from serving import free_port, image_command, wait_until_serving  # noqa: E402

USERS = "/api/v1/users"
TOKEN = "/api/v1/auth/token"
PASSWORD = "fault-check-password"
SECRET_KEY = secrets.token_urlsafe(32)
# What the app is given, and what the contract allows for any answer. SQLite's
# gets longer: the requests in flight at SIGTERM wait for its write lock, and
# must not give up before the check lets it go.
DATABASE_TIMEOUT = {"postgres": 1.0, "sqlite": 2.0}
CONTRACT_LIMIT = 5.0
POOL_SIZE = 2
UNAVAILABLE = {"detail": "Database unavailable"}


def log(message: str) -> None:
    print(f"fault check: {message}", flush=True)


class Uvicorn:
    """`uvicorn app.main:app` in a child process, on a free loopback port."""

    def __init__(self, database_url: str, database_timeout: float) -> None:
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        env = {
            **os.environ,
            "DATABASE_URL": database_url,
            "DATABASE_TIMEOUT": str(database_timeout),
            "DATABASE_POOL_SIZE": str(POOL_SIZE),
            "ENVIRONMENT": "production",
            # The check reads /openapi.json to know which variant it serves.
            "DOCS_ENABLED": "true",
            "SECRET_KEY": SECRET_KEY,
            # Real hashing at its cheapest: the faults are the database's, and
            # registrations must not queue behind argon2 on a small machine.
            "PASSWORD_HASH_TIME_COST": "1",
            "PASSWORD_HASH_MEMORY_COST": "8",
            "PASSWORD_HASH_PARALLELISM": "1",
        }
        command = image_command(self.port, "--no-access-log")
        # A file, not a pipe: a pipe nobody reads fills up and stalls uvicorn.
        self.log = tempfile.TemporaryFile("w+")
        self.process = subprocess.Popen(command, env=env, stderr=self.log)
        try:
            # Any answer will do: the database may well be down.
            wait_until_serving(self.process, f"{self.base_url}/docs")
        except SystemExit:
            self.stop()
            raise

    def stop(self) -> str:
        """SIGTERM, as a container runtime sends it; uvicorn's log."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        self.process.wait(timeout=30)
        self.log.seek(0)
        return self.log.read()


class Api:
    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client
        self.jwt = False
        self.count = 0

    async def detect_jwt(self) -> None:
        schema = (await self.client.get("/openapi.json")).json()
        self.jwt = TOKEN in schema["paths"]

    def new_user(self) -> dict[str, str]:
        self.count += 1
        body = {"email": f"u{self.count}@x.io", "full_name": "U"}
        return {**body, "password": PASSWORD} if self.jwt else body

    async def call(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """One request, which must be answered within the contract's limit."""
        started = time.monotonic()
        try:
            async with asyncio.timeout(CONTRACT_LIMIT):
                response = await self.client.request(method, path, **kwargs)
        except TimeoutError:
            raise AssertionError(
                f"{method} {path}: no answer within {CONTRACT_LIMIT} s"
            ) from None
        elapsed = time.monotonic() - started
        log(f"{method} {path} -> {response.status_code} in {elapsed:.2f} s")
        return response

    async def expect(self, method: str, path: str, status: int, **kwargs: Any) -> Any:
        response = await self.call(method, path, **kwargs)
        assert response.status_code == status, (
            f"{method} {path}: expected {status}, got {response.status_code} "
            f"{response.text[:300]}"
        )
        return response.json() if response.content else None

    async def expect_unavailable(self) -> None:
        health = await self.expect("GET", "/health", 503)
        assert health["status"] == "unavailable" and health["database"], health
        assert await self.expect("POST", USERS, 503, json=self.new_user()) == UNAVAILABLE
        # Alive all the same: a liveness probe must not restart the service.
        assert await self.expect("GET", "/health/live", 200) == {"status": "ok"}

    async def expect_available(self) -> dict[str, Any]:
        health = await self.expect("GET", "/health", 200)
        assert health == {"status": "ok", "database": "ok"}, health
        user: dict[str, Any] = await self.expect("POST", USERS, 201, json=self.new_user())
        return user


async def overload(api: Api, lock: DatabaseLock, requests: int) -> list[int]:
    """More concurrent writes than connections, while the database holds them all."""
    async with lock:
        tasks = [
            asyncio.create_task(api.client.post(USERS, json=api.new_user()))
            for _ in range(requests)
        ]
        # The first answer is a caller that found no connection in time; the
        # lock goes, and whoever holds a connection finishes.
        done, pending = await asyncio.wait(
            tasks, timeout=CONTRACT_LIMIT, return_when=asyncio.FIRST_COMPLETED
        )
        assert done, f"no answer within {CONTRACT_LIMIT} s while the pool was exhausted"
    responses = await asyncio.gather(*tasks)
    statuses = [response.status_code for response in responses]
    log(f"{requests} writes against a held lock: {sorted(statuses)}")
    assert set(statuses) <= {201, 503}, [r.text for r in responses][:3]
    assert 503 in statuses, "every caller was served although the pool was exhausted"
    for response in responses:
        if response.status_code == 503:
            assert response.json() == UNAVAILABLE, response.text
    return statuses


async def graceful_shutdown(server: Uvicorn, api: Api, lock: DatabaseLock) -> None:
    """SIGTERM while writes are in flight: they finish, then the pool closes."""
    before = await lock.row_count()
    async with lock:
        in_flight = [
            asyncio.create_task(api.client.post(USERS, json=api.new_user()))
            for _ in range(POOL_SIZE)
        ]
        await wait_for_waiters(lock, len(in_flight))
        server.process.send_signal(signal.SIGTERM)
        await asyncio.sleep(0.3)
        assert server.process.poll() is None, "uvicorn quit with requests in flight"
    responses = await asyncio.gather(*in_flight)
    statuses = [response.status_code for response in responses]
    log(f"in flight at SIGTERM: {statuses}")
    assert statuses == [201] * len(in_flight), [r.text for r in responses]
    output = await asyncio.to_thread(server.stop)
    # uvicorn re-raises the SIGTERM it handled once it has shut down cleanly.
    assert server.process.returncode in (0, -signal.SIGTERM), output[-2000:]
    assert "Application shutdown complete" in output, output[-2000:]
    assert await lock.row_count() == before + len(in_flight)
    connections = await lock.app_connections()
    assert connections == 0, f"{connections} connections left open after shutdown"


async def wait_for_waiters(lock: DatabaseLock, count: int) -> None:
    deadline = time.monotonic() + CONTRACT_LIMIT
    while time.monotonic() < deadline:
        waiting = await lock.waiting()
        if waiting == -1:  # SQLite cannot tell; give the requests a moment
            await asyncio.sleep(0.5)
            return
        if waiting >= count:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"{count} requests never reached the database")


async def lost_mid_request(
    api: Api, postgres: PostgresServer, lock: PostgresLock
) -> None:
    """Requests whose queries are running when the server goes: 503, not 500."""
    import asyncpg

    # Held by hand: the server's going breaks this connection too.
    holder = await asyncpg.connect(lock.dsn)
    await holder.execute("BEGIN; LOCK TABLE users IN ACCESS EXCLUSIVE MODE")
    in_flight = [
        asyncio.create_task(api.call("POST", USERS, json=api.new_user()))
        for _ in range(POOL_SIZE)
    ]
    await wait_for_waiters(lock, len(in_flight))
    postgres.stop()
    holder.terminate()
    responses = await asyncio.gather(*in_flight)
    statuses = [response.status_code for response in responses]
    log(f"in flight when the server stopped: {statuses}")
    # A write the server committed on its way down may still say 201.
    assert set(statuses) <= {201, 503}, [response.text for response in responses]
    for response in responses:
        if response.status_code == 503:
            assert response.json() == UNAVAILABLE, response.text
    # While it is down, the app says so, even when every write above made it.
    await api.expect_unavailable()


def migrate(database_url: str) -> None:
    subprocess.run(
        [sys.executable, "-m", "alembic", "upgrade", "head"],
        env={**os.environ, "DATABASE_URL": database_url, "SECRET_KEY": SECRET_KEY},
        check=True,
        stdout=subprocess.DEVNULL,
    )


@contextmanager
def serving(database_url: str, database_timeout: float) -> Iterator[Uvicorn]:
    server = Uvicorn(database_url, database_timeout)
    try:
        yield server
    except BaseException:
        server.log.seek(0)
        state = server.process.poll()
        running = "running" if state is None else f"exited {state}"
        print(f"uvicorn ({running})'s log, to the failure:\n" + server.log.read()[-6000:])
        raise
    finally:
        if server.process.poll() is None:
            server.process.kill()
            server.process.wait()


async def check_postgres(binaries: Path) -> None:
    postgres = PostgresServer(binaries)
    try:
        postgres.start()
        import asyncpg

        admin = await asyncpg.connect(postgres.url(driver="postgresql"))
        await admin.execute("CREATE DATABASE faults")
        await admin.close()
        database_url = postgres.url("faults")
        migrate(database_url)
        lock = PostgresLock(postgres.url("faults", driver="postgresql"))

        log("the server is down when the app starts")
        postgres.stop()
        with serving(database_url, DATABASE_TIMEOUT["postgres"]) as server:
            async with httpx.AsyncClient(base_url=server.base_url, timeout=30) as client:
                api = Api(client)
                await api.detect_jwt()
                await api.expect_unavailable()
                log("the server comes up: the app recovers without a restart")
                postgres.start()
                await api.expect_available()

                log("the server goes away under traffic, pooled connections and all")
                created = await asyncio.gather(
                    *(api.call("POST", USERS, json=api.new_user()) for _ in range(8))
                )
                assert {r.status_code for r in created} == {201}
                postgres.stop()
                await api.expect_unavailable()
                await api.expect_unavailable()
                log("the server returns: every pooled connection is replaced")
                postgres.start()
                again = await asyncio.gather(
                    *(api.call("POST", USERS, json=api.new_user()) for _ in range(8)),
                    *(api.call("GET", "/health") for _ in range(8)),
                )
                assert {r.status_code for r in again} == {200, 201}, [
                    r.text for r in again if r.status_code not in (200, 201)
                ]

                log("the server goes away under requests in flight")
                await lost_mid_request(api, postgres, lock)
                postgres.start()
                await api.expect_available()

                log("the pool is exhausted")
                before = await lock.row_count()
                statuses = await overload(api, lock, 20)
                assert await lock.row_count() == before + statuses.count(201)
                await api.expect_available()

                log("SIGTERM with requests in flight")
                await graceful_shutdown(server, api, lock)
    finally:
        postgres.remove()


async def check_sqlite() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "not-yet" / "faults.db"
        database_url = f"sqlite+aiosqlite:///{path}"
        lock = SQLiteLock(path)

        log("the database's directory does not exist when the app starts")
        with serving(database_url, DATABASE_TIMEOUT["sqlite"]) as server:
            async with httpx.AsyncClient(base_url=server.base_url, timeout=30) as client:
                api = Api(client)
                await api.detect_jwt()
                await api.expect_unavailable()
                log("the directory and schema appear: the app recovers without a restart")
                path.parent.mkdir()
                migrate(database_url)
                await api.expect_available()

                log("the database is locked by another writer: more writes than connections")
                before = await lock.row_count()
                statuses = await overload(api, lock, 20)
                assert await lock.row_count() == before + statuses.count(201)
                await api.expect_available()

                log("SIGTERM with requests in flight")
                await graceful_shutdown(server, api, lock)


def main() -> None:
    started = time.monotonic()
    if sys.argv[1:2] == ["postgres"] and len(sys.argv) == 3:
        asyncio.run(check_postgres(Path(sys.argv[2])))
    elif sys.argv[1:] == ["sqlite"]:
        asyncio.run(check_sqlite())
    else:
        raise SystemExit(__doc__)
    log(f"every fault answered in time, no 500, recovered ({time.monotonic() - started:.1f} s)")


if __name__ == "__main__":
    main()
