"""The CI workflows, of the template repository itself and of what it renders:
valid against GitHub's schema, hardened (zizmor, pinned actions, read-only
permissions), and running what they promise.

check-jsonschema and zizmor are PyPI wheels that the `template` nox session
installs; neither downloads anything when it runs.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from conftest import ROOT, Render, choices, render_for, run, tool

DRIVERS = choices("driver")
SHA_PIN = re.compile(r"^[\w.-]+/[\w.-]+(/[\w./-]+)?@[0-9a-f]{40}$")


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
