"""schemathesis against every variant (live/fuzz_check.py), each a plain render
of the working tree served by uvicorn on a database of its own; one environment
(the fuzz session's) serves them all.

Renders and fuzzing are steps (jobs.py): the renders take the cores, the fuzzing,
which mostly waits on a served app and its database, takes the server slots.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

from .jobs import StepFailed, Steps, in_parallel
from .postgres import POSTGRES, external_url
from .variants import LIVE, Variant, render_plain, snapshot

MAX_EXAMPLES = 10


def fuzz_all(
    variants: list[Variant], python: Path, workdir: Path, log: Callable[[str], None]
) -> list[str]:
    """Fuzz every variant; the ids of those where schemathesis found a failure."""
    template = snapshot(workdir / "template")
    failed: list[str] = []

    def fuzz(variant: Variant) -> None:
        steps = Steps(variant.id, workdir / variant.id / "logs", log)
        project = workdir / variant.id / "project"
        project.parent.mkdir(parents=True, exist_ok=True)
        render_plain(
            steps, "fuzz: render (copier copy)", template, project, variant, "Fuzz Check"
        )
        if variant.driver == "asyncpg":
            # With TEST_DATABASE_URL, that one, emptied by fuzz_check.py's migrations.
            database_url = POSTGRES.fresh(f"fuzz_{variant.id}".replace("-", "_"))
        else:
            database_url = f"sqlite+aiosqlite:///{project / 'fuzz.db'}"
        try:
            output = steps.run(
                "fuzz: schemathesis",
                [str(python), str(LIVE / "fuzz_check.py"), database_url, str(MAX_EXAMPLES)],
                cwd=project, uses="server",
            )
        except StepFailed as failure:
            print(failure, flush=True)
            failed.append(variant.id)
            return
        # schemathesis's "N generated, N passed" line.
        cases = re.findall(r"^.*generated,.*$", output, re.MULTILINE)
        log(f"{variant.id}: {cases[-1].strip() if cases else output[-300:]}")

    if external_url() is None:
        in_parallel(*(lambda v=v: fuzz(v) for v in variants))
    else:  # one database for all: one at a time
        for variant in variants:
            fuzz(variant)
    return sorted(failed)
