"""Renders of the template, made once per test run through Copier's Python API."""

import itertools
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import copier
import pytest
import yaml

ROOT = Path(__file__).parent.parent

# Copier commits uncommitted template changes before rendering them; a fixed date
# gives that commit, and so `_commit` in the answers file, the same hash every time.
os.environ["GIT_AUTHOR_DATE"] = os.environ["GIT_COMMITTER_DATE"] = "2026-01-01T00:00:00Z"
QUESTIONS = yaml.safe_load((ROOT / "copier.yml").read_text())


def choices(question: str) -> list[object]:
    spec = QUESTIONS[question]
    if spec.get("type") == "bool":
        return [False, True]
    values = spec["choices"]
    return list(values.values() if isinstance(values, dict) else values)


VARIANTS = [
    {"orm": orm, "driver": driver, "jwt": jwt}
    for orm, driver, jwt in itertools.product(
        choices("orm"), choices("driver"), choices("jwt")
    )
]


def variant_id(answers: dict[str, object]) -> str:
    return f"{answers['orm']}-{answers['driver']}-{'jwt' if answers['jwt'] else 'nojwt'}"


Render = Callable[..., Path]


@pytest.fixture(scope="session")
def render(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Render]:
    """Render the working tree (uncommitted changes included) with some answers."""
    cache: dict[str, Path] = {}

    def _render(**answers: object) -> Path:
        data = {"project_name": "Template Check", **answers}
        key = repr(sorted(data.items()))
        if key not in cache:
            destination = tmp_path_factory.mktemp("render") / "project"
            copier.run_copy(
                str(ROOT),
                destination,
                data=data,
                defaults=True,
                vcs_ref="HEAD",
                quiet=True,
                unsafe=True,
            )
            cache[key] = destination
        return cache[key]

    yield _render


def files_of(project: Path) -> dict[str, bytes]:
    """The rendered files: not the bytecode of a test that imported them."""
    return {
        str(path.relative_to(project)): path.read_bytes()
        for path in sorted(project.rglob("*"))
        if path.is_file() and "__pycache__" not in path.parts
    }


def fresh_postgres_database(name: str) -> str:
    """An empty database called `name` on TEST_DATABASE_URL's server (which the
    template's tests may wipe), as an asyncpg URL; tests running side by side
    each get their own."""
    import asyncio

    import asyncpg
    from sqlalchemy.engine import make_url

    server = make_url(os.environ["TEST_DATABASE_URL"])

    async def recreate() -> None:
        admin = server.set(drivername="postgresql")
        connection = await asyncpg.connect(admin.render_as_string(hide_password=False))
        try:
            await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            await connection.execute(f'CREATE DATABASE "{name}"')
        finally:
            await connection.close()

    asyncio.run(recreate())
    return server.set(database=name).render_as_string(hide_password=False)


# --- for the tooling tests (test_tooling.py, test_workflows.py) -----------------


def tool(name: str) -> str:
    """A console script installed next to this interpreter (the nox session's venv)."""
    path = Path(sys.executable).parent / name
    if not path.exists():
        found = shutil.which(name)
        assert found, f"{name} is not installed: run these tests with `nox -s template`"
        return found
    return str(path)


def run(
    *command: str, cwd: Path | None = None, env: dict[str, str] | None = None
) -> str:
    result = subprocess.run(
        command, cwd=cwd, env=env, capture_output=True, text=True, check=False
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, f"{' '.join(command)} failed:\n{output}"
    return output


def render_for(render: Render, driver: str) -> Path:
    # Same answers (and so the same cached render) as test_template's variants.
    return render(orm=choices("orm")[0], driver=driver, jwt=False)
