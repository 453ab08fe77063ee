"""The conversation engine: one entry point for every platform's events."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlmodel.ext.asyncio.session import AsyncSession

from bot.checkin_runner import advance, current_state, open_checkin_of
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
from bot.flows.checkin import (
    MAX_TEXT,
    STEPS,
    Flow,
    FreeText,
    Pick,
    Typed,
    option_labels,
    parse_token,
)
from bot.mydata import render_mydata, status_text
from bot.platform import Inbound
from bot.replies import Answered, Choices, Option, Replace, Reply, Status, Text, TextRequest
from bot.text import NOTE_LIMIT, clean
from bot.turn import Turn
from bot.understand import SmallTalk, choose, normal, small_talk, word_list
from bot.wording import Wording, Wordings
from storage.channels import save_channel_address
from storage.checkins import add_note, classify_note, read_checkins_ahead
from storage.db import Database
from storage.models import Person
from storage.people import forget_person, person_data, read_people_ahead, save_address

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
    locale: str = ""
    """The language the replies are in (the platform renders its own words in it too)."""


SHARED_COMMANDS = frozenset({"help", "digest", "trends", "update"})
"""Commands that make sense where others read the answer; the rest are personal."""
STATUS_ROLES = frozenset({"lead", "owner", "admin"})
"""Roles whose status page offers their digest."""
COMMAND_WORDS = ("help", "pause", "resume", "stop", "mydata", "forget", "checkin")
"""Commands whose word each locale may also give in its own language ([words] in prompts)."""


def command_word(typed: str, w: Wording) -> str:
    """The command a typed word names, in English or in the person's language."""
    word = normal(typed)
    for name in COMMAND_WORDS:
        if word in word_list(w, f"words.{name}"):
            return name
    return typed.lower()


class Engine:
    """Turns inbound events into stored answers and platform-neutral replies."""

    def __init__(
        self,
        db: Database,
        config: LastmileConfig,
        wordings: Wordings,
        clock: Clock = utc_now,
    ) -> None:
        self.db = db
        self.config = config
        self.wordings = wordings
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

    @property
    def wording(self) -> Wording:
        """The default locale's wording."""
        return self.wordings.default

    def wording_for(self, person: Person) -> Wording:
        """A person's own language: their platform's, else their cohort's, else the default."""
        return self.wordings.get(person.locale, self.config.cohort_locale(person.cohort_id))

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

    async def read_ahead(self, session: AsyncSession, inbounds: Sequence[Inbound]) -> None:
        """Read at once what a group of events handled in one transaction will look up:
        the people they come from, with their addresses, and the check-ins their taps
        answer, with each owner's flow step (a statement or two for the group, instead
        of a few for every event)."""
        events = [inbound.event for inbound in inbounds if inbound.event is not None]
        await read_people_ahead(session, [(e.actor.platform, e.actor.user_id) for e in events])
        checkin_ids = []
        for event in events:
            parsed = parse_token(event.token) if isinstance(event, ChoiceMade) else None
            if parsed is not None and self._choice_routes.get(parsed[0]) == self._on_flow_choice:
                checkin_ids.append(parsed[1])  # a tap on a check-in flow's button
        await read_checkins_ahead(session, checkin_ids)

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
            w = self.wordings.get(event.actor.locale)
            return Handled(self._channel_welcome(w) if event.greet else [], None, w.locale)
        person = await self.directory.person_for(session, event.actor, now)
        if person is None:
            # Not in a pilot: say so, and keep nothing about them.
            w = self.wordings.get(event.actor.locale)
            return Handled([Text(w("commands.not_enrolled"))], None, w.locale)
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
            w=self.wording_for(person),
            config=self.config,
            roles=self.directory.roles_for(event.actor.identity, person.email),
            links=self.links,
        )
        replies = await self._routes[type(event)](turn, event)
        if inbound.show_status and not isinstance(event, StatusRequested):
            replies = [*replies, *await self._on_status(turn, event)]
        replies = self._first_contact(turn, event, replies)
        return Handled(replies, None if turn.forgotten else person.id, turn.w.locale)

    def _first_contact(self, turn: Turn, event: Event, replies: list[Reply]) -> list[Reply]:
        """The first time lastmile asks a person something (or they greet it), it starts
        with what it is, who sees what, and how to stop."""
        person = turn.person
        if turn.forgotten or person.welcomed_at is not None or person.cohort_id is None:
            return replies
        if isinstance(event, StatusRequested) or getattr(event, "shared", False):
            return replies
        if isinstance(event, MemberJoined):
            if event.greet:
                person.welcomed_at = turn.now  # the install's own welcome said it
                turn.session.add(person)
            return replies
        if not (turn.greeted or _asks_a_checkin(replies)):
            return replies
        person.welcomed_at = turn.now
        turn.session.add(person)
        return [*welcome(self.config, turn.w, person.cohort_id), *replies]

    async def _on_message(self, turn: Turn, event: MessageReceived) -> list[Reply]:
        cleaned = clean(event.text, NOTE_LIMIT)
        text = cleaned.text
        first, _, args = text.partition(" ")
        word = command_word(first, turn.w)
        command = self.commands.get(word)
        if command is not None:
            if event.shared and word not in SHARED_COMMANDS:
                # mydata, forget, pause… answered in a channel would show a person's data to all.
                return [Text(turn.w("commands.personal_only"))]
            return await command(turn, args.strip())
        if event.is_command:
            return [Text(turn.w("commands.unknown"))]
        if not text:
            return [Text(turn.w("text.file_alone"))] if event.files else []
        notice = [Text(turn.w("text.too_long", limit=NOTE_LIMIT))] if cleaned.shortened else []
        talk = small_talk(text, turn.w) if not event.files else None
        if talk is not None:
            return self._small_talk(turn, talk)
        if event.files:
            notice.append(Text(turn.w("text.file_not_kept")))
        answered = await self._typed_answer(turn, text)
        if answered is not None:
            return notice + answered
        return notice + await self._volunteered(turn, text)

    def _small_talk(self, turn: Turn, talk: SmallTalk) -> list[Reply]:
        if talk is SmallTalk.GREETING and turn.person.welcomed_at is None:
            turn.greeted = True
            return []  # the welcome says it all (see `_first_contact`)
        return [Text(turn.w(f"understand.reply.{talk}"))]

    async def _typed_answer(self, turn: Turn, text: str) -> list[Reply] | None:
        """Typed words that answer the open check-in's step, or None when they do not."""
        found = await open_checkin_of(turn.session, turn.person, self.config, turn.now)
        state = (
            found.state if found is not None else await current_state(turn.session, turn.person_id)
        )
        if state is None or state.step not in STEPS:
            return None
        if state.spec.text is FreeText.NONE:
            value = choose(text, option_labels(state, turn.w))
            if value is None:
                return None
            return await advance(
                turn.session,
                turn.person,
                state.checkin_id,
                Pick(state.step, value),
                self.config,
                turn.w,
                turn.now,
            )
        return await self._typed(turn, state.checkin_id, state.step, text)

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
        return welcome(self.config, turn.w, turn.person.cohort_id) if event.greet else []

    def _channel_welcome(self, w: Wording) -> list[Reply]:
        return [Text(w("welcome.channel"))]

    async def _on_status(self, turn: Turn, _event: Event) -> list[Reply]:
        await turn.session.flush()
        data = await person_data(turn.session, turn.person)
        return [
            Status(
                status=status_text(data, turn.w, turn.timezone),
                stored=render_mydata(data, turn.w, turn.timezone, self.config),
                active=turn.person.status == "active",
                can_digest=any(role in STATUS_ROLES for role, _scope in turn.roles),
            )
        ]


def welcome(config: LastmileConfig, w: Wording, cohort_id: str | None) -> list[Reply]:
    """What lastmile is, who sees what, k, and how to stop: said once, at first contact."""
    cohort = config.cohorts.get(cohort_id or "")
    tool = config.programmes[cohort.programme].tool if cohort else w("welcome.the_tool")
    return [Text(w("welcome.text", tool=tool, k=config.settings.anonymity_k))]


def _asks_a_checkin(replies: list[Reply]) -> bool:
    for reply in replies:
        shown = reply.reply if isinstance(reply, Replace) else reply
        if isinstance(shown, Choices | TextRequest):
            parsed = parse_token(shown.token)
            if parsed is not None and parsed[0] in (Flow.CHECKIN, Flow.DAY30):
                return True
    return False
