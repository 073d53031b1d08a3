import pytest
from sqlalchemy.engine import make_url

from app.core.config import (
    DEFAULT_DATABASE_URL,
    DRIVERNAME,
    DRIVERNAME_ALIASES,
    Settings,
    get_settings,
)


@pytest.fixture(autouse=True)
def fresh_settings() -> None:
    get_settings.cache_clear()


def test_defaults_need_no_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DATABASE_URL", raising=False)
    assert get_settings().database_url == DEFAULT_DATABASE_URL


def test_database_url_comes_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, database_url: str
) -> None:
    monkeypatch.setenv("DATABASE_URL", database_url)
    assert get_settings().database_url == database_url


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("not a url", "not a database URL"),
        ("mysql+aiomysql://db/app", f"expected a {DRIVERNAME}:// URL"),
    ],
)
def test_a_bad_database_url_stops_start_up_with_one_line(
    monkeypatch: pytest.MonkeyPatch, value: str, message: str
) -> None:
    monkeypatch.setenv("DATABASE_URL", value)
    with pytest.raises(SystemExit) as stopped:
        get_settings()
    line = str(stopped.value)
    assert "\n" not in line
    assert line.startswith("Invalid configuration: DATABASE_URL: ")
    assert message in line


def test_every_bad_variable_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "nope")
    monkeypatch.setenv("DATABASE_TIMEOUT", "-1")
    with pytest.raises(SystemExit, match=r"DATABASE_URL: .*; DATABASE_TIMEOUT: "):
        get_settings()


def test_a_plain_url_gets_the_async_driver() -> None:
    alias = sorted(DRIVERNAME_ALIASES)[0]
    plain = make_url(DEFAULT_DATABASE_URL).set(drivername=alias)
    settings = Settings(database_url=plain.render_as_string(hide_password=False))
    assert settings.database_url == DEFAULT_DATABASE_URL
