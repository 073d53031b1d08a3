"""`copier update`: from the last release to the working tree, and to new answers."""

import os
import re
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import VARIANTS, fresh_postgres_database, variant_id
from sessions.suite_once import MIGRATION_TESTS
from update_scenario import (
    README_LINE,
    TEAM_REVISION,
    apply_team_edits,
    commit_all,
    git,
    release_head,
    render_release,
    snapshot_template,
    update,
    updated_project,
)

CONFLICT_MARKERS = ("<<<<<<<", ">>>>>>>")


@pytest.fixture(scope="session")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return snapshot_template(tmp_path_factory.mktemp("template") / "repo")


def fresh_render(template: Path, destination: Path, **answers: object) -> Path:
    render_release(template, destination, answers, "HEAD")
    return destination


def project_files(project: Path) -> dict[str, str]:
    """The project's files as git sees them: not what it ignores (a test run's
    .coverage, databases)."""
    listed = git("ls-files", "--cached", "--others", "--exclude-standard", "-z", cwd=project)
    return {
        name: (project / name).read_text()
        for name in sorted(filter(None, listed.split("\0")))
        if (project / name).is_file()
    }


def assert_cleanly_merged(files: dict[str, str]) -> None:
    assert not [name for name in files if name.endswith(".rej")]
    conflicted = [
        name
        for name, text in files.items()
        # A marker starts a line; the README may name one in a sentence.
        if any(f"\n{marker}" in f"\n{text}" for marker in CONFLICT_MARKERS)
    ]
    assert not conflicted


@pytest.mark.parametrize("answers", VARIANTS, ids=variant_id)
def test_an_update_from_the_last_release_keeps_the_team_edits(
    template: Path, answers: dict[str, object], tmp_path: Path
) -> None:
    project = updated_project(template, tmp_path / "project", answers)
    files = project_files(project)
    assert_cleanly_merged(files)

    assert "version.router" in files["app/main.py"]
    assert "Field(default=20," in files["app/core/config.py"]
    assert README_LINE in files["README.md"]
    # The team's revision and the template's new ones meet in a merge revision.
    [merge] = [name for name in files if name.endswith("_merge_template_revisions.py")]
    assert migration_heads(project) == [revision_of(files.pop(merge))]
    # And the rest is exactly what the new release renders.
    expected = fresh_render(template, tmp_path / "expected", **answers)
    apply_team_edits(expected, release_head(answers))
    assert files == project_files(expected)


def revision_of(source: str) -> str:
    [revision] = re.findall(r'^revision: str = "(\w+)"$', source, re.MULTILINE)
    return revision


def migration_heads(project: Path) -> list[str]:
    result = subprocess.run(
        [sys.executable, "-m", "alembic", "heads"],
        cwd=project,
        # A URL is needed to load the environment, not to list the heads.
        env={**os.environ, "DATABASE_URL": "sqlite+aiosqlite://"},
        check=True,
        capture_output=True,
        text=True,
    )
    return [line.split()[0] for line in result.stdout.splitlines()]


def run_migration_tests(project: Path, database_url: str) -> None:
    """The project's tests of its migrations, on the history this update made.
    Its whole suite after each of these updates (jwt on, off, on again; SQLite
    to PostgreSQL) is the variant sessions' proof: their scripted team makes
    them on a project of its own and runs it there."""
    # The template session's environment holds every variant's dependencies.
    result = subprocess.run(
        [
            sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--no-cov",
            *MIGRATION_TESTS,
        ],
        cwd=project,
        env={**os.environ, "TEST_DATABASE_URL": database_url},
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]


def alembic_upgrade(project: Path, database_url: str) -> None:
    subprocess.run(
        [sys.executable, "-m", "alembic", "upgrade", "head"],
        cwd=project,
        env={**os.environ, "DATABASE_URL": database_url},
        check=True,
        capture_output=True,
    )


def test_an_update_can_turn_jwt_on_and_keeps_the_users(
    template: Path, tmp_path: Path
) -> None:
    answers: dict[str, object] = {"orm": "sqlalchemy", "driver": "aiosqlite"}
    project = tmp_path / "project"
    fresh_render(template, project, **answers, jwt=False)
    database = tmp_path / "service.db"
    database_url = f"sqlite+aiosqlite:///{database}"
    alembic_upgrade(project, database_url)
    with sqlite3.connect(database) as connection:
        connection.execute(
            "INSERT INTO users (email, full_name, is_active, created_at) "
            "VALUES ('ada@example.com', 'Ada', 1, '2026-01-01 00:00:00')"
        )

    update(project, jwt=True)

    files = project_files(project)
    assert_cleanly_merged(files)
    # Revisions 0002 and 0004 ran empty on this database: the update adds one
    # that runs them again, on top of the head.
    [turn_on] = [name for name in files if name.endswith("_turn_jwt_on.py")]
    assert 'down_revision: str | Sequence[str] | None = "0004"' in files.pop(turn_on)
    expected = fresh_render(template, tmp_path / "expected", **answers, jwt=True)
    assert files == project_files(expected)
    # The password column comes in; the user stays, without a password.
    alembic_upgrade(project, database_url)
    with sqlite3.connect(database) as connection:
        rows = connection.execute("SELECT email, password_hash FROM users").fetchall()
    assert rows == [("ada@example.com", "")]
    run_migration_tests(project, database_url)


def test_turning_jwt_off_and_on_again_keeps_one_history_and_the_users(
    template: Path, tmp_path: Path
) -> None:
    answers: dict[str, object] = {"orm": "sqlalchemy", "driver": "aiosqlite"}
    project = tmp_path / "project"
    fresh_render(template, project, **answers, jwt=True)
    # A revision of the team's own on top of the template's.
    (project / "migrations/versions/2026_12_04_team_revision.py").write_text(
        TEAM_REVISION.format(down_revision="0004")
    )
    commit_all(project, "Our own revision")
    database = tmp_path / "service.db"
    database_url = f"sqlite+aiosqlite:///{database}"
    # The project's tests wipe their database: one of their own.
    tests_database_url = f"sqlite+aiosqlite:///{tmp_path / 'tests.db'}"
    alembic_upgrade(project, database_url)
    with sqlite3.connect(database) as connection:
        connection.execute(
            "INSERT INTO users (email, full_name, is_active, created_at, password_hash,"
            " is_superuser, security_stamp) VALUES ('ada@example.com', 'Ada', 1,"
            " '2026-01-01 00:00:00', 'x', 0, 'y')"
        )

    update(project, jwt=False)

    files = project_files(project)
    assert_cleanly_merged(files)
    [turn_off] = [name for name in files if name.endswith("_turn_jwt_off.py")]
    assert '= "5e1f0c2a9b7d"' in files[turn_off]  # on top of the team's revision
    assert migration_heads(project) == [revision_of(files[turn_off])]
    alembic_upgrade(project, database_url)
    with sqlite3.connect(database) as connection:
        assert connection.execute("SELECT email FROM users").fetchall() == [
            ("ada@example.com",)
        ]
        columns = {row[1] for row in connection.execute("PRAGMA table_info(users)")}
        tables = {row[0] for row in connection.execute("SELECT name FROM sqlite_master")}
    assert not columns & {"password_hash", "is_superuser", "security_stamp"}
    assert "login_attempts" not in tables
    run_migration_tests(project, tests_database_url)
    commit_all(project, "JWT off")

    update(project, jwt=True)

    files = project_files(project)
    assert_cleanly_merged(files)
    [turn_on] = [name for name in files if name.endswith("_turn_jwt_on.py")]
    assert migration_heads(project) == [revision_of(files[turn_on])]
    alembic_upgrade(project, database_url)
    with sqlite3.connect(database) as connection:
        rows = connection.execute("SELECT email, password_hash FROM users").fetchall()
    assert rows == [("ada@example.com", "")]
    run_migration_tests(project, tests_database_url)


def test_an_update_can_move_to_postgresql(template: Path, tmp_path: Path) -> None:
    database_url = os.environ.get("TEST_DATABASE_URL", "")
    if not database_url.startswith("postgresql"):
        pytest.fail(
            "TEST_DATABASE_URL must name a PostgreSQL database these tests may wipe "
            "(nox sets it)"
        )
    answers: dict[str, object] = {"orm": "sqlmodel", "jwt": False}
    project = tmp_path / "project"
    fresh_render(template, project, **answers, driver="aiosqlite")

    update(project, driver="asyncpg")

    files = project_files(project)
    assert_cleanly_merged(files)
    expected = fresh_render(template, tmp_path / "expected", **answers, driver="asyncpg")
    assert files == project_files(expected)
    run_migration_tests(project, database_url)


# The template just before the security release (ids reused on SQLite, tokens
# bound to the id alone), and what its JWT projects hold.
BEFORE_SECURITY = "343c01ef56e700b4a3cd6f9346e55943572f0fc9"
SECRET_KEY = "eQ9d_qTDSR08ARPiwOw6mpT5w-ekXhSvzZpFzKo2I-W"
CHEAP_HASHING = {
    "PASSWORD_HASH_TIME_COST": "1",
    "PASSWORD_HASH_MEMORY_COST": "8",
    "PASSWORD_HASH_PARALLELISM": "1",
}

# Run inside the project as it was: two accounts with an item each, one of
# them deleted since, and a token of the other.
BEFORE = """
import asyncio, json, sys
from httpx import ASGITransport, AsyncClient
from app.main import create_app

async def main():
    app = create_app()
    async with app.router.lifespan_context(app):
        client = AsyncClient(transport=ASGITransport(app=app), base_url="http://t")
        state = {}
        for email in ("ada@example.com", "gone@example.com"):
            body = {"email": email, "full_name": "A", "password": "pass phrase"}
            user = (await client.post("/api/v1/users", json=body)).json()
            form = {"username": email, "password": "pass phrase"}
            token = (await client.post("/api/v1/auth/token", data=form)).json()
            headers = {"Authorization": "Bearer " + token["access_token"]}
            item = await client.post("/api/v1/items", json={"title": email}, headers=headers)
            state[email] = {"id": user["id"], "item": item.json()["id"], "headers": headers}
        gone = state["gone@example.com"]
        deleted = await client.delete(f"/api/v1/users/{gone['id']}", headers=gone["headers"])
        assert deleted.status_code == 204
        json.dump(state, sys.stdout)

asyncio.run(main())
"""

# Run inside the updated project: what was kept, and what is refused now.
AFTER = """
import asyncio, json, sys
from httpx import ASGITransport, AsyncClient
from app.main import create_app

async def main():
    state = json.loads(sys.argv[1])
    ada = state["ada@example.com"]
    app = create_app()
    async with app.router.lifespan_context(app):
        client = AsyncClient(transport=ASGITransport(app=app), base_url="http://t")
        me = await client.get("/api/v1/users/me", headers=ada["headers"])
        assert me.status_code == 401, ("an old token still works", me.text)
        form = {"username": "ada@example.com", "password": "pass phrase"}
        token = await client.post("/api/v1/auth/token", data=form)
        assert token.status_code == 200, token.text
        headers = {"Authorization": "Bearer " + token.json()["access_token"]}
        me = (await client.get("/api/v1/users/me", headers=headers)).json()
        assert (me["id"], me["is_superuser"]) == (ada["id"], False), me
        items = (await client.get("/api/v1/items", headers=headers)).json()["items"]
        assert [item["id"] for item in items] == [ada["item"]], items
        # From now on an id, once deleted, is never handed out again.
        ids = []
        for n in range(2):
            body = {"email": f"new{n}@example.com", "full_name": "N", "password": "pass phrase"}
            user = (await client.post("/api/v1/users", json=body)).json()
            form = {"username": body["email"], "password": "pass phrase"}
            token = (await client.post("/api/v1/auth/token", data=form)).json()
            own = {"Authorization": "Bearer " + token["access_token"]}
            assert (await client.delete(f"/api/v1/users/{user['id']}", headers=own)).status_code == 204
            ids.append(user["id"])
        assert ids[1] > ids[0], ids

asyncio.run(main())
"""


@pytest.mark.parametrize("driver", ["aiosqlite", "asyncpg"])
def test_an_update_from_before_the_security_release_keeps_accounts_and_items(
    template: Path, tmp_path: Path, driver: str
) -> None:
    if driver == "aiosqlite":
        database_url = f"sqlite+aiosqlite:///{tmp_path / 'service.db'}"
    else:
        database_url = fresh_postgres_database("update_from_before_security")
    env = {
        **os.environ,
        **CHEAP_HASHING,
        "DATABASE_URL": database_url,
        "SECRET_KEY": SECRET_KEY,
    }
    project = tmp_path / "project"
    answers: dict[str, object] = {"orm": "sqlalchemy", "driver": driver, "jwt": True}
    render_release(template, project, answers, BEFORE_SECURITY)
    alembic_upgrade(project, database_url)

    def run(script: str, *args: str) -> str:
        result = subprocess.run(
            [sys.executable, "-c", script, *args],
            cwd=project, env=env, capture_output=True, text=True,
        )
        assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
        return result.stdout

    state = run(BEFORE)
    update(project)
    assert_cleanly_merged(project_files(project))
    alembic_upgrade(project, database_url)
    run(AFTER, state)
