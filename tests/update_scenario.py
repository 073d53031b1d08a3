"""A team's life with a rendered project: render a release, edit it, update it.

Used by tests/test_update.py, and by noxfile.py, whose variant sessions check the
project this produces (an old release updated to the working tree, edits and all).
Plain functions, no pytest: nox imports this module too.
"""

import shutil
import subprocess
from pathlib import Path

import copier

ROOT = Path(__file__).parent.parent
# The release every update starts from, by tag or, in a clone without tags, by
# its commit.
# The last release: the update teams make next.
OLD_RELEASE = ("v0.3.0", "1f459094b450423bce5c874d7a5b7fcb73a5c244")
PROJECT_NAME = "Template Check"


def git(*args: str, cwd: Path) -> str:
    result = subprocess.run(
        ["git", *args], cwd=cwd, check=True, capture_output=True, text=True
    )
    return result.stdout


def commit_all(project: Path, message: str) -> None:
    git("add", "-A", cwd=project)
    git(
        "-c", "user.name=Team", "-c", "user.email=team@example.com",
        "commit", "--quiet", "--no-verify", "-m", message,
        cwd=project,
    )


def snapshot_template(destination: Path) -> Path:
    """A clone of this repository whose HEAD commit is the working tree.

    `copier update` finds the version a project was rendered from by its commit.
    Copier's own commit of uncommitted changes lives only in a temporary clone,
    so updates are tested from and to commits of this snapshot instead.
    """
    git("clone", "--quiet", str(ROOT), str(destination), cwd=ROOT)
    git("rm", "-r", "--quiet", ".", cwd=destination)
    listed = git("ls-files", "--cached", "--others", "--exclude-standard", "-z", cwd=ROOT)
    for name in filter(None, listed.split("\0")):
        source = ROOT / name
        if source.is_file():
            target = destination / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
    git("add", "-A", cwd=destination)
    if git("status", "--porcelain", cwd=destination).strip():
        commit_all(destination, "The working tree")
    return destination


def old_release_ref() -> str:
    for ref in OLD_RELEASE:
        found = subprocess.run(
            ["git", "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}"],
            cwd=ROOT,
            capture_output=True,
        )
        if found.returncode == 0:
            return ref
    raise RuntimeError(
        f"The update tests start from release {OLD_RELEASE[0]} (commit "
        f"{OLD_RELEASE[1][:12]}), which this clone lacks: clone the full history."
    )


def render_release(
    template: Path, destination: Path, answers: dict[str, object], ref: str
) -> None:
    """Render `ref` of the template into a new git repository, committed."""
    copier.run_copy(
        str(template),
        destination,
        data={"project_name": PROJECT_NAME, **answers},
        defaults=True,
        vcs_ref=ref,
        quiet=True,
        unsafe=True,
    )
    git("init", "--quiet", cwd=destination)
    commit_all(destination, f"Render the template at {ref}")


def update(project: Path, **changed_answers: object) -> None:
    """`copier update --defaults --vcs-ref HEAD`: to the template's newest commit."""
    copier.run_update(
        project,
        data=changed_answers or None,
        defaults=True,
        overwrite=True,
        vcs_ref="HEAD",
        quiet=True,
        unsafe=True,
    )


# --- the edits a team makes in its project ------------------------------------

VERSION_ROUTE = '''\
"""The deployed version, for the operations dashboard (not part of the API)."""

from fastapi import APIRouter

router = APIRouter(include_in_schema=False)


@router.get("/version")
async def read_version() -> dict[str, str]:
    return {"version": "2026.11.1"}
'''

VERSION_TEST = '''\
from httpx import AsyncClient


async def test_the_version_is_reported(client: AsyncClient) -> None:
    response = await client.get("/version")
    assert response.status_code == 200
    assert response.json() == {"version": "2026.11.1"}
'''

README_LINE = "Owned by the payments team; ask in #payments."

# A revision of the team's own, on the head of the release's migrations (0002
# with JWT, 0001 without): the template's later revisions fork from the same
# parent, a second head, which the update merges.
TEAM_REVISION_FILE = "migrations/versions/2026_11_30_5e1f0c2a9b7d_trim_item_titles.py"
TEAM_REVISION = '''\
"""Trim the titles of items.

Revision ID: 5e1f0c2a9b7d
Revises: {down_revision}
Create Date: 2026-11-30 10:00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "5e1f0c2a9b7d"
down_revision: str | Sequence[str] | None = "{down_revision}"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute("UPDATE items SET title = trim(title)")


def downgrade() -> None:
    pass
'''


def _replace_once(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert text.count(old) == 1, f"{path.name}: expected {old!r} once"
    path.write_text(text.replace(old, new))


def release_head(answers: dict[str, object]) -> str:
    """The newest migration of the release's render with these answers."""
    return "0002" if answers["jwt"] else "0001"


def apply_team_edits(project: Path, down_revision: str) -> None:
    """A new route and its test, a revision of the team's own, a changed
    setting, and an edited README."""
    (project / "app/routes/version.py").write_text(VERSION_ROUTE)
    revision = TEAM_REVISION.format(down_revision=down_revision)
    (project / TEAM_REVISION_FILE).write_text(revision)
    (project / "tests/test_version.py").write_text(VERSION_TEST)
    main = project / "app/main.py"
    _replace_once(main, "items, users\n", "items, users, version\n")
    _replace_once(
        main,
        "    app.include_router(health.router)\n",
        "    app.include_router(health.router)\n"
        "    app.include_router(version.router)\n",
    )
    _replace_once(
        project / "app/core/config.py",
        "database_pool_size: int = Field(default=10,",
        "database_pool_size: int = Field(default=20,",
    )
    _replace_once(project / "README.md", "\n\nBuilt with", f"\n\n{README_LINE}\n\nBuilt with")


def updated_project(
    template: Path, destination: Path, answers: dict[str, object]
) -> Path:
    """The old release, rendered and edited by a team, updated to HEAD."""
    render_release(template, destination, answers, old_release_ref())
    apply_team_edits(destination, release_head(answers))
    commit_all(destination, "Our own changes")
    update(destination)
    return destination


if __name__ == "__main__":  # python tests/update_scenario.py TEMPLATE DESTINATION ORM DRIVER JWT
    import sys

    template_dir, destination_dir, orm, driver, jwt = sys.argv[1:6]
    answers: dict[str, object] = {"orm": orm, "driver": driver, "jwt": jwt == "true"}
    updated_project(Path(template_dir), Path(destination_dir), answers)
