"""Copier task, run in the project after `copier update`: one migration history.

Usage (copier.yml runs it): migrations_after_update.py --jwt true|false --driver D

- An update can bring revisions of the template (a new release, or a changed
  answer) into a project that has revisions of its own. Both grow from the
  template's older revisions, so Alembic would see two heads and refuse
  `alembic upgrade head`. This writes the merge revision `alembic merge heads`
  would write.
- Turning `jwt` on or off changes the schema of databases that already ran the
  template's revisions: revisions 0002 and 0004 are empty without JWT. This
  writes the revision that adds (or drops) what they add, where it is missing
  (or present), on top of every head.

It reads the revision files as text, and the answers the project had from git
(`HEAD:.copier-answers.yml`): no import of the project, whose dependencies may not
be installed yet. With one head and no `jwt` change it writes nothing.
"""

import argparse
import ast
import subprocess
import sys
import uuid
from datetime import UTC, datetime
from pathlib import Path

VERSIONS = Path("migrations/versions")
ANSWERS = ".copier-answers.yml"
LINE_LENGTH = 88
# The template's revisions that are empty without JWT.
JWT_REVISIONS = ("0002", "0004")

HEADER = '''"""{message}

Revision ID: {revision}
Revises: {down_revisions}
Create Date: {now:%Y-%m-%d %H:%M:%S}
"""
'''
IDENTIFIERS = """
revision: str = "{revision}"
{down_revision}
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None
"""

MERGE = (
    "Merge the template's revisions with this project's.",
    """
from collections.abc import Sequence
{identifiers}

def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
""",
)

JWT_ON = (
    "Turn JWT on: add what revisions 0002 and 0004 add, where it is missing.\n\n"
    "This project's databases may have run them before it used JWT, when they were\n"
    "empty. Written by the template at `copier update --data jwt=true`.",
    """
from collections.abc import Sequence

from alembic import context
{identifiers}

def upgrade() -> None:
    # Each of them skips what is there already.
    for jwt_revision in ("0002", "0004"):
        script = context.script.get_revision(jwt_revision)
        assert script is not None
        script.module.upgrade()


def downgrade() -> None:
    pass
""",
)

JWT_OFF = (
    "Turn JWT off: drop what revisions 0002 and 0004 added, where it is present.\n\n"
    "Passwords, superusers, token stamps and login attempts go; users and items stay.\n"
    "Written by the template at `copier update --data jwt=false`.",
    """
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
{identifiers}
COLUMNS = ("password_hash", "is_superuser", "security_stamp")
{keep_autoincrement}

def upgrade() -> None:
    inspector = sa.inspect(op.get_bind())
    if inspector.has_table("login_attempts"):
        op.drop_table("login_attempts")
    present = [
        column["name"]
        for column in inspector.get_columns("users")
        if column["name"] in COLUMNS
    ]
    if present:
        with op.batch_alter_table("users"{table_kwargs}) as batch_op:
            for column in present:
                batch_op.drop_column(column)


def downgrade() -> None:
    pass
""",
)
KEEP_AUTOINCREMENT = """# Rebuilding the table drops AUTOINCREMENT unless it is asked for again.
KEEP_AUTOINCREMENT = {"sqlite_autoincrement": True}
"""


def literal(module: ast.Module, name: str) -> object:
    for node in module.body:
        if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            target, value = node.target.id, node.value
        elif isinstance(node, ast.Assign) and len(node.targets) == 1:
            first = node.targets[0]
            target, value = (first.id if isinstance(first, ast.Name) else ""), node.value
        else:
            continue
        if target == name and value is not None:
            return ast.literal_eval(value)
    return None


def names(value: object) -> set[str]:
    if value is None:
        return set()
    if isinstance(value, str):
        return {value}
    return {str(item) for item in value}  # type: ignore[attr-defined]


def heads(versions: Path) -> list[str]:
    revisions: set[str] = set()
    parents: set[str] = set()
    for path in versions.glob("*.py"):
        module = ast.parse(path.read_text(encoding="utf-8"))
        revision = literal(module, "revision")
        if not isinstance(revision, str):
            continue
        revisions.add(revision)
        parents |= names(literal(module, "down_revision"))
    return sorted(revisions - parents)


def down_revision_line(down_revisions: list[str]) -> str:
    if len(down_revisions) == 1:
        value = f'"{down_revisions[0]}"'
    else:
        value = "(" + ", ".join(f'"{head}"' for head in down_revisions) + ")"
    line = f"down_revision: str | Sequence[str] | None = {value}"
    if len(line) <= LINE_LENGTH:
        return line
    items = "".join(f'    "{head}",\n' for head in down_revisions)  # as ruff wraps it
    return f"down_revision: str | Sequence[str] | None = (\n{items})"


def write_revision(kind: tuple[str, str], slug: str, down_revisions: list[str], **extra: str) -> Path:
    message, body = kind
    now = datetime.now(UTC)
    revision = uuid.uuid4().hex[-12:]
    identifiers = IDENTIFIERS.format(
        revision=revision, down_revision=down_revision_line(down_revisions)
    )
    text = HEADER.format(
        message=message, revision=revision,
        down_revisions=", ".join(down_revisions), now=now,
    ) + body.format(identifiers=identifiers, **extra)
    path = VERSIONS / f"{now:%Y_%m_%d}_{revision}_{slug}.py"
    path.write_text(text, encoding="utf-8")
    return path


def head_before_the_update(path: str) -> str | None:
    """A file as the project's last commit has it: before this update."""
    shown = subprocess.run(
        ["git", "show", f"HEAD:{path}"], capture_output=True, text=True, check=False
    )
    return shown.stdout if shown.returncode == 0 else None


def jwt_before_the_update() -> bool | None:
    answers = head_before_the_update(ANSWERS)
    if answers is None:
        return None
    for line in answers.splitlines():
        if line.startswith("jwt:"):
            return line.split(":", 1)[1].strip().lower() == "true"
    return None


def had_empty_jwt_revisions() -> bool:
    """Whether the project had revisions 0002 and 0004, and so its databases may
    have run them while they were empty."""
    listed = subprocess.run(
        ["git", "ls-tree", "--name-only", "HEAD", f"{VERSIONS}/"],
        capture_output=True, text=True, check=False,
    ).stdout
    return all(f"_{revision}_" in listed for revision in JWT_REVISIONS)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--jwt", choices=("true", "false"), required=True)
    parser.add_argument("--driver", required=True)
    args = parser.parse_args()
    if not VERSIONS.is_dir():
        return
    jwt, jwt_before = args.jwt == "true", jwt_before_the_update()
    found = heads(VERSIONS)
    written = None
    if jwt and jwt_before is False and had_empty_jwt_revisions():
        written = write_revision(JWT_ON, "turn_jwt_on", found)
    elif not jwt and jwt_before is True:
        sqlite = args.driver == "aiosqlite"
        written = write_revision(
            JWT_OFF, "turn_jwt_off", found,
            keep_autoincrement=KEEP_AUTOINCREMENT if sqlite else "",
            table_kwargs=", table_kwargs=KEEP_AUTOINCREMENT" if sqlite else "",
        )
    elif len(found) > 1:
        written = write_revision(MERGE, "merge_template_revisions", found)
    if written is not None:
        print(
            f"Wrote {written} on top of {', '.join(found)}: "
            "run `uv run alembic upgrade head`.",
            file=sys.stderr,
        )


if __name__ == "__main__":
    main()
