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
    nox -s bench -- --profile            # where one variant's time goes (profiling.py)
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import statistics
import time
from pathlib import Path

from apps import (
    CEILING,
    CEILING_SCHEMA,
    DOCS,
    DRIVERS,
    FLOOR,
    ORMS,
    PEER,
    PLAIN_UVICORN,
    WORKLOADS,
    App,
    create_database,
    create_schema,
    last_item_id,
    log,
    render,
    run_sql,
    seed,
    start,
    stop,
)
from load import Sample, measure
from profiling import profile
from report import chart, check_targets, summarise, table, write_docs, write_profile


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
    parser.add_argument(
        "--profile", nargs="?", const="sqlalchemy-asyncpg-nojwt", metavar="VARIANT",
        help="instead of the benchmark, profile one variant (default: %(const)s)",
    )
    parser.add_argument("--workload", choices=WORKLOADS, default="get",
                        help="what --profile drives (default: get)")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("bench: wrk is missing; install it with `apt-get install -y wrk`")
    args.workdir.mkdir(parents=True, exist_ok=True)
    if args.profile:
        graphs = args.workdir if args.no_docs else DOCS
        section = profile(
            args.profile, args.workload, 10, args.postgres, args.workdir, graphs
        )
        print(section)
        if not args.no_docs:
            write_profile(section)
            log("wrote the profile into docs/benchmarks.md")
        return
    if args.quick:
        args.rounds, args.seconds, args.sqlite_rounds = 1, 2, 1
    warmup = 0 if args.quick else 1
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
    # What the image's server options cost: one variant per driver, served
    # again by plain uvicorn.
    plain = [
        App(v.name + PLAIN_UVICORN, v.driver, v.jwt, "variant", plain_uvicorn=True)
        for v in variants
        if v.name.startswith("sqlalchemy-") and not v.jwt
    ]
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
    for twin in plain:
        twin.directory = args.workdir / twin.name.removesuffix(PLAIN_UVICORN)
    variants += plain
    for app in [*variants, *references]:
        if app.driver == "asyncpg":
            app.database_url = asyncio.run(
                create_database(args.postgres, "bench_" + app.name.replace("-", "_"))
            )
        else:
            assert app.directory is not None
            app.database_url = f"sqlite+aiosqlite:///{app.directory / app.name}.db"
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


if __name__ == "__main__":
    main()
