"""Where `lastmile demo` may write: a new SQLite file, or one an earlier demo made."""

from __future__ import annotations

import asyncio
import sqlite3
from datetime import datetime
from pathlib import Path

from storage.db import Database
from storage.instance import instance
from storage.migrate import upgrade


def _demo_mark(path: Path) -> bool | None:
    """True for a file `lastmile demo` made, False for any other database, None for no file."""
    if not path.exists():
        return None
    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as connection:
            row = connection.execute("SELECT demo FROM instance WHERE id = 1").fetchone()
    except sqlite3.Error:
        return False
    return bool(row and row[0])


async def fresh_demo_database(path: Path) -> str:
    """Make room for a new demo database at `path`.

    An earlier demo's file is removed (demo data is thrown away and made again); any other
    file is left alone.

    Returns:
        Why the demo may not write there ("" when it may).
    """
    mark = await asyncio.to_thread(_demo_mark, path)
    if mark is False:
        return (
            f"{path} is not a demo database (lastmile demo did not make it): demo data is "
            "never mixed into a real database. Pick another file with --database."
        )
    if mark:
        for leftover in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
            await asyncio.to_thread(leftover.unlink, missing_ok=True)
    return ""


async def mark_demo(url: str, now: datetime) -> None:
    """Give a new database its schema and its demo mark before anything is written to it."""
    database = Database(url)
    try:
        await upgrade(url)
        async with database.session() as session:
            await instance(session, now, demo=True)
    finally:
        await database.dispose()
