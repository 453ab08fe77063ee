"""The conversation engine: one entry point for every platform's events."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlmodel.ext.asyncio.session import AsyncSession

from bot.checkin_runner import advance
from bot.commands import BASE_COMMANDS, Command
from bot.config import LastmileConfig
from bot.directory import Directory
from bot.events import (
    ChoiceMade,
    Event,
    FormSubmitted,
    MemberJoined,
    MessageReceived,
    StatusRequested,
)
from bot.flows.checkin import MAX_TEXT, Pick, Typed, is_text_step, parse_token
from bot.mydata import render_mydata, retention_of, status_text
from bot.platform import Inbound
from bot.replies import Answered, Choices, Option, Reply, Status, Text
from bot.text import NOTE_LIMIT, clean
from bot.turn import Turn
from bot.wording import Wording
from storage.channels import save_channel_address
from storage.checkins import add_note, classify_note
from storage.db import Database
from storage.people import forget_person, get_state, person_data, save_address

if TYPE_CHECKING:
    from bot.reports.links import ReportLinks

logger = logging.getLogger(__name__)

Clock = Callable[[], datetime]
NOTE_KINDS = ("workaround", "override", "idea")


def utc_now() -> datetime:
    """The real clock."""
    return datetime.now(UTC)


@dataclass(frozen=True)
class Handled:
    """What handling one inbound event came to."""

    replies: list[Reply]
    person_id: int | None
    """Who it was from, or None for someone lastmile keeps nothing about (not in a pilot)."""


SHARED_COMMANDS = frozenset({"help", "digest", "trends", "update"})
"""Commands that make sense where others read the answer; the rest are personal."""
STATUS_ROLES = frozenset({"lead", "owner", "admin"})
"""Roles whose status page offers their digest."""


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
        self.links: ReportLinks | None = None
        """Report links for the `report` command and digests' footers (set by the runtime)."""
        self.commands: dict[str, Command] = dict(BASE_COMMANDS)
        self._routes: dict[type[Any], Callable[[Turn, Any], Awaitable[list[Reply]]]] = {
            MessageReceived: self._on_message,
            ChoiceMade: self._on_choice,
            FormSubmitted: self._on_form,
            MemberJoined: self._on_member_joined,
            StatusRequested: self._on_status,
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
        """Handle one event in a transaction of its own (seeding data, benchmarks).

        Platforms' events go through the inbox instead, whose worker calls `receive`.
        """
        async with self.db.session() as session:
            inbound = Inbound(event.event_id, event.actor.identity, event)
            return (await self.receive(session, inbound)).replies

    async def receive(self, session: AsyncSession, inbound: Inbound) -> Handled:
        """Handle one inbound event inside the caller's transaction.

        Args:
            session: the transaction the inbox worker commits together with marking
                the event handled and queueing the replies.
            inbound: what the platform's payload means.

        Returns:
            The replies, and who they are for.
        """
        now = self.clock()
        if inbound.channel is not None:
            channel = inbound.channel
            await save_channel_address(
                session, channel.platform, channel.channel_id, channel.data, now
            )
        event = inbound.event
        if event is None:
            return Handled([], None)
        if isinstance(event, MemberJoined) and event.shared:
            return Handled(self._welcome(None) if event.greet else [], None)
        person = await self.directory.person_for(session, event.actor, now)
        if person is None:
            # Not in a pilot: say so, and keep nothing about them.
            return Handled([Text(self.wording("commands.not_enrolled"))], None)
        assert person.id is not None
        if event.address.data:
            await save_address(session, person.id, event.address.platform, event.address.data, now)
        if isinstance(event, MemberJoined) and person.unreachable:
            # They blocked or removed the bot before; adding it again undoes that.
            person.unreachable = False
            session.add(person)
            logger.info("reachable again", extra={"person_id": person.id})
        turn = Turn(
            session=session,
            person=person,
            now=now,
            w=self.wording,
            config=self.config,
            roles=self.directory.roles_for(event.actor.identity, person.email),
            links=self.links,
        )
        replies = await self._routes[type(event)](turn, event)
        if inbound.show_status and not isinstance(event, StatusRequested):
            replies = [*replies, *await self._on_status(turn, event)]
        return Handled(replies, None if turn.forgotten else person.id)

    async def _on_message(self, turn: Turn, event: MessageReceived) -> list[Reply]:
        cleaned = clean(event.text, NOTE_LIMIT)
        text = cleaned.text
        word, _, args = text.partition(" ")
        command = self.commands.get(word.lower())
        if command is not None:
            if event.shared and word.lower() not in SHARED_COMMANDS:
                # mydata, forget, pause… answered in a channel would show a person's data to all.
                return [Text(turn.w("commands.personal_only"))]
            return await command(turn, args.strip())
        if event.is_command:
            return [Text(turn.w("commands.unknown"))]
        if not text:
            return []
        notice = [Text(turn.w("text.too_long", limit=NOTE_LIMIT))] if cleaned.shortened else []
        state = await get_state(turn.session, turn.person_id)
        if state is not None and state.checkin_id is not None and is_text_step(state.step):
            return notice + await self._typed(turn, state.checkin_id, state.step, text)
        return notice + await self._volunteered(turn, text)

    async def _typed(self, turn: Turn, checkin_id: int, step_name: str, text: str) -> list[Reply]:
        cleaned = clean(text, MAX_TEXT)
        replies = await advance(
            turn.session,
            turn.person,
            checkin_id,
            Typed(step_name, cleaned.text),
            self.config,
            turn.w,
            turn.now,
        )
        if cleaned.shortened:
            replies.insert(0, Text(turn.w("text.too_long", limit=MAX_TEXT)))
        return replies

    async def _volunteered(self, turn: Turn, text: str) -> list[Reply]:
        if turn.person.cohort_id is None:
            return [Text(turn.w("commands.not_enrolled"))]
        note = await add_note(turn.session, turn.person_id, text, turn.now)
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
        turn.forgotten = True
        logger.info("person forgotten on request", extra={"person_id": person_id})
        return [Answered(event.token, turn.w("commands.forgotten"))]

    async def _on_form(self, turn: Turn, event: FormSubmitted) -> list[Reply]:
        parsed = parse_token(event.token)
        if parsed is None or parsed[0] not in ("checkin", "day30"):
            return []
        _flow, checkin_id, step_name = parsed
        return await self._typed(turn, checkin_id, step_name, event.text)

    async def _on_member_joined(self, turn: Turn, event: MemberJoined) -> list[Reply]:
        return self._welcome(turn.person.cohort_id) if event.greet else []

    def _welcome(self, cohort_id: str | None) -> list[Reply]:
        cohort = self.config.cohorts.get(cohort_id or "")
        tool = self.config.programmes[cohort.programme].tool if cohort else "the tool"
        k = self.config.settings.anonymity_k
        return [Text(self.wording("welcome.text", tool=tool, k=k))]

    async def _on_status(self, turn: Turn, _event: Event) -> list[Reply]:
        await turn.session.flush()
        data = await person_data(turn.session, turn.person)
        return [
            Status(
                status=status_text(data, turn.w, turn.timezone),
                stored=render_mydata(
                    data, turn.w, turn.timezone, retention_of(self.config, turn.person.cohort_id)
                ),
                active=turn.person.status == "active",
                can_digest=any(role in STATUS_ROLES for role, _scope in turn.roles),
            )
        ]
