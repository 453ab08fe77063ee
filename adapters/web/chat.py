"""The browser chat's conversations: what each person's page shows, kept in this process,
and the sender that adds to it and tells the open pages at once (server-sent events)."""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from typing import Any

from adapters.web.render import Message, message_of
from bot.delivery import Outbound
from bot.replies import Answered, Replace

logger = logging.getLogger(__name__)

KEPT = 300
"""Messages kept per conversation: a trial's chat, not an archive (the database has the answers)."""


class Conversations:
    """Every conversation the browser chat shows, and the pages listening to each."""

    def __init__(self) -> None:
        self._messages: dict[str, list[Message]] = defaultdict(list)
        self._listeners: dict[str, set[asyncio.Queue[dict[str, Any] | None]]] = defaultdict(set)
        self._next = 0

    def history(self, who: str) -> list[Message]:
        """What the conversation shows now, oldest first."""
        return list(self._messages.get(who, []))

    def listen(self, who: str) -> asyncio.Queue[dict[str, Any] | None]:
        """A queue of the conversation's changes from now on (None: the server stops)."""
        queue: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue()
        self._listeners[who].add(queue)
        return queue

    def stop_listening(self, who: str, queue: asyncio.Queue[dict[str, Any] | None]) -> None:
        """The page went away."""
        self._listeners[who].discard(queue)

    def close(self) -> None:
        """Tell every open page's stream to end (the server is stopping)."""
        for queues in self._listeners.values():
            for queue in queues:
                queue.put_nowait(None)

    def _tell(self, who: str, change: dict[str, Any]) -> None:
        for queue in self._listeners.get(who, ()):
            queue.put_nowait(change)

    def add(self, who: str, message: Message, sender: str = "bot") -> Message:
        """Show a new message in the conversation."""
        self._next += 1
        shown = {**message, "id": self._next, "from": sender}
        messages = self._messages[who]
        messages.append(shown)
        del messages[:-KEPT]
        self._tell(who, {"type": "message", "message": shown})
        return shown

    def answered(self, who: str, token: str, summary: str) -> None:
        """Replace the buttons of every message asking `token` with the answer's record."""
        for message in self._messages.get(who, []):
            if message.get("token") == token and not message.get("answered"):
                message["answered"] = summary
                self._tell(who, {"type": "update", "message": message})

    def replace(self, who: str, token: str, message: Message, resend: bool) -> None:
        """Show `message` in place of the one asking `token`; with `resend`, or when that
        message is gone, drop the old copies and show it anew at the bottom."""
        messages = self._messages.get(who, [])
        old = [shown for shown in messages if shown.get("token") == token]
        if old and not resend:
            kept = old[-1]
            for stale in old[:-1]:
                self._remove(who, stale)
            identity = kept["id"]
            kept.clear()
            kept.update({**message, "id": identity, "from": "bot"})
            self._tell(who, {"type": "update", "message": kept})
            return
        for stale in old:
            self._remove(who, stale)
        self.add(who, message)

    def _remove(self, who: str, message: Message) -> None:
        self._messages[who].remove(message)
        self._tell(who, {"type": "remove", "id": message["id"]})


class WebSender:
    """Delivers outbox messages to the browser chat: into the conversation, to its pages."""

    platform = "web"

    def __init__(self, conversations: Conversations) -> None:
        self.conversations = conversations

    async def deliver(self, message: Outbound) -> dict[str, Any]:
        """Show the replies in the person's (or channel's) conversation."""
        who = (
            str(message.context.get("user") or "")
            or message.destination
            or (message.recipient.user_id if message.recipient else "")
        )
        for reply in message.replies:
            if isinstance(reply, Answered):
                self.conversations.answered(who, reply.token, reply.summary)
                continue
            if isinstance(reply, Replace):
                asked = message_of(reply.reply)
                if asked is not None:
                    self.conversations.replace(who, reply.token, asked, reply.resend)
                continue
            shown = message_of(reply)
            if shown is not None:
                self.conversations.add(who, shown)
        return {}
