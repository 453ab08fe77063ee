"""The conversation engine: one entry point for every platform's events."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.exc import IntegrityError

from bot.checkin_runner import advance
from bot.commands import BASE_COMMANDS, Command
from bot.config import LastmileConfig
from bot.directory import Directory
from bot.events import ChoiceMade, Event, FormSubmitted, MemberJoined, MessageReceived
from bot.flows.checkin import Pick, Typed, is_text_step, parse_token
from bot.replies import Answered, Choices, Option, Reply, Text
from bot.turn import Turn
from bot.wording import Wording
from storage.checkins import add_note, classify_note, mark_event_processed
from storage.db import Database
from storage.people import forget_person, get_state, save_address

logger = logging.getLogger(__name__)

Clock = Callable[[], datetime]
NOTE_KINDS = ("workaround", "override", "idea")


def utc_now() -> datetime:
    """The real clock."""
    return datetime.now(UTC)


class Engine:
    """Turns inbound events into stored answers and platform-neutral replies."""

    def __init__(
        self,
        db: Database,
        config: LastmileConfig,
        wording: Wording,
        clock: Clock = utc_now,
    ) -> None:
        self.db = db
        self.config = config
        self.wording = wording
        self.clock = clock
        self.directory = Directory(config)
        self.commands: dict[str, Command] = dict(BASE_COMMANDS)
        self._routes: dict[type[Any], Callable[[Turn, Any], Awaitable[list[Reply]]]] = {
            MessageReceived: self._on_message,
            ChoiceMade: self._on_choice,
            FormSubmitted: self._on_form,
            MemberJoined: self._on_member_joined,
        }
        self._choice_routes: dict[
            str, Callable[[Turn, ChoiceMade, int, str], Awaitable[list[Reply]]]
        ] = {
            "checkin": self._on_flow_choice,
            "day30": self._on_flow_choice,
            "note": self._on_note_choice,
            "forget": self._on_forget_choice,
        }

    def add_command(self, name: str, handler: Command) -> None:
        """Register a command word (digest, trends, update come from other modules)."""
        self.commands[name] = handler

    async def handle(self, event: Event) -> list[Reply]:
        """Handle one inbound event in one transaction.

        Args:
            event: what happened, from an adapter.

        Returns:
            What to say back. Empty when the event was a redelivery or a repeated
            tap that a concurrent delivery already stored.
        """
        now = self.clock()
        try:
            async with self.db.session() as session:
                if event.event_id and not await mark_event_processed(
                    session, event.actor.platform, event.event_id, now
                ):
                    logger.info("event already handled", extra={"event_id": event.event_id})
                    return []
                person = await self.directory.person_for(session, event.actor, now)
                assert person.id is not None
                if event.address.data:
                    await save_address(
                        session, person.id, event.address.platform, event.address.data, now
                    )
                turn = Turn(
                    session=session,
                    person=person,
                    now=now,
                    w=self.wording,
                    config=self.config,
                    roles=self.directory.roles_for(event.actor.identity, person.email),
                )
                return await self._routes[type(event)](turn, event)
        except IntegrityError:
            # Two deliveries of the same tap raced; the unique keys let one through.
            logger.info("concurrent duplicate ignored", extra={"event_id": event.event_id})
            return []

    async def _on_message(self, turn: Turn, event: MessageReceived) -> list[Reply]:
        text = event.text.strip()
        word, _, args = text.partition(" ")
        command = self.commands.get(word.lower())
        if command is not None:
            return await command(turn, args.strip())
        if event.is_command:
            return [Text(turn.w("commands.unknown"))]
        if not text:
            return []
        state = await get_state(turn.session, turn.person_id)
        if state is not None and state.checkin_id is not None and is_text_step(state.step):
            return await advance(
                turn.session,
                turn.person,
                state.checkin_id,
                Typed(state.step, text),
                self.config,
                turn.w,
                turn.now,
            )
        return await self._volunteered(turn, text)

    async def _volunteered(self, turn: Turn, text: str) -> list[Reply]:
        if turn.person.cohort_id is None:
            return [Text(turn.w("commands.not_enrolled"))]
        note = await add_note(turn.session, turn.person_id, text[:4000], turn.now)
        options = tuple(Option(kind, turn.w(f"note.{kind}")) for kind in NOTE_KINDS)
        return [Choices(turn.w("note.kept"), f"note:{note.id}:kind", options)]

    async def _on_choice(self, turn: Turn, event: ChoiceMade) -> list[Reply]:
        parsed = parse_token(event.token)
        if parsed is None or parsed[0] not in self._choice_routes:
            logger.warning("choice with unknown token %r ignored", event.token)
            return []
        flow, target_id, step_name = parsed
        return await self._choice_routes[flow](turn, event, target_id, step_name)

    async def _on_flow_choice(
        self, turn: Turn, event: ChoiceMade, checkin_id: int, step_name: str
    ) -> list[Reply]:
        return await advance(
            turn.session,
            turn.person,
            checkin_id,
            Pick(step_name, event.value),
            self.config,
            turn.w,
            turn.now,
        )

    async def _on_note_choice(
        self, turn: Turn, event: ChoiceMade, note_id: int, _step: str
    ) -> list[Reply]:
        if event.value not in NOTE_KINDS:
            return []
        if not await classify_note(turn.session, note_id, turn.person_id, event.value):
            return [Text(turn.w("checkin.already_answered"))]
        label = turn.w(f"note.{event.value}").lower()
        return [Answered(event.token, turn.w("note.classified", choice=label))]

    async def _on_forget_choice(
        self, turn: Turn, event: ChoiceMade, person_id: int, _step: str
    ) -> list[Reply]:
        if person_id != turn.person_id:
            return []
        if event.value != "yes":
            return [Answered(event.token, turn.w("commands.forget_kept"))]
        await forget_person(turn.session, turn.person_id)
        logger.info("person forgotten on request", extra={"person_id": person_id})
        return [Answered(event.token, turn.w("commands.forgotten"))]

    async def _on_form(self, turn: Turn, event: FormSubmitted) -> list[Reply]:
        parsed = parse_token(event.token)
        if parsed is None or parsed[0] not in ("checkin", "day30"):
            return []
        _flow, checkin_id, step_name = parsed
        return await advance(
            turn.session,
            turn.person,
            checkin_id,
            Typed(step_name, event.text),
            self.config,
            turn.w,
            turn.now,
        )

    async def _on_member_joined(self, turn: Turn, _event: MemberJoined) -> list[Reply]:
        programme = None
        if turn.person.cohort_id in self.config.cohorts:
            programme = self.config.programmes[self.config.cohorts[turn.person.cohort_id].programme]
        tool = programme.tool if programme else "the tool"
        return [Text(turn.w("welcome.text", tool=tool, k=self.config.settings.anonymity_k))]
