"""schemathesis against a variant (live/fuzz_check.py), a plain render of the
working tree served by uvicorn on a database of its own; one environment (the
session's, with schemathesis and every variant's dependencies) serves them all.
`variants` fuzzes each variant as a third strand of its check; `nox -s fuzz`
fuzzes them all on their own.

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


def fuzz_one(
    variant: Variant, python: Path, template: Path, workdir: Path, steps: Steps,
    log: Callable[[str], None],
) -> None:
    """Render `variant` plainly into `workdir` and fuzz it; StepFailed when
    schemathesis finds a failure."""
    project = workdir / "project"
    project.parent.mkdir(parents=True, exist_ok=True)
    render_plain(steps, "fuzz: render (copier copy)", template, project, variant, "Fuzz Check")
    if variant.driver == "asyncpg":
        # With TEST_DATABASE_URL, that one, emptied by fuzz_check.py's migrations.
        database_url = POSTGRES.fresh(f"fuzz_{variant.id}".replace("-", "_"))
    else:
        database_url = f"sqlite+aiosqlite:///{project / 'fuzz.db'}"
    output = steps.run(
        "fuzz: schemathesis",
        [str(python), str(LIVE / "fuzz_check.py"), database_url, str(MAX_EXAMPLES)],
        cwd=project, uses="server",
    )
    # schemathesis's "N generated, N passed" line.
    cases = re.findall(r"^.*generated,.*$", output, re.MULTILINE)
    log(f"{variant.id}: {cases[-1].strip() if cases else output[-300:]}")


def fuzz_all(
    variants: list[Variant], python: Path, workdir: Path, log: Callable[[str], None]
) -> list[str]:
    """Fuzz every variant; the ids of those where schemathesis found a failure."""
    template = snapshot(workdir / "template")
    failed: list[str] = []

    def fuzz(variant: Variant) -> None:
        steps = Steps(variant.id, workdir / variant.id / "logs", log)
        try:
            fuzz_one(variant, python, template, workdir / variant.id, steps, log)
        except StepFailed as failure:
            print(failure, flush=True)
            failed.append(variant.id)

    if external_url() is None:
        in_parallel(*(lambda v=v: fuzz(v) for v in variants))
    else:  # one database for all: one at a time
        for variant in variants:
            fuzz(variant)
    return sorted(failed)
