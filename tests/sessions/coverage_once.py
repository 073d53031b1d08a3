"""Coverage measured once per code: the scripted team's later steps often hold
exactly the code another step of the run measured.

Which lines of `app/` a suite runs depends on `app/`, the tests and their
configuration, nothing else; so when a step's `app/`, `tests/`, `conftest.py` and
`pyproject.toml` are byte for byte those of another step, one of them measures
coverage against the project's threshold and the others run every test without
measuring (measuring doubles a suite's CPU time). The team's return to its own
answers holds the code of its first step; a `jwt` flip or a driver switch holds
the code another variant's first step holds.

The first step to reach some code measures it. The others run their tests at
once, and afterwards wait for that measurement: if it failed, they measure for
themselves.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable
from pathlib import Path

MEASURED = ("app", "tests", "conftest.py", "pyproject.toml")


def code_of(project: Path) -> str:
    """A digest of what decides the project's coverage."""
    digest = hashlib.sha256()
    for name in MEASURED:
        top = project / name
        files = [top] if top.is_file() else sorted(top.rglob("*"))
        for path in files:
            if path.is_file() and "__pycache__" not in path.parts:
                digest.update(str(path.relative_to(project)).encode() + b"\0")
                digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()


class _Measurement:
    def __init__(self, where: str) -> None:
        self.where = where
        self.done = threading.Event()
        self.passed = False


_lock = threading.Lock()
_measurements: dict[str, _Measurement] = {}


def run_tests(
    project: Path, where: str, run: Callable[[bool], None], log: Callable[[str], None]
) -> None:
    """`run(True)` runs the tests measuring coverage, `run(False)` without; this
    calls it so that each code is measured once and every test runs everywhere."""
    code = code_of(project)
    with _lock:
        first = _measurements.get(code)
        if first is None:
            _measurements[code] = mine = _Measurement(where)
    if first is None:
        try:
            run(True)
            mine.passed = True
        finally:
            mine.done.set()
        return
    run(False)
    first.done.wait()
    if first.passed:
        log(f"{where}: coverage of this code measured by {first.where}")
    else:
        log(f"{where}: {first.where} failed on this code; measuring here")
        run(True)
