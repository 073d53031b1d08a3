"""A project's checks run once per content: the scripted team's updates land, file
for file, on projects another step of the run checks.

A step's checks (its tests with coverage, ruff, mypy) read the project's files and
the environment its `uv.lock` pins, nothing else: the tests are hermetic (the
rendered `conftest.py` drops `.env` and the app's variables) and each check has an
empty test database of its own. So two steps whose projects hold the same files
get the same outcome, and the second need not run it again: a `jwt` flip of
variant A's project is variant B's first project, the team's way back is A's own.

Every step still renders, updates, syncs and migrates its own project; only the
checks of a project already checked are shared. The first step to reach some
content checks it; the others wait for that outcome. If it failed, they check for
themselves, so each failing step reports its own output.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable
from pathlib import Path

# Made by tools or by the run, not part of what the checks read.
NOT_CONTENT = {
    ".git", ".venv", "__pycache__", ".mypy_cache", ".ruff_cache", ".pytest_cache",
    ".coverage",
    # The tests never read it (above), and ruff and mypy check no .env.
    ".env",
    # Copier's record of the template commit it came from: a snapshot's commit
    # differs from run to run, and the answers it holds shape the other files.
    ".copier-answers.yml",
}


def content_of(project: Path) -> str:
    """A digest of every file of the project the checks read."""
    digest = hashlib.sha256()
    for path in sorted(project.rglob("*")):
        relative = path.relative_to(project)
        if path.is_file() and not NOT_CONTENT.intersection(relative.parts):
            digest.update(str(relative).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


class _Check:
    def __init__(self, where: str) -> None:
        self.where = where
        self.done = threading.Event()
        self.passed = False


_lock = threading.Lock()
_checks: dict[str, _Check] = {}


def check_once(
    project: Path, where: str, check: Callable[[], None], log: Callable[[str], None]
) -> None:
    """Run `check()` on `project`, unless a project with the same files is, or has
    been, checked by another step: then its outcome, once it is known."""
    content = content_of(project)
    with _lock:
        first = _checks.get(content)
        if first is None:
            _checks[content] = mine = _Check(where)
    if first is None:
        try:
            check()
            mine.passed = True
        finally:
            mine.done.set()
        return
    first.done.wait()
    if first.passed:
        log(f"{where}: the same files as {first.where}, whose checks passed")
    else:
        log(f"{where}: {first.where} failed on the same files; checking here")
        check()
