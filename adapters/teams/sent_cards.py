"""Which Teams messages show which question token, so an answer can replace their buttons."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from adapters.teams.inbound import PLATFORM
from bot.engine import Clock
from storage.db import Database
from storage.messages import find_message, forget_message, remember_message
from storage.people import find_person

MESSAGES_PER_TOKEN = 4
"""A question can be on several messages: the check-in and its reminder."""


class SentCards:
    """The cards sent showing each question: token -> conversation and activity ids.

    A card action names its own message (replyToId, or the invoke itself), so this is
    needed for the other messages showing the same question (a reminder repeats it) and
    for questions answered some other way, e.g. by typing in the chat. Kept in the
    database, so an answer handled after a restart or by another replica finds them too.
    """

    def __init__(self, db: Database, clock: Clock) -> None:
        self.db = db
        self.clock = clock

    async def remember(
        self,
        conversation_id: str,
        activity_id: str,
        tokens: Iterable[str],
        *,
        person_id: int | None = None,
        user_id: str = "",
    ) -> None:
        """Note that ``activity_id`` in ``conversation_id`` shows the questions ``tokens``.

        Args:
            conversation_id: the chat the card is in.
            activity_id: the card's message id.
            tokens: the question tokens it shows.
            person_id: whom it was for (erased with them); looked up from ``user_id``
                when not given.
            user_id: the person's Teams id, when ``person_id`` is not known.
        """
        tokens = list(tokens)
        if not activity_id or not tokens:
            return
        async with self.db.session() as session:
            if person_id is None and user_id:
                person = await find_person(session, PLATFORM, user_id)
                person_id = person.id if person is not None else None
            for token in tokens:
                known = await find_message(session, PLATFORM, token)
                ids = _ids_in(known.ref if known is not None else {}, conversation_id)
                ids = [*(known_id for known_id in ids if known_id != activity_id), activity_id]
                ref = {
                    "conversation_id": conversation_id,
                    "activity_ids": ids[-MESSAGES_PER_TOKEN:],
                }
                await remember_message(session, PLATFORM, token, person_id, ref, self.clock())

    async def find(self, conversation_id: str, token: str) -> list[str]:
        """The messages sent in ``conversation_id`` showing the question ``token``, oldest first."""
        async with self.db.session() as session:
            known = await find_message(session, PLATFORM, token)
        return _ids_in(known.ref, conversation_id) if known is not None else []

    async def forget(self, conversation_id: str, token: str) -> None:
        """The question is answered; its messages need no more updates."""
        async with self.db.session() as session:
            known = await find_message(session, PLATFORM, token)
            if known is not None and _ids_in(known.ref, conversation_id):
                await forget_message(session, PLATFORM, token)


def _ids_in(ref: dict[str, Any], conversation_id: str) -> list[str]:
    if ref.get("conversation_id") != conversation_id:
        return []
    return [str(activity_id) for activity_id in ref.get("activity_ids", [])]
