"""The template's promises about what it renders, for every combination of answers."""

import json
import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import copier
import pytest
import yaml

from conftest import ROOT, VARIANTS, Render, choices, files_of, variant_id

LAYOUT = [
    "app/__init__.py",
    "app/main.py",
    "app/dependencies.py",
    "app/database.py",
    "app/models.py",
    "app/schemas.py",
    "app/routes/__init__.py",
    "app/routes/health.py",
    "app/routes/users.py",
    "app/routes/items.py",
    "app/services/__init__.py",
    "app/services/user_service.py",
    "app/services/item_service.py",
    "app/core/__init__.py",
    "app/core/config.py",
    "app/utils/__init__.py",
    "app/utils/pagination.py",
    "tests/__init__.py",
    "tests/conftest.py",
    "tests/test_health.py",
    "tests/test_users.py",
    "tests/test_items.py",
    "pyproject.toml",
    "README.md",
    ".gitignore",
    ".env.example",
    ".copier-answers.yml",
]

# The only files that may differ between ORM styles for the same driver and jwt
# answer: the data layer, and the files that list its dependencies or name it.
DATA_LAYER = {
    "app/database.py",
    "app/models.py",
    "app/services/user_service.py",
    "app/services/item_service.py",
    "app/services/login_attempt_service.py",
    # A service of one's own, written from the style's docs.
    "tests/your_own_service.py",
    "pyproject.toml",
    "README.md",
    ".copier-answers.yml",
    # Autogenerate writes SQLModel's text columns as plain VARCHAR.
    "migrations/env.py",
}

# Distribution names that only some variants may depend on.
OPTIONAL_DEPENDENCIES = {
    "asyncpg": lambda answers: answers["driver"] == "asyncpg",
    "aiosqlite": lambda answers: answers["driver"] == "aiosqlite",
    "sqlmodel": lambda answers: answers["orm"] == "sqlmodel",
    "databases": lambda answers: answers["orm"] == "databases",
}


def dependency_names(project: Path) -> set[str]:
    pyproject = tomllib.loads((project / "pyproject.toml").read_text())
    names = set()
    for requirement in pyproject["project"]["dependencies"]:
        match = re.match(r"[A-Za-z0-9_.-]+", requirement)
        assert match, requirement
        names.add(match.group().lower())
    return names


@pytest.mark.parametrize("answers", VARIANTS, ids=variant_id)
def test_every_variant_renders_the_whole_layout(
    render: Render, answers: dict[str, object]
) -> None:
    project = render(**answers)
    missing = [name for name in LAYOUT if not (project / name).is_file()]
    assert not missing


@pytest.mark.parametrize("answers", VARIANTS, ids=variant_id)
def test_each_variant_depends_only_on_what_it_uses(
    render: Render, answers: dict[str, object]
) -> None:
    names = dependency_names(render(**answers))
    for name, wanted in OPTIONAL_DEPENDENCIES.items():
        assert (name in names) == wanted(answers), name
    assert {"fastapi", "pydantic-settings", "uvicorn"} <= {
        name.split("[")[0] for name in names
    }


@pytest.mark.parametrize("answers", VARIANTS, ids=variant_id)
def test_no_template_syntax_or_blank_line_runs_are_left(
    render: Render, answers: dict[str, object]
) -> None:
    for name, content in files_of(render(**answers)).items():
        text = content.decode()
        for marker in ("{{ ", " }}", "{%", "%}", "{#", "#}"):
            assert marker not in text, (name, marker)
        assert "\n\n\n\n" not in text, name
        assert text == "" or text.endswith("\n"), name
        assert not text.endswith("\n\n"), name
        trailing = [n for n, line in enumerate(text.splitlines(), 1) if line != line.rstrip()]
        assert not trailing, (name, trailing)


# Words that belong to one answer, and so must not appear in a render with
# another: each render reads as if written for its own answers alone.
WORDS_OF_OTHER_ANSWERS = {
    ("driver", "asyncpg"): [r"sqlite"],
    ("driver", "aiosqlite"): [r"postgres", r"asyncpg", r"psycopg"],
    ("orm", "sqlalchemy"): [r"sqlmodel", r"encode/databases", r"\bdatabases\.Database"],
    ("orm", "sqlmodel"): [r"encode/databases", r"\bdatabases\.Database"],
    ("orm", "databases"): [r"sqlmodel", r"AsyncSession", r"session\.(add|commit)"],
    ("jwt", False): [
        r"\bjwt\b",
        r"bearer",
        r"password[_ ]hash",
        r"access[_ ]token",
        r"\btokens?\b",
        r"\blog(ged|s)? in\b",
        r"security[_ ]stamp",
    ],
}


# Revisions 0002 and 0004 are empty without JWT, and say why: a project has the
# same revisions whatever its answers, so that changing one keeps one history.
EMPTY_WITHOUT_JWT = (
    "migrations/versions/2026_11_25_0002_",
    "migrations/versions/2026_12_03_0004_",
)


@pytest.mark.parametrize("answers", VARIANTS, ids=variant_id)
def test_no_render_speaks_of_another_answer(
    render: Render, answers: dict[str, object]
) -> None:
    found = []
    for name, content in files_of(render(**answers)).items():
        if name == ".copier-answers.yml":  # it names every answer, by design
            continue
        if name.startswith(EMPTY_WITHOUT_JWT) and not answers["jwt"]:
            continue
        text = content.decode()
        for (question, answer), patterns in WORDS_OF_OTHER_ANSWERS.items():
            if answers[question] != answer:
                continue
            for pattern in patterns:
                for match in re.finditer(pattern, text, re.IGNORECASE):
                    line = text.count("\n", 0, match.start()) + 1
                    found.append(f"{name}:{line}: {match.group()}")
    assert not found


@pytest.mark.parametrize("answers", VARIANTS, ids=variant_id)
def test_every_variant_has_one_migration_head(
    render: Render, answers: dict[str, object]
) -> None:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    project = render(**answers)
    config = Config(str(project / "alembic.ini"))
    assert len(ScriptDirectory.from_config(config).get_heads()) == 1


@pytest.mark.parametrize("jwt", choices("jwt"))
@pytest.mark.parametrize("driver", choices("driver"))
def test_only_the_data_layer_differs_between_orm_styles(
    render: Render, driver: str, jwt: bool
) -> None:
    renders = {
        orm: files_of(render(orm=orm, driver=driver, jwt=jwt)) for orm in choices("orm")
    }
    reference_orm, reference = next(iter(renders.items()))
    for orm, files in renders.items():
        # A data-layer file may exist in some styles only; nothing else may.
        only_some = set(files) ^ set(reference)
        assert only_some <= DATA_LAYER, (orm, only_some - DATA_LAYER)
        differing = {
            name for name in set(files) & set(reference) if files[name] != reference[name]
        }
        assert differing <= DATA_LAYER, (reference_orm, orm, differing - DATA_LAYER)


OPENAPI = (
    "import json, sys; from app.main import app; "
    "json.dump(app.openapi(), sys.stdout, sort_keys=True)"
)


@pytest.mark.parametrize("jwt", choices("jwt"))
@pytest.mark.parametrize("driver", choices("driver"))
def test_the_openapi_document_is_the_same_for_every_orm_style(
    render: Render, driver: str, jwt: bool
) -> None:
    documents = {}
    for orm in choices("orm"):
        project = render(orm=orm, driver=driver, jwt=jwt)
        result = subprocess.run(
            [sys.executable, "-c", OPENAPI],
            cwd=project,
            env={**os.environ, "PYTHONPATH": str(project)},
            capture_output=True,
            text=True,
        )
        assert result.returncode == 0, result.stderr
        documents[orm] = json.loads(result.stdout)
    reference = documents.pop("sqlalchemy")
    assert len(reference["paths"]) >= 5
    for orm, document in documents.items():
        assert document == reference, orm


def test_jwt_false_renders_nothing_of_jwt(render: Render) -> None:
    project = render(jwt=False)
    assert not (project / "app/core/security.py").exists()
    assert not (project / "app/routes/auth.py").exists()
    assert not {"pyjwt", "pwdlib"} & dependency_names(project)


def test_defaults_give_the_default_variant(render: Render) -> None:
    project = render()
    answers = yaml.safe_load((project / ".copier-answers.yml").read_text())
    assert answers["orm"] == "sqlalchemy"
    assert answers["driver"] == "aiosqlite"
    assert answers["jwt"] is False
    assert answers["project_slug"] == "template_check"
    # What `copier update` needs to find the template again.
    assert answers["_src_path"]
    assert answers["_commit"]


def test_rendering_is_deterministic(tmp_path: Path) -> None:
    # Both renders here, back to back: a render cached earlier in the run may
    # predate an edit to the working tree.
    for name in ("first", "second"):
        copier.run_copy(
            str(ROOT),
            tmp_path / name,
            data={"project_name": "Template Check"},
            defaults=True,
            vcs_ref="HEAD",
            quiet=True,
            unsafe=True,
        )
    first, second = files_of(tmp_path / "first"), files_of(tmp_path / "second")
    # `_commit` names the template commit. With uncommitted changes that is the
    # throwaway commit Copier makes of them, whose hash is not stable.
    for files in (first, second):
        answers = files.pop(".copier-answers.yml").decode()
        assert re.search(r"^_commit: \S+$", answers, re.MULTILINE)
        files[".copier-answers.yml"] = re.sub(
            r"^_commit: .*$", "_commit: <template commit>", answers, flags=re.MULTILINE
        ).encode()
    assert first == second


@pytest.mark.parametrize(
    "answers",
    [
        {"orm": "sqlalchemy", "driver": "asyncpg", "jwt": True},
        {"orm": "databases", "driver": "aiosqlite", "jwt": False},
    ],
    ids=variant_id,
)
def test_the_longest_answers_still_pass_ruff(
    render: Render, answers: dict[str, object]
) -> None:
    project = render(
        project_name="N" * 60, project_slug="s" * 40, description="d " * 35 + "dd", **answers
    )
    for command in (["ruff", "check", "."], ["ruff", "format", "--check", "."]):
        result = subprocess.run(command, cwd=project, capture_output=True, text=True)
        assert result.returncode == 0, result.stdout + result.stderr


def test_names_are_rendered_where_they_belong(render: Render) -> None:
    project = render(project_name="Billing API", description="Invoices, paid.")
    pyproject = tomllib.loads((project / "pyproject.toml").read_text())
    assert pyproject["project"]["name"] == "billing_api"
    assert pyproject["project"]["description"] == "Invoices, paid."
    assert 'TITLE = "Billing API"' in (project / "app/main.py").read_text()
    assert "# Billing API" in (project / "README.md").read_text()
    assert "billing_api.db" in (project / ".env.example").read_text()


@pytest.mark.parametrize(
    ("answers", "question"),
    [
        ({"project_slug": "my-service"}, "project_slug"),
        ({"project_slug": "MyService"}, "project_slug"),
        ({"project_slug": "1service"}, "project_slug"),
        ({"project_slug": ""}, "project_slug"),
        ({"project_slug": "s" * 41}, "project_slug"),
        ({"project_name": "n" * 61}, "project_name"),
        ({"description": "d" * 73}, "description"),
        ({"project_name": ""}, "project_name"),
        ({"project_name": "   "}, "project_name"),
        ({"project_name": 'Say "hi"'}, "project_name"),
        ({"description": 'a "quoted" line'}, "description"),
        ({"orm": "peewee"}, "orm"),
        ({"driver": "mysql"}, "driver"),
    ],
    ids=lambda value: value if isinstance(value, str) else "-".join(map(str, value.values())),
)
def test_bad_answers_are_refused_naming_the_question(
    tmp_path: Path, answers: dict[str, str], question: str
) -> None:
    destination = tmp_path / "project"
    with pytest.raises(ValueError, match=question):
        copier.run_copy(
            str(ROOT),
            destination,
            data={"project_name": "Template Check", **answers},
            defaults=True,
            vcs_ref="HEAD",
            quiet=True,
            unsafe=True,
        )
    assert not destination.exists()


def test_a_missing_project_name_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="project_name"):
        copier.run_copy(
            str(ROOT), tmp_path / "project", defaults=True, vcs_ref="HEAD", quiet=True,
            unsafe=True,
        )
    assert not (tmp_path / "project").exists()


# --- what the rendered README tells a reader to do ---------------------------


def readme_block(project: Path, section: str) -> str:
    readme = (project / "README.md").read_text()
    match = re.search(
        rf"^## {re.escape(section)}\n.*?^```sh\n(.*?)^```", readme, re.MULTILINE | re.DOTALL
    )
    assert match, f"no sh block under '## {section}'"
    return match.group(1)


@pytest.mark.parametrize("jwt", choices("jwt"))
def test_the_postgresql_readme_creates_the_test_database(render: Render, jwt: bool) -> None:
    test_it = readme_block(render(driver="asyncpg", jwt=jwt), "Test it")
    created = re.search(r"^createdb .* (\w+_test)\b", test_it, re.MULTILINE)
    assert created, test_it
    exported = test_it.index("export TEST_DATABASE_URL=")
    assert created.start() < exported
    assert f"/{created.group(1)}\n" in test_it[exported:]


@pytest.mark.parametrize("driver", choices("driver"))
def test_the_readme_puts_the_project_in_git_before_the_hooks(
    render: Render, driver: str
) -> None:
    readme = (render(driver=driver) / "README.md").read_text()
    assert readme.index("git init") < readme.index("pre-commit install")
    assert readme.index("uv sync") < readme.index("git init")  # uv.lock goes in too


def test_every_docker_run_of_a_jwt_image_has_the_secret_key(render: Render) -> None:
    # The image runs in production, which refuses to start without SECRET_KEY.
    readme = (render(driver="aiosqlite", jwt=True) / "README.md").read_text()
    runs = [line for line in readme.splitlines() if line.startswith("docker run")]
    assert len(runs) == 2
    assert all(" -e SECRET_KEY " in line for line in runs)


def test_the_layout_page_names_every_rendered_module(render: Render) -> None:
    layout = (ROOT / "docs/layout.md").read_text()
    missing = set()
    for driver in choices("driver"):
        project = render(driver=driver, jwt=True)
        for path in project.rglob("*.py"):
            relative = path.relative_to(project)
            if relative.name != "__init__.py" and relative.parts[:2] != (
                "migrations",
                "versions",
            ):
                if relative.name not in layout:
                    missing.add(str(relative))
    assert not missing
