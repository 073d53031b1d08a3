"""Log lines: JSON in production, readable in development, each naming its
request, and nothing in them that a reader of the logs should not have."""

import json
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy.engine import make_url

from app.core.config import Settings
from tests.helpers import (
    UNREACHABLE_URL,
    USERS,
    client_of_app,
    client_of_broken_app,
    user_body,
)
from tests.schema import delete_all_rows

Configure = Callable[[Settings], None]
DATABASE_PASSWORD = "db-pw-7Qx2vLk9"


def production(settings: Settings, **changes: Any) -> Settings:
    return settings.model_copy(update={"environment": "production", **changes})


def json_lines(err: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in err.splitlines()]


@pytest.mark.usefixtures("migrated")
async def test_production_logs_a_json_access_line_with_the_callers_request_id(
    settings: Settings, logs: Configure, capsys: pytest.CaptureFixture[str]
) -> None:
    logs(production(settings))
    async with client_of_app(production(settings)) as client:
        await client.get("/health", headers={"X-Request-ID": "trace-7"})
    lines = json_lines(capsys.readouterr().err)
    [access] = [line for line in lines if line["logger"] == "app.access"]
    assert access["request_id"] == "trace-7"
    assert access["level"] == "INFO"
    assert (access["method"], access["path"], access["status"]) == (
        "GET",
        "/health",
        200,
    )
    assert access["duration_ms"] >= 0
    assert access["time"].endswith("+00:00")
    assert access["message"].startswith("GET /health 200 ")


@pytest.mark.usefixtures("migrated")
async def test_every_line_of_a_request_names_it(
    settings: Settings, logs: Configure, capsys: pytest.CaptureFixture[str]
) -> None:
    down = production(settings, database_url=UNREACHABLE_URL)
    logs(down)
    async with client_of_app(down) as client:
        response = await client.post(
            USERS, json=user_body(), headers={"X-Request-ID": "outage-2"}
        )
    assert response.status_code == 503
    lines = json_lines(capsys.readouterr().err)
    loggers = {line["logger"] for line in lines if line["request_id"] == "outage-2"}
    # The app's warning about the database, and the access line.
    assert {"app.main", "app.access"} <= loggers, lines


@pytest.mark.usefixtures("migrated")
async def test_development_logs_readable_lines(
    settings: Settings, logs: Configure, capsys: pytest.CaptureFixture[str]
) -> None:
    logs(settings)
    async with client_of_app(settings) as client:
        await client.get("/health/live", headers={"X-Request-ID": "trace-8"})
    [line] = [
        line for line in capsys.readouterr().err.splitlines() if "app.access" in line
    ]
    assert "[trace-8] GET /health/live 200 " in line


@pytest.mark.usefixtures("migrated")
async def test_log_level_warning_leaves_out_the_access_lines(
    settings: Settings, logs: Configure, capsys: pytest.CaptureFixture[str]
) -> None:
    quiet = production(settings, log_level="WARNING")
    logs(quiet)
    async with client_of_app(quiet) as client:
        await client.get("/health")
    assert "app.access" not in capsys.readouterr().err


def test_log_level_is_read_in_any_case() -> None:
    assert Settings.model_validate({"log_level": "debug"}).log_level == "DEBUG"
    with pytest.raises(ValueError, match="log_level"):
        Settings.model_validate({"log_level": "loud"})


def secret_database_url() -> str:
    """The unreachable database, with a password to look for when its URL has one."""
    url = make_url(UNREACHABLE_URL)
    if url.password is not None:
        url = url.set(password=DATABASE_PASSWORD)
    return url.render_as_string(hide_password=False)


@pytest.mark.usefixtures("migrated")
async def test_no_database_password_or_row_reaches_a_log_line(
    settings: Settings, logs: Configure, capsys: pytest.CaptureFixture[str]
) -> None:
    # DEBUG: the most a log can say. A row written, a 503 from a database
    # whose URL holds a password, and a 500.
    await delete_all_rows(settings.database_url)
    verbose = production(settings, log_level="DEBUG")
    logs(verbose)
    async with client_of_app(verbose) as client:
        created = await client.post(USERS, json=user_body("private@example.com"))
    assert created.status_code == 201
    down = production(verbose, database_url=secret_database_url())
    async with client_of_app(down) as client:
        assert (await client.get("/health")).status_code == 503
        assert (await client.post(USERS, json=user_body())).status_code == 503
    async with client_of_broken_app(verbose) as client:
        assert (await client.get("/broken")).status_code == 500

    err = capsys.readouterr().err
    assert json_lines(err), "nothing was logged"
    assert DATABASE_PASSWORD not in err
    # SQL statements and their parameters stay out of the logs.
    assert "private@example.com" not in err
    assert "INSERT" not in err.upper()
