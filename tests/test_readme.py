"""The commands of this repository's README, run as a reader runs them.

From a clone of the template: "Use it" renders a project with `uvx copier copy`,
puts it in git, migrates and serves it; then, after a new commit of the
template, "Update a project" brings that commit into the project. A project
that recorded a source it cannot find again fails here.
"""

import json
import os
import re
import signal
import subprocess
import urllib.request
from pathlib import Path

from live.serving import free_port, wait_until_serving
from reader import reader_environment, sh_block
from update_scenario import commit_all, snapshot_template

ROOT = Path(__file__).parent.parent
README = (ROOT / "README.md").read_text()


def run_lines(lines: list[str], cwd: Path) -> None:
    script = "set -euo pipefail\n" + "\n".join(lines)
    result = subprocess.run(
        ["bash", "-c", script], cwd=cwd, env=reader_environment(),
        capture_output=True, text=True, check=False,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]


def serves_health(command: str, project: Path) -> dict[str, str]:
    port = free_port()
    server = subprocess.Popen(
        ["bash", "-c", f"exec {command} --port {port}"],
        cwd=project, env=reader_environment(), start_new_session=True,
    )
    try:
        wait_until_serving(server, f"http://127.0.0.1:{port}/health")
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=5) as response:
            health: dict[str, str] = json.load(response)
            return health
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=15)


def test_the_readme_renders_a_project_that_updates(tmp_path: Path) -> None:
    checkout = snapshot_template(tmp_path / "copier-fastapi-async")
    use_it = sh_block(README, "Use it")
    [serve] = [line for line in use_it if "uvicorn" in line]
    # The reader's checkout is the working directory; ../my-service is beside it.
    run_lines([line for line in use_it if line != serve], cwd=checkout)
    project = tmp_path / "my-service"
    assert serves_health(serve, project) == {"status": "ok", "database": "ok"}
    answers = (project / ".copier-answers.yml").read_text()
    assert f"_src_path: {checkout}" in answers

    # A new commit of the template, then the README's update, in the project.
    readme = checkout / "template/README.md.jinja"
    readme.write_text(readme.read_text() + "\nA line from a newer template.\n")
    commit_all(checkout, "A newer template")
    run_lines(sh_block(README, "Update a project"), cwd=project)
    assert "A line from a newer template." in (project / "README.md").read_text()


def test_the_docs_quick_start_is_the_readme_s() -> None:
    quick_start = sh_block((ROOT / "docs/index.md").read_text(), "Quick start")
    assert quick_start == sh_block(README, "Use it")


def test_every_release_in_the_changelog_names_a_commit_of_this_repository() -> None:
    changelog = (ROOT / "CHANGELOG.md").read_text()
    releases = re.findall(
        r"^## (v\d+\.\d+\.\d+)\b.*\n\nCommit `([0-9a-f]{40})`\.$", changelog, re.MULTILINE
    )
    headings = re.findall(r"^## (v\d+\.\d+\.\d+)\b", changelog, re.MULTILINE)
    assert [version for version, _ in releases] == headings
    for version, commit in releases:
        found = subprocess.run(
            ["git", "cat-file", "-e", f"{commit}^{{commit}}"], cwd=ROOT, check=False
        )
        assert found.returncode == 0, f"{version}: no commit {commit}"


def test_ci_runs_the_readme_s_test_command_as_written() -> None:
    ci_lines = (ROOT / ".ci/run").read_text().splitlines()
    for command in sh_block(README, "Test it"):
        assert command in ci_lines, f".ci/run does not run {command!r}"
