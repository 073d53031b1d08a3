"""Each code's whole suite once: the scripted team's later steps often hold
exactly the code that another step of the run has tested.

What a project's tests do depends on its code (`app/`, `tests/`, `conftest.py`),
its dependencies (`pyproject.toml`, the packages `uv.lock` pins) and the schema
its migrations build on an empty database, nothing else. The team's return to its own answers holds
the code of its first step; a `jwt` flip or a driver switch holds the code that
another variant's first step holds; only the migrations that led there differ.

So the first step to reach some code runs the whole suite. A later step holding
the same code waits for it; if that passed and the migrations here build the
same schema (schema_of.py, run on the step's own empty database), the outcome
of every other test is known, and the step runs the tests of the migrations
themselves. Otherwise it runs the whole suite.

Coverage is not measured here: it is a property of the template's code and its
tests, which each variant's README check measures against the project's
threshold (`uv run pytest`, as written), on the same template code; measuring
it again in the team's suites cost about 40 % of their CPU.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable
from pathlib import Path

from .environments import dependencies_of

CODE = ("app", "tests", "conftest.py")
# What the migrations decide beyond the schema they build: how they run.
MIGRATION_TESTS = ["tests/test_migrations.py"]

# `run(tests)`: the tests named (None: all).
RunTests = Callable[["list[str] | None"], None]


def code_of(project: Path) -> str:
    """A digest of the project's code and dependencies."""
    digest = hashlib.sha256(dependencies_of(project))
    for name in CODE:
        top = project / name
        files = [top] if top.is_file() else sorted(top.rglob("*"))
        for path in files:
            if path.is_file() and "__pycache__" not in path.parts:
                digest.update(str(path.relative_to(project)).encode() + b"\0")
                digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()


class _WholeSuite:
    def __init__(self, where: str, schema: str) -> None:
        self.where = where
        self.schema = schema
        self.done = threading.Event()
        self.passed = False


_lock = threading.Lock()
_whole_suites: dict[str, _WholeSuite] = {}


def run_tests(
    project: Path, schema: str, where: str, run: RunTests, log: Callable[[str], None]
) -> None:
    """Test `project`, whose migrations build `schema`, with `run`: the whole
    suite the first time its code is seen, only what can differ afterwards."""
    code = code_of(project)
    with _lock:
        first = _whole_suites.get(code)
        if first is None:
            _whole_suites[code] = mine = _WholeSuite(where, schema)
    if first is None:
        try:
            run(None)
            mine.passed = True
        finally:
            mine.done.set()
        return
    first.done.wait()
    if not first.passed:
        log(f"{where}: {first.where} failed on this code; the whole suite here")
        run(None)
    elif first.schema != schema:
        log(f"{where}: the migrations build another schema than {first.where}'s; "
            "the whole suite here")
        run(None)
    else:
        log(f"{where}: code, dependencies and migrated schema as {first.where}, "
            "whose whole suite passed; the migrations' tests here")
        run(MIGRATION_TESTS)
