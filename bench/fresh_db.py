"""Throwaway, migrated databases for the benches: a SQLite file or a PostgreSQL database."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg

from storage.migrate import upgrade_sync

POSTGRES = "postgresql://postgres@127.0.0.1:5432/test"


class FreshDatabases:
    """Makes migrated databases on demand; `fresh_databases()` drops the PostgreSQL ones."""

    def __init__(self, directory: Path, postgres: str) -> None:
        self.directory = directory
        self.postgres = postgres
        self.created: list[str] = []

    def sqlite(self, label: str) -> str:
        url = f"sqlite:///{self.directory / label}-{secrets.token_hex(4)}.db"
        upgrade_sync(url)
        return url

    def postgresql(self, label: str) -> str:
        name = f"lastmile_bench_{label}_{secrets.token_hex(4)}"
        with psycopg.connect(self.postgres, autocommit=True) as admin:
            admin.execute(f'CREATE DATABASE "{name}"')
        self.created.append(name)
        url = self.postgres.rsplit("/", 1)[0] + f"/{name}"
        upgrade_sync(url)
        return url

    def make(self, database: str, label: str) -> str:
        """A new migrated database: `database` is "SQLite" or "PostgreSQL"."""
        return self.sqlite(label) if database == "SQLite" else self.postgresql(label)


@contextmanager
def fresh_databases(directory: Path, postgres: str = POSTGRES) -> Iterator[FreshDatabases]:
    """Databases made inside the block; the PostgreSQL ones are dropped after it."""
    databases = FreshDatabases(directory, postgres)
    try:
        yield databases
    finally:
        if databases.created:
            with psycopg.connect(postgres, autocommit=True) as admin:
                for name in databases.created:
                    admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
