"""The benchmark's results: medians, ratios to the references, the targets,
the table, the chart and docs/benchmarks.md. Used by run.py."""

from __future__ import annotations

import os
import statistics
from dataclasses import dataclass
from pathlib import Path

from apps import (
    CEILING,
    CONNECTIONS,
    DOCS,
    FLOOR,
    ITEMS,
    PEER,
    PLAIN_UVICORN,
    USERS,
    WORKLOADS,
    App,
)
from load import Sample


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

Each app is served by uvicorn with one worker (a variant as its image serves it:
the Dockerfile's options), on its own database seeded through
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

## What the image's server options cost

The image runs uvicorn with `--http app.server:BoundedHttpProtocol` (uvicorn's
httptools protocol, with a size limit and a deadline on each request's head),
`--timeout-keep-alive 5` and `--limit-concurrency 1000`. One variant per driver is
measured again in the same run served by plain `uvicorn app.main:app`:

{serving}

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

## Where the time goes

A sampling profile of one variant under load, and what each middleware costs it,
from `nox -s bench -- --profile` (its own run, not the benchmark's). A sample's
layer is the package of its innermost Python frame, so "SQLAlchemy" is time in
SQLAlchemy's own code, not in the driver it calls; samples are of the worker
while it runs, not while it waits for the database.

In the profile of 2026-12-06 (below), the three middlewares together cost about
6 % of GET-by-id throughput, each alone less than this machine's noise between
rounds: they are not what separates a variant from the ceiling. Half the samples
are FastAPI's dependency resolution (the request's session is a dependency with
an exit) and SQLAlchemy's session and statement execution, what the ORM style's
idiom is made of; the next places to measure are there.

{profile}

## Running it

```console
apt-get install -y wrk     # the load generator, from the Debian packages
nox -s bench               # renders, seeds and measures everything: about 10-15 minutes
nox -s bench -- --quick    # one short round
nox -s bench -- --only sqlalchemy-asyncpg --no-docs
nox -s bench -- --profile  # py-spy under load (below); `-- --profile VARIANT --workload list`
```

The session is not part of the default `nox` run. It rewrites this page and its
chart; `bench/run.py --help` lists its options.
"""


def serving_table(results: list[Result]) -> str:
    """Each variant measured both ways: as its image serves it, and by plain
    uvicorn (the app named with PLAIN_UVICORN)."""
    by_key = {(result.app, result.workload): result for result in results}
    lines = [
        "| variant | workload | image req/s | plain req/s | image × plain |",
        "|---|---|--:|--:|--:|",
    ]
    for plain in results:
        if not plain.app.endswith(PLAIN_UVICORN):
            continue
        image = by_key[plain.app.removesuffix(PLAIN_UVICORN), plain.workload]
        lines.append(
            f"| {image.app} | {WORKLOADS[plain.workload]} | {image.rps:,.0f} "
            f"| {plain.rps:,.0f} | {image.rps / plain.rps:.2f}× |"
        )
    return "\n".join(lines) if len(lines) > 2 else ""


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
            serving=serving_table(results) or "Not measured in this run.",
            # Made by its own command: kept as the last one wrote it.
            profile=profile_section(),
        )
    )


PROFILE_START = "<!-- profile: start -->"
PROFILE_END = "<!-- profile: end -->"


def profile_section(new: str | None = None) -> str:
    """The page's profile between its markers: `new`, or what the page has."""
    if new is None:
        page = DOCS / "benchmarks.md"
        text = page.read_text() if page.exists() else ""
        start, end = text.find(PROFILE_START), text.find(PROFILE_END)
        if start < 0 or end < 0:
            return f"{PROFILE_START}\nNot profiled yet.\n{PROFILE_END}"
        return text[start : end + len(PROFILE_END)]
    return f"{PROFILE_START}\n{new}\n{PROFILE_END}"


def write_profile(section: str) -> None:
    """Put a new profile into the page, the rest of it as it is."""
    page = DOCS / "benchmarks.md"
    text = page.read_text()
    old = profile_section()
    if old not in text:
        raise SystemExit("bench: docs/benchmarks.md has no profile section; run the benchmark first")
    page.write_text(text.replace(old, profile_section(section)))
