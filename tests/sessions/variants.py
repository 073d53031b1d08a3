"""The variants, from copier.yml's choices, and the whole check of one.

A variant's check has two strands that run side by side, their steps sharing
the machine's cores (jobs.py):

- the last release, rendered, edited by a team and updated to the working tree
  (update_scenario.py); then its README's commands as a reader runs them
  (live/readme_check.py) and, beside those, the live checks: alembic up, down
  and up with the CLI, the contract over real HTTP (and with four workers on
  PostgreSQL), the attacks (JWT), the faults;
- the scripted team (team_scenario.py), whose tests and type checks of each
  step run beside its next steps;
- schemathesis against a plain render (fuzzing.py), when the session has it.

With TEST_DATABASE_URL set there is one database, so all of it runs in turn.
"""

from __future__ import annotations

import itertools
import os
import shutil
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

import yaml

from . import environments, mypy_cache, timings
from .jobs import StepFailed, Steps, critical_path, in_parallel, scratch
from .postgres import POSTGRES, external_url, server_binaries

ROOT = Path(__file__).parent.parent.parent
TESTS = ROOT / "tests"
LIVE = TESTS / "live"


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
    return list(choices.values() if isinstance(choices, dict) else choices)  # type: ignore[union-attr]


def load_variants() -> list[Variant]:
    questions = yaml.safe_load((ROOT / "copier.yml").read_text())
    axes = [_choices(questions[name]) for name in Variant._fields]
    return [Variant(*combination) for combination in itertools.product(*axes)]


def snapshot(destination: Path) -> Path:
    """A clone of this repository whose HEAD is the working tree (update_scenario)."""
    sys.path.insert(0, str(TESTS))
    from update_scenario import snapshot_template

    shutil.rmtree(destination, ignore_errors=True)
    return snapshot_template(destination)


def render_plain(
    steps: Steps, label: str, template: Path, project: Path, variant: Variant,
    project_name: str,
) -> None:
    """A plain render of the snapshot `template` with the variant's answers."""
    answers = [f"--data={name}={str(value).lower()}" for name, value in variant.answers.items()]
    steps.run(
        label,
        [sys.executable, "-m", "copier", "copy", "--trust", "--defaults", "--quiet",
         "--vcs-ref=HEAD", f"--data=project_name={project_name}", *answers,
         str(template), str(project)],
        cwd=project.parent,
    )


class VariantCheck:
    """Everything the default `nox` proves of one variant, in `workdir`."""

    def __init__(
        self, variant: Variant, template: Path, workdir: Path, log: Callable[[str], None],
        fuzz_python: Path | None = None,
    ) -> None:
        self.variant = variant
        self.fuzz_python = fuzz_python
        self.log = log
        self.template = template
        self.workdir = workdir
        self.project = workdir / "project"
        # Known once the project is rendered (environments.py).
        self.venv = Path()
        self.python = ""
        self.steps = Steps(variant.id, workdir / "logs", log)
        self.side_by_side = external_url() is None

    def run(self) -> None:
        shutil.rmtree(self.workdir, ignore_errors=True)
        self.workdir.mkdir(parents=True)
        strands = [self.updated_release, self.team]
        if self.fuzz_python is not None:
            strands.append(self.fuzz)
        if self.side_by_side:
            in_parallel(*strands)
        else:
            for strand in strands:
                strand()

    def fuzz(self) -> None:
        from .fuzzing import fuzz_one

        assert self.fuzz_python is not None
        fuzz_one(
            self.variant, self.fuzz_python, self.template, self.workdir / "fuzz",
            self.steps, self.log,
        )

    def env(self, **extra: str) -> dict[str, str]:
        env = {name: value for name, value in os.environ.items() if name != "VIRTUAL_ENV"}
        return env | {"UV_PROJECT_ENVIRONMENT": str(self.venv)} | extra

    # --- the last release, edited and updated ----------------------------------

    def updated_release(self) -> None:
        v = self.variant
        self.steps.run(
            "render the release, edit, copier update",
            [sys.executable, str(TESTS / "update_scenario.py"), str(self.template),
             str(self.project), v.orm, v.driver, str(v.jwt).lower()],
            cwd=self.workdir,
        )
        self.venv = environments.environment_of(self.project)
        self.python = str(self.venv / "bin" / "python")
        with environments.lock_of(self.venv):
            self.steps.run(
                "uv sync", ["uv", "sync", "--quiet"], cwd=self.project, env=self.env()
            )
        live_database = self.live_database()
        env = self.env()
        if v.driver == "asyncpg":
            # The README's `createdb` and `export TEST_DATABASE_URL` name a server
            # at localhost:5432; this one stands in for it. (The SQLite README's
            # file comes from .env, and the tests make theirs.)
            database = POSTGRES.fresh(v.id.replace("-", "_"))
            env |= {"DATABASE_URL": database, "TEST_DATABASE_URL": database}
        if self.side_by_side:
            in_parallel(lambda: self.readme(env), lambda: self.live_checks(live_database))
        else:
            self.readme(env)
            self.live_checks(live_database)

    def live_database(self) -> str:
        """An empty database of the live checks' own."""
        if self.variant.driver == "asyncpg":
            return POSTGRES.fresh(f"{self.variant.id}_live".replace("-", "_"))
        # Beside the project, not in it: the README's `uvicorn --reload` watches
        # the project, and writes there keep it from stopping.
        database = self.workdir / "live.db"
        database.unlink(missing_ok=True)
        return f"sqlite+aiosqlite:///{database}"

    def readme(self, env: dict[str, str]) -> None:
        """The README's "Run it" and "Test it" commands, as a reader runs them."""
        orm = self.variant.orm
        cache = mypy_cache.prepared(orm, self.workdir / "mypy-cache")
        record = self.workdir / "readme-timings.jsonl"
        record.unlink(missing_ok=True)
        env = env | {"MYPY_CACHE_DIR": str(cache)}
        try:
            with scratch(f"{self.variant.id}-readme") as temporary:
                self.steps.run(
                    "README commands",
                    [self.python, str(LIVE / "readme_check.py"), "--timings", str(record)],
                    cwd=self.project, env=env | {"PYTEST_DEBUG_TEMPROOT": str(temporary)},
                    record=False,
                )
        finally:
            for line in timings.read(record):
                timings.record(
                    self.variant.id, f"README: {line['step']}",
                    float(line["wall"]), float(line["cpu"]),  # type: ignore[arg-type]
                )
        mypy_cache.keep(orm, cache)

    def live_checks(self, database_url: str) -> None:
        """The app served by uvicorn: the contract over real HTTP on a database
        migrated with the alembic CLI, the attacks (JWT), then the faults."""
        migrate = self.env(DATABASE_URL=database_url)
        alembic = [self.python, "-m", "alembic"]
        contract = [self.python, str(LIVE / "contract_check.py"), database_url]
        steps = [
            # Up, down to base and up again with the CLI: every revision's
            # downgrade runs, and the contract starts from empty tables.
            ("live: alembic upgrade head", [*alembic, "upgrade", "head"], migrate),
            ("live: alembic downgrade base", [*alembic, "downgrade", "base"], migrate),
            ("live: alembic upgrade head", [*alembic, "upgrade", "head"], migrate),
            ("live: contract, one worker", contract, self.env()),
        ]
        if self.variant.jwt:
            # The security review's attacks, replayed on the contract's rows.
            attacks = [self.python, str(LIVE / "attack_check.py"), database_url]
            steps.append(("live: attacks", attacks, self.env()))
        if self.variant.driver == "asyncpg":
            # Scale-out: the contract again from empty tables, four workers.
            steps += [
                ("live: alembic downgrade base", [*alembic, "downgrade", "base"], migrate),
                ("live: alembic upgrade head", [*alembic, "upgrade", "head"], migrate),
                ("live: contract, four workers", [*contract, "--workers", "4"], self.env()),
            ]
            faults = [self.python, str(LIVE / "fault_check.py"), "postgres",
                      str(server_binaries())]
        else:
            faults = [self.python, str(LIVE / "fault_check.py"), "sqlite"]
        steps.append(("live: faults", faults, self.env()))
        for label, command, env in steps:
            self.steps.run(label, command, cwd=self.project, env=env, uses="server")

    # --- the scripted team -----------------------------------------------------

    def team(self) -> None:
        sys.path.insert(0, str(TESTS))
        import team_scenario

        workdir = self.workdir / "team"
        workdir.mkdir()
        template = self.steps.timed(
            "team: a snapshot of the template",
            lambda: snapshot(workdir / "copier-fastapi-async"),
        )
        v = self.variant

        def databases(driver: str, purpose: str) -> str:
            if driver == "aiosqlite":
                return f"sqlite+aiosqlite:///{workdir / f'{purpose}.db'}"
            name = f"team_{v.id}_{purpose}".replace("-", "_")
            return POSTGRES.kept(name) if purpose == "app" else POSTGRES.fresh(name)

        started = time.monotonic()
        # Some thirty steps in a row, each short: if each waited behind the
        # long steps of other strands, the team would end the run alone.
        with critical_path():
            checked = team_scenario.run(
                template, workdir, v.orm, v.driver, v.jwt, databases, self.steps,
                side_by_side=self.side_by_side,
            )
        for step, seconds in checked:
            self.steps.log(f"{v.id}: team: {step}: checks in {seconds:.0f} s")
        self.steps.log(
            f"{v.id}: team: the whole scenario in {time.monotonic() - started:.0f} s"
        )


def check_all(
    variants: list[Variant], workdir: Path, log: Callable[[str], None],
    fuzz_python: Path | None = None,
) -> dict[str, str | None]:
    """Every variant's check, side by side (in turn with one database), fuzzed
    with `fuzz_python`'s schemathesis when given; for each, None or why it failed."""
    template = snapshot(workdir / "template")
    outcomes: dict[str, str | None] = {}

    def check(variant: Variant) -> None:
        started = time.monotonic()
        try:
            VariantCheck(variant, template, workdir / variant.id, log, fuzz_python).run()
        except StepFailed as failure:
            outcomes[variant.id] = str(failure)
            log(f"{variant.id}: FAILED after {time.monotonic() - started:.0f} s")
        except Exception:  # reported with the others, the run goes on
            outcomes[variant.id] = traceback.format_exc()
            log(f"{variant.id}: FAILED after {time.monotonic() - started:.0f} s")
        else:
            outcomes[variant.id] = None
            log(f"{variant.id}: passed in {time.monotonic() - started:.0f} s")

    if external_url() is None:
        in_parallel(*(lambda v=v: check(v) for v in variants))
    else:
        for variant in variants:
            check(variant)
    return {variant.id: outcomes[variant.id] for variant in variants}

