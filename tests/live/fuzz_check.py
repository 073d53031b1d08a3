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

import json
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).parent))
from serving import free_port, wait_until_serving  # noqa: E402

USERS = "/api/v1/users"
ITEMS = "/api/v1/items"
TOKEN = "/api/v1/auth/token"
PASSWORD = "fuzz-check-password"
SECRET_KEY = secrets.token_urlsafe(32)
# Whoever takes longer than this to answer a single request fails the run.
MAX_RESPONSE_TIME = 5
# With JWT: two users who must not see each other's items (schemathesis's
# object_level_authorization check), and a superuser for the routes only a
# superuser may call. The fuzzer calls as the first that an operation admits.
ACCOUNTS = ("fuzzer@example.com", "peer@example.com", "root@example.com")
# Where schemathesis logs in from (see auth_config).
LOGIN_ADDRESS = "192.0.2.1"


def seed(base_url: str, jwt: bool) -> list[int]:
    """Rows for the fuzzer to find; with JWT, the ids of its accounts.

    Schemathesis tries the smallest ids (1) among others, so users and items
    with low ids send its reads, updates and deletes past the 404.
    """
    ids = []
    for email in ACCOUNTS[:2]:
        body = {"email": email, "full_name": "F"}
        if jwt:
            body["password"] = PASSWORD
        created = httpx.post(f"{base_url}{USERS}", json=body)
        created.raise_for_status()
        ids.append(created.json()["id"])
        headers = {}
        if jwt:
            form = {"username": email, "password": PASSWORD}
            token = httpx.post(f"{base_url}{TOKEN}", data=form)
            token.raise_for_status()
            headers = {"Authorization": f"Bearer {token.json()['access_token']}"}
        for n in range(3):
            item: dict[str, object] = {"title": f"Item {n}"}
            if not jwt:
                item["owner_id"] = ids[-1]
            httpx.post(f"{base_url}{ITEMS}", json=item, headers=headers).raise_for_status()
    return ids


def create_superuser(env: dict[str, str]) -> int:
    output = subprocess.run(
        [sys.executable, "-m", "app.cli", "create-superuser", ACCOUNTS[2]],
        env={**env, "SUPERUSER_PASSWORD": PASSWORD},
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return int(output.split("(id ")[1].split(")")[0])


def auth_config(workdir: Path) -> str:
    """Web Fuzzing Commons accounts: schemathesis logs each in through the
    token route, and again whenever a token stops working."""
    login = {
        "endpoint": TOKEN,
        "verb": "POST",
        "contentType": "application/x-www-form-urlencoded",
        # From another client address (uvicorn trusts the proxy headers of
        # 127.0.0.1) than the fuzzed requests, whose wrong passwords for these
        # very accounts would otherwise hold the logins back for the window.
        "headers": [{"name": "X-Forwarded-For", "value": LOGIN_ADDRESS}],
        "token": {
            "extractFrom": "body",
            "extractSelector": "/access_token",
            "sendIn": "header",
            "sendName": "Authorization",
            "sendTemplate": "Bearer {token}",
        },
    }
    document = {
        "auth": [
            {
                "name": email.split("@")[0],
                "loginEndpointAuth": {
                    **login,
                    "payloadUserPwd": {
                        "username": email,
                        "usernameField": "username",
                        "password": PASSWORD,
                        "passwordField": "password",
                    },
                },
            }
            for email in ACCOUNTS
        ]
    }
    (workdir / "auth.json").write_text(json.dumps(document))
    peers = ", ".join(f'"{email.split("@")[0]}"' for email in ACCOUNTS[:2])
    return f'''
[auth.wfc]
path = "{workdir / "auth.json"}"
peers = [{peers}]

# A schema-valid check of the current password can still find it wrong: 400.
[[operations]]
include-name = ["POST /api/v1/users/me/password", "PATCH /api/v1/users/{{user_id}}"]
checks.positive_data_acceptance.expected-statuses = [
    "2xx", "400", "401", "403", "404", "409", "429",
]
'''


# The contract answers an owner_id that names no user with 422, which the
# schema cannot express.
OWNER_NOT_FOUND = """
[[operations]]
include-name = "POST /api/v1/items"
checks.positive_data_acceptance.expected-statuses = [
    "2xx", "401", "403", "404", "409", "422", "429",
]
"""


def still_logs_in(base_url: str) -> list[str]:
    """The accounts the fuzzer can no longer log in as."""
    locked_out = []
    for email in ACCOUNTS:
        form = {"username": email, "password": PASSWORD}
        headers = {"X-Forwarded-For": LOGIN_ADDRESS}
        response = httpx.post(f"{base_url}{TOKEN}", data=form, headers=headers)
        if response.status_code != 200:
            locked_out.append(f"{email}: {response.status_code} {response.text}")
    return locked_out


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
        # The fuzzer reads /openapi.json.
        "DOCS_ENABLED": "true",
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
    workdir = Path(tempfile.mkdtemp(prefix="fuzz-"))
    try:
        # While uvicorn starts (the app needs no schema to start).
        migrate(database_url)
        wait_until_serving(server, f"{base_url}/health")
        jwt = TOKEN in httpx.get(f"{base_url}/openapi.json").json()["paths"]
        account_ids = seed(base_url, jwt)
        config = workdir / "schemathesis.toml"
        if jwt:
            account_ids.append(create_superuser(env))
            config.write_text(auth_config(workdir))
        else:
            config.write_text(OWNER_NOT_FOUND)
        started = time.monotonic()
        result = subprocess.run(
            [
                sys.executable, "-m", "schemathesis.cli", "--config-file", str(config),
                "run",
                f"{base_url}/openapi.json",
                # Every check schemathesis has, use_after_free, ignored_auth
                # and negative_data_rejection among them.
                "--checks", "all",
                "--max-response-time", str(MAX_RESPONSE_TIME),
                "--max-examples", max_examples,
                # The same cases every run: a failure here is a bug, not bad luck.
                "--seed", "20261125",
                # Stateful: sequences that follow the links schemathesis infers
                # (create, then read, change and delete what was created).
                "--phases", "examples,coverage,fuzzing,stateful",
                "--request-timeout", "10",
                "--workers", "1",
                "--no-color",
            ],
            env={
                **env,
                "SCHEMATHESIS_HOOKS": "fuzz_hooks",
                "PYTHONPATH": str(Path(__file__).parent),
                "FUZZ_ACCOUNT_IDS": ",".join(map(str, account_ids)),
            },
            check=False,
        )
        print(f"fuzz check: schemathesis ran {time.monotonic() - started:.1f} s")
        if result.returncode != 0:
            raise SystemExit("fuzz check: schemathesis found failures (above)")
        if jwt and (locked_out := still_logs_in(base_url)):
            # Everything after that ran as nobody: the run proved little.
            raise SystemExit(f"fuzz check: the fuzzer locked itself out of {locked_out}")
    finally:
        server.terminate()
        server.wait(timeout=10)
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
