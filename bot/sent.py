"""Where each question was shown: one record of sent copies that every platform's sender keeps."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from bot.engine import Clock
from bot.group_commit import GroupCommit
from storage.db import Database
from storage.messages import Copy, copies_of, remember_copies, take_copies


class SentCopies:
    """The messages one platform sent showing each question token.

    Kept in the database, so an answer handled after a restart or on another replica
    still finds every copy of its question (the question and its reminder) and
    replaces their buttons. `ref` is the platform's own reference to a message.
    """

    def __init__(self, db: Database, clock: Clock, platform: str) -> None:
        self.db = db
        self.clock = clock
        self.platform = platform
        self._writes: GroupCommit[Copy] = GroupCommit(self._write)

    async def remember(self, token: str, ref: dict[str, Any], person_id: int | None) -> None:
        """Keep that the message `ref` shows the question `token` (for `person_id`).

        Copies sent at once (a slot's check-ins) are written together.
        """
        await self._writes.add(Copy(token, self.platform, person_id, ref))

    async def _write(self, copies: Sequence[Copy]) -> None:
        async with self.db.session() as session:
            await remember_copies(session, copies, self.clock())

    async def find(self, token: str) -> list[dict[str, Any]]:
        """The messages showing `token`, oldest first."""
        async with self.db.session() as session:
            return [dict(row.ref) for row in await copies_of(session, token, self.platform)]

    async def take(self, token: str) -> list[dict[str, Any]]:
        """The messages showing `token`, forgetting them (the question is answered)."""
        async with self.db.session() as session:
            return await take_copies(session, token, self.platform)
