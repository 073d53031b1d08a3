"""The rendered suites' timing tests, again and again, while another render's
whole suite runs beside them: what `variants` does to them, made worse.

    nox -s timing-tests [-- TIMES]

Renders two variants (SQLite with JWT, whose writers take turns, and PostgreSQL
with JWT), then runs the timing tests of both at once (`tests/test_faults.py`,
the writers and the pool; `tests/test_login_throttle.py`; `tests/test_server.py`,
the head deadlines) TIMES times each (default 20), while a third render's whole
suite runs in a loop beside them: three busy processes, none of them niced, where
`variants` lets one busy step a core run beside its niced servers. Any failure
ends it.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from functools import partial
from pathlib import Path

from .environments import environment_of, lock_of
from .jobs import Steps, in_parallel
from .postgres import POSTGRES
from .variants import Variant, render_plain, snapshot

TIMING_TESTS = ("tests/test_faults.py", "tests/test_login_throttle.py", "tests/test_server.py")
UNDER_TEST = (Variant("sqlalchemy", "aiosqlite", True), Variant("sqlmodel", "asyncpg", True))
BESIDE = Variant("databases", "asyncpg", True)


def repeat(times: int, workdir: Path, log: Callable[[str], None]) -> None:
    template = snapshot(workdir / "template")
    steps = Steps("timing tests", workdir / "logs", log)
    projects = {}
    for variant in (*UNDER_TEST, BESIDE):
        project = workdir / variant.id
        render_plain(
            steps, f"render {variant.id}", template, project, variant, "Timing Check"
        )
        env = dict(os.environ) | {"UV_PROJECT_ENVIRONMENT": str(environment_of(project))}
        if variant.driver == "asyncpg":
            env["TEST_DATABASE_URL"] = POSTGRES.fresh(f"timing_{variant.id}".replace("-", "_"))
        with lock_of(environment_of(project)):
            steps.run(f"uv sync {variant.id}", ["uv", "sync", "--quiet"], cwd=project, env=env)
        projects[variant] = (project, env)

    done = threading.Event()

    def whole_suite_beside() -> None:
        project, env = projects[BESIDE]
        rounds = 0
        while not done.is_set():
            rounds += 1
            steps.run(
                "the whole suite beside", "uv run pytest -q -p no:cacheprovider",
                cwd=project, env=env, uses="none",
            )
        log(f"timing tests: the whole suite beside ran {rounds} times")

    def timing_tests(variant: Variant) -> None:
        project, env = projects[variant]
        for number in range(1, times + 1):
            steps.run(
                f"{variant.id}: timing tests",
                ["uv", "run", "pytest", "-q", "-p", "no:cacheprovider",
                 "--cov-fail-under=0", *TIMING_TESTS],
                cwd=project, env=env, uses="none",
            )
            log(f"timing tests: {variant.id}: round {number} of {times} green")

    def all_timing_tests() -> None:
        try:
            in_parallel(*(partial(timing_tests, variant) for variant in UNDER_TEST))
        finally:
            done.set()

    in_parallel(whole_suite_beside, all_timing_tests)
