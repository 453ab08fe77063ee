"""One Teams turn: an activity in, the engine, then cards out and answered cards replaced."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import replace
from http import HTTPStatus
from typing import Any

from botbuilder.core import InvokeResponse, TurnContext
from botbuilder.core.teams import TeamsInfo
from botbuilder.schema import Activity, ActivityTypes

from adapters.teams.auth import warm_token
from adapters.teams.cards import (
    answered_card,
    card_message,
    invoke_card_response,
    invoke_message_response,
    render_message,
    tokens_of,
)
from adapters.teams.errors import CONNECTOR_ERRORS, delivery_failure
from adapters.teams.inbound import PLATFORM, Inbound, conversation_id_of, translate
from adapters.teams.sent_cards import SentCards
from bot.delivery import RetryLater
from bot.events import Event, MemberJoined, MessageReceived
from bot.outgoing import payload_of
from bot.replies import Answered, Reply, Text
from bot.runtime import Runtime
from bot.wording import require
from storage.channels import save_channel_address
from storage.outbox import enqueue
from storage.people import find_person, save_address

logger = logging.getLogger(__name__)

require("teams.personal_only")

GROUP_COMMANDS = frozenset({"help", "digest", "trends", "update"})
"""Commands that make sense in a channel or group chat; the rest are personal."""


class TeamsBot:
    """The turn logic CloudAdapter calls for every authenticated activity."""

    def __init__(self, runtime: Runtime, cards: SentCards) -> None:
        self.runtime = runtime
        self.cards = cards

    async def on_turn(self, turn: TurnContext, raw: Mapping[str, Any] | None = None) -> None:
        """Handle one activity: remember references, run the engine, answer.

        Args:
            turn: the SDK's turn.
            raw: the activity's JSON as posted; the SDK's model drops fields Teams
                sends (such as the clientInfo time zone), so it is read when given.
        """
        inbound = translate(raw if raw is not None else turn.activity.serialize())
        await self._remember(inbound)
        event = inbound.event
        if event is None:
            if inbound.is_invoke and inbound.token:
                await self._invoke_response(turn, invoke_message_response(""))
            return
        if isinstance(event, MemberJoined) and inbound.is_personal:
            event = await self._with_profile(turn, event)
        replies = await self._handle(inbound, event)
        await self._answer(turn, inbound, replies)

    async def _handle(self, inbound: Inbound, event: Event) -> list[Reply]:
        if isinstance(event, MessageReceived) and not inbound.is_personal:
            word = (event.text.split(maxsplit=1) or [""])[0].lower()
            if word not in GROUP_COMMANDS:
                # mydata, forget, pause… answered in a channel would show a person's data to all.
                return [Text(self.runtime.wording("teams.personal_only"))]
        return await self.runtime.engine.handle(event)

    async def _remember(self, inbound: Inbound) -> None:
        if inbound.channel is None and not inbound.remember_person:
            return
        now = self.runtime.clock()
        async with self.runtime.db.session() as session:
            if inbound.channel is not None:
                channel = inbound.channel
                await save_channel_address(session, PLATFORM, channel.channel_id, channel.data, now)
            if inbound.remember_person and inbound.actor.user_id:
                directory = self.runtime.engine.directory
                person = await directory.person_for(session, inbound.actor, now)
                assert person.id is not None
                await save_address(session, person.id, PLATFORM, inbound.address.data, now)
                if person.unreachable:
                    # They blocked or removed the bot before; adding it again undoes that.
                    person.unreachable = False
                    session.add(person)
                    logger.info("Teams: reachable again", extra={"person_id": person.id})

    async def _with_profile(self, turn: TurnContext, event: MemberJoined) -> MemberJoined:
        """The joining person with their roster e-mail, so the config may name them by it."""
        try:
            await warm_token(turn)
            member = await TeamsInfo.get_member(turn, event.actor.user_id)
        except CONNECTOR_ERRORS as error:
            logger.info("Teams: no roster entry for a new member: %s", error)
            return event
        email = str(getattr(member, "email", None) or getattr(member, "user_principal_name", ""))
        name = event.actor.display_name or str(getattr(member, "name", None) or "")
        actor = replace(event.actor, email=email if "@" in email else "", display_name=name)
        return replace(event, actor=actor)

    async def _answer(self, turn: TurnContext, inbound: Inbound, replies: Sequence[Reply]) -> None:
        conversation_id = conversation_id_of(turn.activity.serialize())
        refreshed: dict[str, Any] | None = None
        to_send: list[Reply] = []
        for reply in replies:
            if not isinstance(reply, Answered):
                to_send.append(reply)
                continue
            clicked = reply.token == inbound.token
            targets = await self.cards.find(conversation_id, reply.token)
            if clicked and inbound.card_id and inbound.card_id not in targets:
                targets.append(inbound.card_id)
            await self.cards.forget(conversation_id, reply.token)
            if clicked and inbound.is_invoke:
                # The clicked card is refreshed by the invoke response itself.
                refreshed = answered_card(reply.summary)
                targets = [target for target in targets if target != inbound.card_id]
            elif not targets:
                # Answered by typing, and the card that asked is unknown (long gone).
                to_send.append(Text(f"✓ {reply.summary}"))
            for target in targets:
                await self._replace(turn, target, reply.summary)
        if inbound.is_invoke:
            if refreshed is not None:
                body = invoke_card_response(refreshed)
            else:
                # No card to refresh (e.g. "already answered"): Teams shows the text briefly.
                notice = next((reply for reply in to_send if isinstance(reply, Text)), None)
                body = invoke_message_response(notice.text if notice is not None else "")
                if notice is not None:
                    to_send.remove(notice)
            await self._invoke_response(turn, body)
        unsent: list[Reply] = []
        for reply in to_send:
            # Once one reply must wait, the rest wait behind it to keep their order.
            # A card in a 1:1 chat is the person's: it is erased with them.
            owner = inbound.actor.user_id if inbound.is_personal else ""
            if unsent or await self._send(turn, conversation_id, reply, owner) == "retry":
                unsent.append(reply)
        if unsent:
            await self._queue(inbound, unsent)

    async def _invoke_response(self, turn: TurnContext, body: dict[str, Any]) -> None:
        response = InvokeResponse(status=int(HTTPStatus.OK), body=body)
        await turn.send_activity(Activity(type=ActivityTypes.invoke_response, value=response))

    async def _send(self, turn: TurnContext, conversation_id: str, reply: Reply, owner: str) -> str:
        """Send one reply in the turn: "sent", "retry" (throttled, transient) or "dropped"."""
        message = render_message([reply])
        if message is None:
            return "sent"
        try:
            await warm_token(turn)
            sent = await turn.send_activity(Activity().deserialize(message))
        except CONNECTOR_ERRORS as error:
            failure = delivery_failure(error, to_person=False)
            logger.warning("Teams: reply not sent: %s", failure)
            return "retry" if isinstance(failure, RetryLater) else "dropped"
        sent_id = getattr(sent, "id", "") or ""
        await self.cards.remember(conversation_id, sent_id, tokens_of([reply]), user_id=owner)
        return "sent"

    async def _replace(self, turn: TurnContext, activity_id: str, summary: str) -> None:
        update = Activity().deserialize(card_message(answered_card(summary)))
        update.id = activity_id
        try:
            await warm_token(turn)
            await turn.update_activity(update)
        except CONNECTOR_ERRORS as error:
            # The answer is stored; a card left with buttons answers "already answered".
            logger.warning("Teams: answered card %s not replaced: %s", activity_id, error)

    async def _queue(self, inbound: Inbound, replies: Sequence[Reply]) -> None:
        """Hand replies Teams refused for now (429, 5xx) to the outbox, which retries them."""
        if not inbound.is_personal:
            return
        now = self.runtime.clock()
        event_id = inbound.event.event_id if inbound.event is not None else ""
        async with self.runtime.db.session() as session:
            person = await find_person(session, PLATFORM, inbound.actor.user_id)
            if person is None or person.id is None:
                return
            await enqueue(
                session,
                dedupe_key=f"teams-reply:{event_id or uuid.uuid4()}",
                platform=PLATFORM,
                purpose="notice",
                payload=payload_of(tuple(replies)),
                now=now,
                person_id=person.id,
            )
        logger.info("Teams: %d reply(s) queued for retry", len(replies))
