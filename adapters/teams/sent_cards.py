"""Which Teams messages show which question token, so an answer can replace their buttons."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable

MESSAGES_PER_TOKEN = 4
"""A question can be on several messages: the check-in and its reminder."""


class SentCards:
    """The cards this process sent, newest kept: (conversation, token) -> activity ids.

    A card action names its own message (replyToId, or the invoke itself), so this is
    needed for the other messages showing the same question (a reminder repeats it) and
    for questions answered some other way, e.g. by typing in the chat.
    """

    def __init__(self, capacity: int = 20_000) -> None:
        self.capacity = capacity
        self._cards: OrderedDict[tuple[str, str], list[str]] = OrderedDict()

    def remember(self, conversation_id: str, activity_id: str, tokens: Iterable[str]) -> None:
        """Note that ``activity_id`` in ``conversation_id`` shows the questions ``tokens``."""
        if not activity_id:
            return
        for token in tokens:
            key = (conversation_id, token)
            ids = [known for known in self._cards.get(key, []) if known != activity_id]
            self._cards[key] = [*ids, activity_id][-MESSAGES_PER_TOKEN:]
            self._cards.move_to_end(key)
        while len(self._cards) > self.capacity:
            self._cards.popitem(last=False)

    def find(self, conversation_id: str, token: str) -> list[str]:
        """The messages this process sent showing the question ``token``, oldest first."""
        return list(self._cards.get((conversation_id, token), []))

    def forget(self, conversation_id: str, token: str) -> None:
        """The question is answered; its messages need no more updates."""
        self._cards.pop((conversation_id, token), None)
