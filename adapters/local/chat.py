"""A terminal chat with the engine, as any person in the config: `lastmile chat --as ana`."""

from __future__ import annotations

import asyncio
import logging
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any, TextIO

from adapters.local.inbound import PLATFORM, tapped, typed
from adapters.local.render import Screen, render
from bot.checkin_runner import current_state
from bot.flows.checkin import message
from bot.replies import Reply, reply_from_dict
from bot.runtime import Runtime
from storage.inbox import NewEvent
from storage.outbox import claim_due, record_delivery
from storage.people import find_person

logger = logging.getLogger(__name__)


ANSWER_TIMEOUT_SECONDS = 15.0


class LocalChat:
    """One person's terminal conversation with the bot, through the inbox and the outbox."""

    def __init__(self, runtime: Runtime, user_id: str, image_dir: Path | None = None) -> None:
        self.runtime = runtime
        self.user_id = user_id
        self.person_key = f"{PLATFORM}:{user_id}"
        self.screen = Screen()
        self.image_dir = image_dir or Path("lastmile-images")

    def _show(self, replies: list[Reply], locale: str = "") -> list[str]:
        wording = self.runtime.wordings.get(locale)
        return render(replies, self.screen, self.image_dir, wording)

    def _payload(self, text: str, files: tuple[str, ...] = ()) -> dict[str, Any]:
        event_id = f"local-{uuid.uuid4()}"
        if text in self.screen.numbers and not files:
            token, value = self.screen.numbers[text]
            return tapped(self.user_id, event_id, token, value)
        if text in ("0", "skip") and self.screen.skip_token and not files:
            return tapped(self.user_id, event_id, self.screen.skip_token, "skip")
        return typed(self.user_id, event_id, text, files)

    async def send(self, line: str, files: tuple[str, ...] = ()) -> list[str]:
        """Handle one line typed by the person; return the lines the bot prints.

        The line is stored in the inbox first and handled like any platform's event
        (here, or by a `serve` sharing the database); the answers come back through
        the outbox.
        """
        payload = self._payload(line.strip(), files)
        event = NewEvent(PLATFORM, payload["id"], self.person_key, payload)
        inbox = self.runtime.inbox
        if await inbox.answer_for(await inbox.store(event), event, ANSWER_TIMEOUT_SECONDS) is None:
            logger.warning("the line was stored but not handled yet; it is answered later")
        return await self.deliver_pending()

    async def deliver_pending(self) -> list[str]:
        """Show what waits in the outbox for this person: answers, check-ins, notices."""
        now = self.runtime.clock()
        shown: list[str] = []
        async with self.runtime.db.session() as session:
            person = await find_person(session, PLATFORM, self.user_id)
            rows = await claim_due(
                session,
                now,
                platforms=(PLATFORM,),
                lease=timedelta(minutes=1),
                person_id=person.id if person is not None else None,
                destination=self.user_id,
            )
            for row in sorted(rows, key=lambda row: row.id or 0):
                replies = [reply_from_dict(item) for item in row.payload.get("replies", [])]
                shown += self._show(replies, str(row.payload.get("locale") or ""))
                assert row.id is not None
                await record_delivery(
                    session,
                    row.id,
                    now,
                    sent_checkin_id=row.checkin_id if row.purpose == "checkin" else None,
                    forget_contents=row.purpose == "reply",
                )
        return shown

    async def resume(self) -> list[str]:
        """Re-ask the question the person was at when the last session ended."""
        async with self.runtime.db.session() as session:
            person = await find_person(session, PLATFORM, self.user_id)
            state = await current_state(session, person.id) if person and person.id else None
        shown: list[str] = []
        if state is not None and person is not None:
            w = self.runtime.engine.wording_for(person)
            shown = self._show([message(state, w)], w.locale)
        return shown + await self.deliver_pending()


async def run_chat(runtime: Runtime, user_id: str, stdin: TextIO, stdout: TextIO) -> None:
    """Read lines until end of input or `quit`, printing the bot's answers."""
    chat = LocalChat(runtime, user_id)

    def say(lines: list[str]) -> None:
        for line in lines:
            print(f"lastmile> {line}" if not line.startswith("  ") else line, file=stdout)
        stdout.flush()

    print(
        f"You are {user_id}. Type help for commands, checkin for a check-in now, quit to leave.",
        file=stdout,
    )
    say(await chat.resume())
    while True:
        print(f"{user_id}> ", end="", file=stdout)
        stdout.flush()
        line = await asyncio.to_thread(stdin.readline)
        if not line or line.strip() in ("quit", "exit"):
            print("", file=stdout)
            break
        if not line.strip():
            say(await chat.deliver_pending())
            continue
        say(await chat.send(line))
