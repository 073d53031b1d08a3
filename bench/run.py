"""Load-test every rendered variant against a raw-asyncpg ceiling and a naive floor.

Run through `nox -s bench`, which starts a throwaway PostgreSQL server and passes
its admin URL. Each app (a rendered variant, or a reference app from this
directory) gets its own database, seeded through its own HTTP API, and is served
by uvicorn with one worker. wrk drives every app at 50 connections; rounds are
interleaved across apps (in a new shuffled order each time) so that machine
noise hits all of them alike. The result is printed as a markdown table and
written to docs/benchmarks.md with a chart, docs/benchmarks.png.

    nox -s bench                         # the full run, about 10-15 minutes
    nox -s bench -- --quick              # one short round: is everything wired up?
    nox -s bench -- --only sqlalchemy-asyncpg --no-docs
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import random
import re
import secrets
import shutil
import socket
import sqlite3
import statistics
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


def log(message: str) -> None:
    print(f"bench: {message}", file=sys.stderr, flush=True)


# --- apps --------------------------------------------------------------------


@dataclass
class App:
    name: str
    driver: str
    jwt: bool
    kind: str  # "variant", CEILING, FLOOR or PEER
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
    command = [
        "uvicorn", "app.main:app", "--port", str(app.port), "--no-access-log",
        "--log-level", "warning",
    ]
    if app.kind == "variant":
        assert app.directory is not None
        executable = [str(app.directory / ".venv/bin/python"), "-m"]
        cwd = app.directory
    else:
        command[1] = f"{MODULES[app.kind]}:app"
        executable = [sys.executable, "-m"]
        cwd = BENCH
        env["BENCH_JWT"] = "1" if app.jwt else "0"
    app.process = subprocess.Popen([*executable, *command], cwd=cwd, env=env)
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


# --- wrk -----------------------------------------------------------------------


def lua_string(text: str) -> str:
    return json.dumps(text)  # a JSON string is a valid Lua string literal here


def write_script(app: App, workload: str, directory: Path) -> Path:
    headers = ['["Content-Type"] = "application/json"']
    if app.jwt:
        headers.append(f'["Authorization"] = {lua_string("Bearer " + app.token)}')
    lines = [f"local headers = {{{', '.join(headers)}}}"]
    if workload == "get":
        lines.append(f"local ids = {{{','.join(map(str, app.item_ids))}}}")
        lines.append(
            "request = function()\n"
            '  return wrk.format("GET", "/api/v1/items/" .. ids[math.random(#ids)], headers)\n'
            "end"
        )
    elif workload == "list":
        lines.append(
            "request = function()\n"
            '  return wrk.format("GET", "/api/v1/items?limit=50", headers)\n'
            "end"
        )
    else:
        body = {"title": "Benchmark item", "description": "Made by wrk"}
        if not app.jwt:
            body["owner_id"] = app.owner_id
        lines.append(f"local body = {lua_string(json.dumps(body))}")
        lines.append(
            "request = function()\n"
            '  return wrk.format("POST", "/api/v1/items", headers, body)\n'
            "end"
        )
    script = directory / f"{app.name}-{workload}.lua"
    script.write_text("\n".join(lines) + "\n")
    return script


@dataclass
class Sample:
    rps: float
    p50_ms: float
    p99_ms: float
    errors: int


UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}


def parse_latency(text: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text)
    if match is None:
        raise ValueError(f"unreadable latency {text!r}")
    return float(match[1]) * UNITS_MS[match[2]]


def run_wrk(app: App, script: Path, seconds: float) -> Sample:
    output = subprocess.run(
        [
            "wrk", "-t2", f"-c{CONNECTIONS}", f"-d{seconds:g}s", "--latency",
            "-s", str(script), app.url,
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", output)[1])  # type: ignore[index]
    # wrk pads a latency of a second or more ("1.09s ") with a trailing space.
    percentiles = dict(re.findall(r"^\s+(50|99)%\s+(\S+)\s*$", output, re.MULTILINE))
    if set(percentiles) != {"50", "99"}:
        # No request finished: report it rather than lose the whole run.
        log(f"{app.name}: wrk measured no latency:\n{output}")
        return Sample(rps, math.nan, math.nan, max(1, int(rps * seconds)))
    errors = 0
    if found := re.search(r"Non-2xx or 3xx responses: (\d+)", output):
        errors += int(found[1])
    if found := re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output):
        errors += sum(int(number) for number in found.groups())
    return Sample(
        rps, parse_latency(percentiles["50"]), parse_latency(percentiles["99"]), errors
    )


def measure(
    apps: list[App], rounds: int, seconds: float, warmup: float, scripts: Path
) -> dict[tuple[str, str], list[Sample]]:
    samples: dict[tuple[str, str], list[Sample]] = {}
    shuffler = random.Random(8)
    for app in apps:
        for workload in WORKLOADS:
            write_script(app, workload, scripts)
    if warmup:
        log(f"warming up {len(apps)} apps")
        for app in apps:
            for workload in WORKLOADS:
                run_wrk(app, scripts / f"{app.name}-{workload}.lua", warmup)
                if workload == "create":
                    trim(app)
    for number in range(1, rounds + 1):
        for workload in WORKLOADS:
            order = apps[:]
            shuffler.shuffle(order)
            for app in order:
                sample = run_wrk(app, scripts / f"{app.name}-{workload}.lua", seconds)
                samples.setdefault((app.name, workload), []).append(sample)
                if workload == "create":
                    trim(app)
            log(f"round {number}/{rounds}: {workload} done")
    return samples


# --- the report ----------------------------------------------------------------


@dataclass
class Result:
    app: str
    workload: str
    rps: float
    p50_ms: float
    p99_ms: float
    errors: int
    ratio: float | None = None  # req/s over the ceiling's
    floor_ratio: float | None = None  # req/s over the naive app's
    peer_ratio: float | None = None  # req/s over the full-stack pattern's
    p99_ratio: float | None = None  # p99 over the ceiling's


def summarise(
    apps: list[App], samples: dict[tuple[str, str], list[Sample]]
) -> list[Result]:
    results: dict[tuple[str, str], Result] = {}
    for (name, workload), runs in samples.items():
        results[name, workload] = Result(
            name,
            workload,
            statistics.median(run.rps for run in runs),
            statistics.median(run.p50_ms for run in runs),
            statistics.median(run.p99_ms for run in runs),
            sum(run.errors for run in runs),
        )
    for app in apps:
        mode = "jwt" if app.jwt else "nojwt"
        for workload in WORKLOADS:
            result = results[app.name, workload]
            ceiling = results.get((f"{CEILING}-{mode}", workload))
            floor = results.get((f"{FLOOR}-{mode}", workload))
            peer = results.get((f"{PEER}-{mode}", workload))
            if ceiling and app.driver == "asyncpg":
                result.ratio = result.rps / ceiling.rps
                result.p99_ratio = result.p99_ms / ceiling.p99_ms
            if floor and app.driver == "asyncpg":
                result.floor_ratio = result.rps / floor.rps
            if peer and app.driver == "asyncpg":
                result.peer_ratio = result.rps / peer.rps
    return [results[app.name, workload] for app in apps for workload in WORKLOADS]


def ratio(value: float | None) -> str:
    return "" if value is None else f"{value:.2f}×"


def table(results: list[Result]) -> str:
    lines = [
        "| app | workload | req/s | p50 ms | p99 ms | × ceiling | × naive "
        "| × full-stack | p99 × ceiling | errors |",
        "|---|---|--:|--:|--:|--:|--:|--:|--:|--:|",
    ]
    for result in results:
        lines.append(
            f"| {result.app} | {WORKLOADS[result.workload]} | {result.rps:,.0f} "
            f"| {result.p50_ms:.1f} | {result.p99_ms:.1f} | {ratio(result.ratio)} "
            f"| {ratio(result.floor_ratio)} | {ratio(result.peer_ratio)} "
            f"| {ratio(result.p99_ratio)} | {result.errors} |"
        )
    return "\n".join(lines)


# The floors each ORM style must keep: × the naive app, per workload.
NAIVE_TARGETS = {"get": 1.5, "list": 1.25, "create": 1.5}


def check_targets(apps: list[App], results: list[Result]) -> list[str]:
    """The targets, as sentences naming each miss: every ORM style at least
    NAIVE_TARGETS × the naive app, ahead of the full-stack pattern, and a p99
    at most 2× the ceiling's."""
    misses = []
    by_key = {(result.app, result.workload): result for result in results}
    for app in apps:
        if app.kind != "variant" or app.driver != "asyncpg":
            continue
        for workload, target in NAIVE_TARGETS.items():
            result = by_key[app.name, workload]
            if result.floor_ratio is not None and result.floor_ratio < target:
                misses.append(
                    f"{app.name} {workload}: {result.floor_ratio:.2f}× naive < {target}×"
                )
            if result.peer_ratio is not None and result.peer_ratio <= 1:
                misses.append(
                    f"{app.name} {workload}: {result.peer_ratio:.2f}× full-stack ≤ 1×"
                )
            if result.p99_ratio is not None and result.p99_ratio > 2:
                misses.append(
                    f"{app.name} {workload}: p99 {result.p99_ratio:.2f}× ceiling > 2×"
                )
    return misses


def chart(results: list[Result], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    postgres = [result for result in results if "aiosqlite" not in result.app]
    names = list(dict.fromkeys(result.app for result in postgres))
    figure, axes = plt.subplots(1, len(WORKLOADS), figsize=(15, 0.45 * len(names) + 1.6))
    for axis, (workload, label) in zip(axes, WORKLOADS.items(), strict=True):
        values = {
            result.app: result.rps for result in postgres if result.workload == workload
        }
        colours = [
            "#2e7d32" if name.startswith(CEILING)
            else "#c62828" if name.startswith(FLOOR)
            else "#f9a825" if name.startswith(PEER)
            else "#00897b"
            for name in names
        ]
        axis.barh(names, [values[name] for name in names], color=colours)
        axis.invert_yaxis()
        axis.set_title(label, fontsize=10)
        axis.set_xlabel("requests/s (wrk, 50 connections)")
        axis.grid(axis="x", alpha=0.3)
        if axis is not axes[0]:
            axis.set_yticklabels([])
    figure.suptitle(
        "PostgreSQL (asyncpg), one uvicorn worker: variants, ceiling (green), "
        "full-stack pattern (amber), naive floor (red)"
    )
    figure.tight_layout()
    figure.savefig(path, dpi=90)
    plt.close(figure)


PAGE = """\
# Benchmarks

How fast each rendered variant serves the [contract](contract.md), next to two
reference apps measured in the same run on the same machine:

- **ceiling**: FastAPI and raw asyncpg, hand-written for the same routes and the same
  JSON (`bench/ceiling_app.py`);
- **naive**: async SQLAlchemy ORM written the way most tutorials write it
  (`bench/naive_app.py`): the floor the variants must stay well above;
- **full-stack**: the pattern of `fastapi/full-stack-fastapi-template`, the template
  many teams pick today (`bench/fullstack_app.py`): a synchronous SQLModel session over
  psycopg, plain `def` endpoints in FastAPI's thread pool. Every variant must beat it.

Each app is served by uvicorn with one worker, on its own database seeded through
its own API with {users} users and {items} items, and driven by
[wrk](https://github.com/wg/wrk) at {connections} connections. JWT variants and the
`-jwt` reference apps send a valid bearer token, and list and read only the
caller's items. Rounds are interleaved across apps so noise hits all alike; each
figure is the median of {rounds} rounds of {seconds:g} s. Absolute numbers depend on
the machine ({machine}); the ratios are what to compare.

![Requests per second on PostgreSQL]({chart})

## PostgreSQL (asyncpg)

"× ceiling", "× naive", "× full-stack" and "p99 × ceiling" compare with the
reference app of the same JWT setting. The targets, for every ORM style: at least
1.5× the naive app on GET by id and POST and 1.25× on the list, ahead of the
full-stack pattern everywhere, and a p99 at most 2× the ceiling's. The run prints
each miss.

{postgres}

## SQLite (aiosqlite)

Reported on their own: SQLite has no server to compare with.

{sqlite}

## What the data layers do for speed

Services are written the way each library's docs write them (`session.get()`,
`session.add()` and `commit()`; `fetch_one()` and `execute()`). The speed comes from
how `app/database.py` sets up the request cycle around them, each setting with its
reason in a comment there:

- **One pooled connection per request**, given back when the endpoint returns: a
  JWT request reads its caller and then its data on the same connection, never
  queueing for the pool twice.
- **Connections handed out first come, first served**: `Database` admits at most
  `DATABASE_POOL_SIZE` requests to the pool at once through an `asyncio.Semaphore`,
  which serves waiters in order. The pools' own queues let a request that arrives
  take a connection that a waiting one was just woken for; under this load some
  requests waited for seconds, and p99 was 4-15× the ceiling's
  (`tests/test_faults.py` checks the order).
- **Reads in autocommit**: in the SQLAlchemy-based styles, the session of a `GET` or
  `HEAD` request is bound to the same pool with `isolation_level="AUTOCOMMIT"`, so
  its queries pay no `BEGIN` and `ROLLBACK` round trips; writes keep their
  transactions.
- **A pool of exactly `DATABASE_POOL_SIZE` connections**, no overflow: overflow
  connections are opened and closed again under load, a connect per request.
- **No pre-ping** on PostgreSQL: SQLAlchemy's asyncpg pre-ping costs three round
  trips per checkout. Instead a checkout listener replaces a connection that asyncpg
  already knows the server closed (no round trip), and a connection that dies
  mid-query fails its request with 503 and discards the pool's older connections.
- **No session reset** in the `databases` style: asyncpg's pool runs `RESET ALL`,
  `UNLISTEN *` and more on every connection given back, a round trip per request
  for session state the application never sets; it still rolls back an open
  transaction.
- **`expire_on_commit=False`**: what a service returns after its commit is read from
  the object it has, with no reload.
- **The page and its total in one statement** (`count(*) OVER ()`), in every style;
  the SQLAlchemy style reads the page as rows of `Item`'s columns, as the ORM docs
  show for data that is only read.
- **`gc.freeze()` in the lifespan**: the objects made at start-up stay out of every
  full garbage collection, which otherwise pauses a busy process for tens of
  milliseconds.
- `uvicorn[standard]` (uvloop, httptools) in every project's dependencies.

## What is left between each style and the ceiling

Profiles (py-spy) of the variants under this load show where the rest goes:

- **SQLAlchemy and SQLModel**: every statement passes through SQLAlchemy's asyncio
  bridge (a greenlet switch), its statement cache lookup and its result machinery,
  and each request through the `AsyncSession`, its identity map and its unit of
  work; a write adds BEGIN and COMMIT round trips that the ceiling's single
  autocommitted INSERT does not pay. These are what the ORM styles are; the data
  layer keeps them to one connection and the fewest round trips. Reading rows
  instead of objects, and building the INSERT once at import, won 15-20 % more on
  GET and POST, at the price of services no reader of the ORM docs would write.
- **databases**: encode/databases compiles every SQLAlchemy Core statement again on
  every execution (it has no compiled-statement cache): about a quarter of a JWT
  GET's time. Writing the queries as SQL text would save most of it, and give up
  the Core expressions that make the style.
- **p99 follows throughput**: wrk keeps 50 requests in flight, so an app's mean
  latency is 50 divided by its requests/s. An app at half the ceiling's rate
  has about twice its latencies at every percentile, so "p99 at most 2× the
  ceiling's" holds only together with about 0.5× its rate; what the data layer
  owes is a tail of the same shape as the ceiling's (p99 over p50), which the
  turns above give.
- **× naive on the list**: most of a 50-item page's time is validating and
  serialising the items, which every app pays alike, so the naive app is closer
  to the ceiling there (0.35-0.45×) than on a single item, and 1.6× of it would
  mean 0.6-0.7× the ceiling.

## Running it

```console
apt-get install -y wrk     # the load generator, from the Debian packages
nox -s bench               # renders, seeds and measures everything: about 10-15 minutes
nox -s bench -- --quick    # one short round
nox -s bench -- --only sqlalchemy-asyncpg --no-docs
```

The session is not part of the default `nox` run. It rewrites this page and its
chart; `bench/run.py --help` lists its options.
"""


def write_docs(
    results: list[Result], rounds: int, seconds: float, chart_name: str
) -> None:
    postgres = [result for result in results if "aiosqlite" not in result.app]
    sqlite = [result for result in results if "aiosqlite" in result.app]
    machine = f"{os.cpu_count()} CPUs, shared"
    (DOCS / "benchmarks.md").write_text(
        PAGE.format(
            users=USERS,
            items=f"{ITEMS:,}",
            connections=CONNECTIONS,
            rounds=rounds,
            seconds=seconds,
            machine=machine,
            chart=chart_name,
            postgres=table(postgres) if postgres else "Not measured in this run.",
            sqlite=table(sqlite) if sqlite else "Not measured in this run.",
        )
    )


# --- main ----------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--postgres", required=True, help="admin URL of a scratch server")
    parser.add_argument("--workdir", type=Path, required=True)
    parser.add_argument("--quick", action="store_true", help="one round of 2 s")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=4)
    parser.add_argument("--sqlite-rounds", type=int, default=2)
    parser.add_argument(
        "--only", action="append", default=[],
        help="measure only variants whose name contains this (repeatable)",
    )
    parser.add_argument("--no-docs", action="store_true", help="only print the table")
    parser.add_argument("--no-references", action="store_true")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("bench: wrk is missing; install it with `apt-get install -y wrk`")
    if args.quick:
        args.rounds, args.seconds, args.sqlite_rounds = 1, 2, 1
    warmup = 0 if args.quick else 1
    args.workdir.mkdir(parents=True, exist_ok=True)
    scripts = args.workdir / "scripts"
    scripts.mkdir(exist_ok=True)

    variants = [
        App(f"{orm}-{driver}-{jwt}", driver, jwt == "jwt", "variant")
        for driver in DRIVERS
        for orm in ORMS
        for jwt in ("nojwt", "jwt")
    ]
    if args.only:
        variants = [v for v in variants if any(part in v.name for part in args.only)]
    references = [] if args.no_references else [
        App(f"{kind}-{mode}", "asyncpg", mode == "jwt", kind)
        for kind in (CEILING, FLOOR, PEER)
        for mode in ("nojwt", "jwt")
    ]
    render_seconds = []
    for app in variants:
        started = time.monotonic()
        app.directory = render(app, args.workdir)
        render_seconds.append(time.monotonic() - started)
        log(f"rendered and synced {app.name} in {render_seconds[-1]:.1f} s")
    for app in [*variants, *references]:
        if app.driver == "asyncpg":
            app.database_url = asyncio.run(
                create_database(args.postgres, "bench_" + app.name.replace("-", "_"))
            )
        else:
            assert app.directory is not None
            app.database_url = f"sqlite+aiosqlite:///{app.directory / 'bench.db'}"
        if app.kind == "variant":
            create_schema(app)
        elif app.kind == CEILING:
            asyncio.run(run_sql(app.database_url, CEILING_SCHEMA))
        # The naive app and the peer create their tables at start-up.

    groups = [
        ("asyncpg", [a for a in [*variants, *references] if a.driver == "asyncpg"], args.rounds),
        ("aiosqlite", [a for a in variants if a.driver == "aiosqlite"], args.sqlite_rounds),
    ]
    samples: dict[tuple[str, str], list[Sample]] = {}
    measured: list[App] = []
    for label, apps, rounds in groups:
        if not apps:
            continue
        try:
            for app in apps:
                start(app)
                asyncio.run(seed(app))
                app.last_seeded = asyncio.run(last_item_id(app))
            log(f"{label}: {len(apps)} apps seeded; measuring")
            group = measure(apps, rounds, args.seconds, warmup, scripts)
            # Printed as soon as measured, so a later failure loses nothing.
            log(f"{label}:\n{table(summarise(apps, group))}")
            samples |= group
            measured += apps
        finally:
            for app in apps:
                stop(app)

    results = summarise(measured, samples)
    print(table(results))
    misses = check_targets(measured, results)
    print("\nTargets: " + ("all met" if not misses else "missed:\n- " + "\n- ".join(misses)))
    if render_seconds:
        print(f"Render + uv sync: median {statistics.median(render_seconds):.1f} s per variant")
    if not args.no_docs:
        chart(results, DOCS / "benchmarks.png")
        write_docs(results, args.rounds, args.seconds, "benchmarks.png")
        log("wrote docs/benchmarks.md and docs/benchmarks.png")


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


if __name__ == "__main__":
    main()
