"""Shared fixtures: databases on SQLite and PostgreSQL, a controlled clock, a runtime."""

from __future__ import annotations

import os
import secrets
import shutil
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
from sqlalchemy import text
from sqlmodel import SQLModel

import storage.models  # noqa: F401  (declares the tables)
from bot.config import Settings, example_config_path
from bot.runtime import Runtime
from lastmile.platforms import PLATFORMS
from lastmile.server import connect, runtime_for
from storage.db import Database
from storage.migrate import upgrade_sync

ROOT = Path(__file__).resolve().parent.parent
POSTGRES_ADMIN_URL = os.environ.get(
    "LASTMILE_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test"
)
IN_CI = os.environ.get("CI", "").lower() == "true"


@dataclass
class FakeClock:
    """A clock tests move by hand."""

    now: datetime

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
        return self.now


@pytest.fixture
def clock() -> FakeClock:
    # A Tuesday afternoon in London, outside quiet hours.
    return FakeClock(datetime(2026, 11, 17, 15, 30, tzinfo=UTC))


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file, copied for each test (migrating each time is slow)."""
    path = tmp_path_factory.mktemp("template") / "lastmile.db"
    upgrade_sync(f"sqlite:///{path}")
    return path


def _admin_connect() -> psycopg.Connection[tuple[object, ...]]:
    return psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True, connect_timeout=3)


@contextmanager
def empty_postgres_database(prefix: str) -> Iterator[str]:
    """A new, empty PostgreSQL database, dropped afterwards.

    Skips the test when PostgreSQL is unreachable, except with CI=true, where it fails.
    """
    try:
        admin = _admin_connect()
    except psycopg.OperationalError as error:
        if IN_CI:
            pytest.fail(f"PostgreSQL is unreachable with CI=true: {error}")
        pytest.skip(f"PostgreSQL is unreachable: {error}")
    name = f"{prefix}_{os.getpid()}_{secrets.token_hex(3)}"
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"{POSTGRES_ADMIN_URL.rsplit('/', 1)[0]}/{name}"
    finally:
        with _admin_connect() as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A fresh, migrated PostgreSQL database for this test session."""
    with empty_postgres_database("lastmile_test") as url:
        upgrade_sync(url)
        yield url


# Every table the models declare, so a new table is emptied between tests too.
TABLES = ", ".join(table.name for table in SQLModel.metadata.sorted_tables)


async def _truncate(url: str) -> None:
    database = Database(url)
    async with database.session() as session:
        await (await session.connection()).execute(
            text(f"TRUNCATE {TABLES} RESTART IDENTITY CASCADE")
        )
    await database.dispose()


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Tests marked `sql` run on SQLite and on PostgreSQL; the rest on SQLite only."""
    if "database_kind" in metafunc.fixturenames:
        kinds: list[Any] = ["sqlite"]
        if metafunc.definition.get_closest_marker("sql") is not None:
            kinds.append(pytest.param("postgres", marks=pytest.mark.postgres))
        metafunc.parametrize("database_kind", kinds)


@pytest.fixture
async def database_url(
    database_kind: str, request: pytest.FixtureRequest, tmp_path: Path, sqlite_template: Path
) -> AsyncIterator[str]:
    """A migrated, empty database: SQLite, and PostgreSQL too for tests marked `sql`."""
    if database_kind == "sqlite":
        path = tmp_path / "lastmile.db"
        shutil.copy(sqlite_template, path)
        yield f"sqlite:///{path}"
        return
    url: str = request.getfixturevalue("postgres_url")
    await _truncate(url)
    yield url


@pytest.fixture
def settings(database_url: str) -> Settings:
    """Settings for the example config on the test database, with no platforms."""
    return Settings(
        database_url=database_url,
        lastmile_config=example_config_path(),
        _env_file=None,  # type: ignore[call-arg]
    )


@pytest.fixture
async def runtime(settings: Settings, clock: FakeClock) -> AsyncIterator[Runtime]:
    """A built runtime on the test database with the controlled clock and the local chat."""
    built = await runtime_for(settings, clock=clock)
    connect(built, None, {"local": PLATFORMS["local"]})
    yield built
    await built.close()
