"""Virtual environments shared by the projects that depend on the same packages.

A rendered project is not installed into its environment (`package = false`),
so an environment serves every project whose `pyproject.toml` and `uv.lock` are
the same: a variant's updated release and its team's checks that hold that
variant's code. Each environment is synced once at a time, then only read
(tests and type checks side by side write nothing there but bytecode, which
Python writes atomically), and kept in .nox/environments for the next run: its
bytecode is written once, and each process that starts there imports faster.
"""

from __future__ import annotations

import hashlib
import json
import threading
import tomllib
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).parent.parent.parent
ENVIRONMENTS = ROOT / ".nox" / "environments"

_locks: defaultdict[str, threading.Lock] = defaultdict(threading.Lock)
_locks_lock = threading.Lock()


def dependencies_of(project: Path) -> bytes:
    """What decides the packages of `project`'s environment: its pyproject.toml,
    and the packages its uv.lock pins. Not the lock's list of the Python
    versions it resolved apart (`resolution-markers` at its top), which uv keeps
    from the lock it updated: a project that turned `jwt` off and a fresh one
    pin the same packages under different such lists."""
    pyproject = project / "pyproject.toml"
    lock = project / "uv.lock"
    pinned = b"-"
    if lock.exists():
        resolution = tomllib.loads(lock.read_text())
        resolution.pop("resolution-markers", None)
        pinned = json.dumps(resolution, sort_keys=True).encode()
    return pyproject.read_bytes() + b"\0" + pinned


def environment_of(project: Path) -> Path:
    """The environment for `project`'s dependencies."""
    digest = hashlib.sha256(dependencies_of(project))
    return ENVIRONMENTS / digest.hexdigest()[:16]


def lock_of(environment: Path) -> threading.Lock:
    """Held while `uv sync` writes `environment`."""
    with _locks_lock:
        return _locks[environment.name]
