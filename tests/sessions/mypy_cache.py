"""mypy's cache, shared by the renders of one ORM style.

A rendered project's `mypy --strict` takes seconds without a cache, and most of
that is its libraries, which every render of a style shares (mypy rechecks by
content hash what moved or changed). Each run gets a copy of the style's cache
of its own, since runs side by side must not write one directory, and the first
run of a style to finish leaves its cache for the others.
"""

from __future__ import annotations

import os
import shutil
import uuid
from pathlib import Path

ROOT = Path(__file__).parent.parent.parent
CACHES = ROOT / ".nox" / "mypy-cache"


def prepared(orm: str, directory: Path) -> Path:
    """`directory`, holding a copy of the style's cache if there is one yet."""
    shared = CACHES / orm
    if not directory.exists() and shared.exists():
        shutil.copytree(shared, directory)
    directory.mkdir(parents=True, exist_ok=True)
    return directory


def keep(orm: str, directory: Path) -> None:
    """Leave `directory` as the style's cache, unless one is there already."""
    shared = CACHES / orm
    if shared.exists() or not directory.exists():
        return
    staging = CACHES / f".{orm}-{uuid.uuid4().hex}"
    shutil.copytree(directory, staging)
    try:
        os.rename(staging, shared)
    except OSError:  # another run of the style got there first
        shutil.rmtree(staging, ignore_errors=True)
