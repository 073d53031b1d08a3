"""Fuzz a rendered project served by uvicorn with schemathesis, from its OpenAPI.

Run from the project's directory with a Python that has the project's
dependencies and schemathesis (the `fuzz` nox session's):

    python fuzz_check.py DATABASE_URL MAX_EXAMPLES

It migrates DATABASE_URL (an empty database), serves the app, creates a few rows
for the fuzzer to find, logs in when the app has JWT (so the fuzzer gets past the
401s), and runs schemathesis over every operation: no answer may be a 5xx, and
every answer must match the OpenAPI document (status code, content type, body).
Exits non-zero on any failure, with schemathesis's reproduction of it.
"""

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).parent))
from serving import free_port, wait_until_serving  # noqa: E402

USERS = "/api/v1/users"
ITEMS = "/api/v1/items"
TOKEN = "/api/v1/auth/token"
PASSWORD = "fuzz-check-password"
SECRET_KEY = "fuzz-check-secret-key-" + "k" * 32
CHECKS = (
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_schema_conformance",
)


def seed(base_url: str) -> list[str]:
    """Rows for the fuzzer to find, and its credentials (schemathesis options).

    Schemathesis tries the smallest ids (1) among others, so users and items
    with low ids send its reads, updates and deletes past the 404. With JWT the
    fuzzer's own user is not id 1, which it would delete, killing its token.
    """
    jwt = TOKEN in httpx.get(f"{base_url}/openapi.json").json()["paths"]
    headers: dict[str, str] = {}
    owner_id = 0
    for email in ("first@example.com", "fuzzer@example.com"):
        body = {"email": email, "full_name": "F"}
        if jwt:
            body["password"] = PASSWORD
        created = httpx.post(f"{base_url}{USERS}", json=body)
        created.raise_for_status()
        owner_id = created.json()["id"]
    if jwt:
        form = {"username": "fuzzer@example.com", "password": PASSWORD}
        token = httpx.post(f"{base_url}{TOKEN}", data=form)
        token.raise_for_status()
        headers = {"Authorization": f"Bearer {token.json()['access_token']}"}
    for n in range(3):
        item: dict[str, object] = {"title": f"Item {n}"}
        if not jwt:
            item["owner_id"] = owner_id
        httpx.post(f"{base_url}{ITEMS}", json=item, headers=headers).raise_for_status()
    return [option for item in headers.items() for option in ("-H", ": ".join(item))]


def migrate(database_url: str) -> None:
    """Empty the database, as an earlier run or TEST_DATABASE_URL's other users
    may have left it, and build the schema, in this process: one start-up less."""
    sys.path.insert(0, os.getcwd())
    from alembic import command
    from alembic.config import Config

    config = Config("alembic.ini")
    config.attributes["database_url"] = database_url
    command.downgrade(config, "base")
    command.upgrade(config, "head")


def main() -> None:
    database_url, max_examples = sys.argv[1], sys.argv[2]
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "ENVIRONMENT": "production",
        "SECRET_KEY": SECRET_KEY,
        # Real hashing at its cheapest: the fuzzer registers many users.
        "PASSWORD_HASH_TIME_COST": "1",
        "PASSWORD_HASH_MEMORY_COST": "8",
        "PASSWORD_HASH_PARALLELISM": "1",
    }
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    server = subprocess.Popen(
        [
            sys.executable, "-m", "uvicorn", "app.main:app", "--port", str(port),
            "--log-level", "warning",
        ],
        env=env,
    )
    try:
        # While uvicorn starts (the app needs no schema to start).
        migrate(database_url)
        wait_until_serving(server, f"{base_url}/health")
        headers = seed(base_url)
        started = time.monotonic()
        result = subprocess.run(
            [
                sys.executable, "-m", "schemathesis.cli", "run",
                f"{base_url}/openapi.json",
                "--checks", ",".join(CHECKS),
                "--max-examples", max_examples,
                # The same cases every run: a failure here is a bug, not bad luck.
                "--seed", "20261125",
                # Stateful: sequences that follow the links schemathesis infers
                # (create, then read, change and delete what was created).
                "--phases", "examples,coverage,fuzzing,stateful",
                "--request-timeout", "10",
                "--workers", "1",
                "--no-color",
                *headers,
            ],
            env={**env, "SCHEMATHESIS_HOOKS": ""},
            check=False,
        )
        print(f"fuzz check: schemathesis ran {time.monotonic() - started:.1f} s")
        if result.returncode != 0:
            raise SystemExit("fuzz check: schemathesis found failures (above)")
    finally:
        server.terminate()
        server.wait(timeout=10)


if __name__ == "__main__":
    main()
