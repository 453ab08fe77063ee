"""Proactive Teams messages for the outbox: stored references, 1:1 chats from team rosters."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from botbuilder.core import TurnContext
from botbuilder.core.teams import TeamsInfo
from botbuilder.integration.aiohttp import CloudAdapter
from botbuilder.schema import (
    Activity,
    ChannelAccount,
    ConversationAccount,
    ConversationParameters,
    ConversationReference,
)
from botbuilder.schema.teams import TeamsChannelAccount
from msrest.exceptions import HttpOperationError

from adapters.teams.auth import warm_token
from adapters.teams.cards import (
    answered_card,
    card_for,
    card_message,
    render_message,
    tokens_of,
)
from adapters.teams.errors import CONNECTOR_ERRORS, delivery_failure, status_of
from adapters.teams.inbound import PLATFORM
from bot.delivery import Outbound, Recipient, RetryLater, Undeliverable
from bot.replies import Answered, Replace, Text
from bot.runtime import Runtime
from bot.sent import SentCopies
from storage.channels import channel_addresses, get_channel_address
from storage.checkins import get_checkin
from storage.models import ChannelAddress
from storage.people import get_person, save_address

logger = logging.getLogger(__name__)

ROSTER_PAGE_SIZE = 500
CHANNEL_ID = "msteams"


class TeamsSender:
    """Delivers outbox messages to Teams: replies where an activity came from, proactive
    messages to people and channels (the bot/delivery.py Sender)."""

    platform = PLATFORM

    def __init__(
        self, runtime: Runtime, adapter: CloudAdapter, copies: SentCopies, app_id: str = ""
    ) -> None:
        self.runtime = runtime
        self.adapter = adapter
        self.copies = copies
        self.app_id = app_id

    async def deliver(self, message: Outbound) -> dict[str, Any]:
        """Send one outbox message.

        Returns:
            conversation_id, activity_id and the question tokens the message shows.

        Raises:
            RetryLater: 429 (after Retry-After), 412, 5xx, connection failures, with how
                many replies went out before (not sent again).
            Undeliverable: 403 (the person blocked or removed the bot: unreachable),
                other 4xx, or no way to reach the person or channel.
        """
        to_person = not message.destination and message.recipient is not None
        if message.context:
            return await self._reply(message)
        try:
            return await self._deliver(message)
        except CONNECTOR_ERRORS as error:
            raise delivery_failure(error, to_person=to_person) from error

    async def _reply(self, message: Outbound) -> dict[str, Any]:
        """Answer where the activity came from, one activity a reply, as a turn would."""
        context = message.context
        reference = ConversationReference().deserialize(context["reference"])
        conversation_id = str(reference.conversation.id)
        person_id = message.recipient.person_id if message.recipient is not None else None
        clicked, card_id = str(context.get("token") or ""), str(context.get("card_id") or "")
        # An Action.Execute's own card was refreshed by its invoke response.
        refreshed = card_id if context.get("invoke") else ""
        progress = _Progress()

        async def logic(turn: TurnContext) -> None:
            await warm_token(turn)
            for reply in message.replies:
                if isinstance(reply, Replace):
                    targets = await self._cards_showing(conversation_id, reply.token)
                    if reply.token == clicked and card_id and card_id not in targets:
                        targets.append(card_id)
                    await self._new_version(
                        turn,
                        reference,
                        reply,
                        targets,
                        refreshed if reply.token == clicked else "",
                        person_id,
                    )
                elif isinstance(reply, Answered):
                    targets = await self._cards_showing(conversation_id, reply.token)
                    if reply.token == clicked and card_id and card_id not in targets:
                        targets.append(card_id)
                    targets = [target for target in targets if target != refreshed]
                    if not targets and not (refreshed and reply.token == clicked):
                        # Answered by typing, and the card that asked is long gone.
                        await self._post(
                            turn, reference, render_message([Text(f"✓ {reply.summary}")])
                        )
                    for target in targets:
                        await _replace(turn, target, reply.summary)
                    await self.copies.take(reply.token)
                else:
                    shown = render_message([reply])
                    sent_id = await self._post(turn, reference, shown) if shown else ""
                    progress.ids.append(sent_id)
                    for token in tokens_of([reply]):
                        ref = {"conversation_id": conversation_id, "activity_id": sent_id}
                        await self.copies.remember(token, ref, person_id)
                progress.sent += 1

        try:
            await self.adapter.continue_conversation(reference, logic, self.app_id)
        except CONNECTOR_ERRORS as error:
            failure = delivery_failure(error, to_person=bool(context.get("personal")))
            if isinstance(failure, RetryLater):
                failure.sent = progress.sent
            raise failure from error
        first = next((sent_id for sent_id in progress.ids if sent_id), "")
        return {"conversation_id": conversation_id, "activity_id": first}

    @staticmethod
    async def _post(
        turn: TurnContext, reference: ConversationReference, message: dict[str, Any] | None
    ) -> str:
        if message is None:
            return ""
        activity = TurnContext.apply_conversation_reference(
            Activity().deserialize(message), reference
        )
        # A new message, not a reply to the continuation's made-up activity id.
        activity.reply_to_id = None
        [response] = await turn.adapter.send_activities(turn, [activity])
        return str(getattr(response, "id", "") or "")

    async def _deliver(self, message: Outbound) -> dict[str, Any]:
        if message.destination:
            reference = await self._channel_reference(message.destination)
        elif message.recipient is not None:
            reference = await self._person_reference(message.recipient)
        else:
            raise Undeliverable("an outbox message with neither person nor destination")
        conversation_id = str(reference.conversation.id)
        answered = [reply for reply in message.replies if isinstance(reply, Answered)]
        versions = [reply for reply in message.replies if isinstance(reply, Replace)]
        tokens_shown = [reply.token for reply in answered] + [reply.token for reply in versions]
        targets = {
            token: await self._stored_cards(message, conversation_id, token)
            for token in tokens_shown
        }
        recipient = None if message.destination else message.recipient
        person_id = recipient.person_id if recipient is not None else None
        # An answer whose card cannot be found (long gone) is said in words.
        unplaced = [Text(reply.summary) for reply in answered if not targets[reply.token]]
        shown = render_message([*unplaced, *message.replies])
        sent_ids: list[str] = []

        async def logic(turn: TurnContext) -> None:
            await warm_token(turn)
            # Updates first: a retry after a failed send repeats them harmlessly.
            for reply in answered:
                for target in targets[reply.token]:
                    await _replace(turn, target, reply.summary)
            for version in versions:
                await self._new_version(
                    turn, reference, version, targets[version.token], "", person_id
                )
            if shown is not None:
                sent_ids.append(await self._post(turn, reference, shown))

        await self.adapter.continue_conversation(reference, logic, self.app_id)
        tokens = tokens_of([reply for reply in message.replies if not isinstance(reply, Replace)])
        activity_id = sent_ids[0] if sent_ids else ""
        if activity_id:
            ref = {"conversation_id": conversation_id, "activity_id": activity_id}
            for token in tokens:
                await self.copies.remember(token, ref, person_id)
        for reply in answered:
            await self.copies.take(reply.token)
        return {"conversation_id": conversation_id, "activity_id": activity_id, "tokens": tokens}

    async def _new_version(
        self,
        turn: TurnContext,
        reference: ConversationReference,
        reply: Replace,
        targets: list[str],
        refreshed: str,
        person_id: int | None,
    ) -> None:
        """Show a question's next version in every card showing it (the tapped one was
        refreshed by the invoke response already); with `resend`, delete those cards and
        post it anew. The cards are remembered under the new version's token."""
        conversation_id = str(reference.conversation.id)
        # Always a card, as the invoke response shows it: the card stays a card.
        new = card_message(card_for([reply.reply]))
        await self.copies.take(reply.token)
        if reply.resend or not (targets or refreshed):
            for target in targets:
                await _delete(turn, target)
            shown = [await self._post(turn, reference, new)]
        else:
            for target in targets:
                if target != refreshed:
                    await _show(turn, target, new)
            shown = list(dict.fromkeys([*targets, refreshed]))
        for token in tokens_of([reply.reply]):
            for activity_id in shown:
                if activity_id:
                    ref = {"conversation_id": conversation_id, "activity_id": activity_id}
                    await self.copies.remember(token, ref, person_id)

    async def _cards_showing(self, conversation_id: str, token: str) -> list[str]:
        """The cards in this conversation known to show the question, oldest first."""
        return [
            str(ref.get("activity_id"))
            for ref in await self.copies.find(token)
            if ref.get("conversation_id") == conversation_id and ref.get("activity_id")
        ]

    async def _stored_cards(self, message: Outbound, conversation_id: str, token: str) -> list[str]:
        """Cards showing the question: remembered copies, or the one on the check-in."""
        found = await self._cards_showing(conversation_id, token)
        if message.checkin_id is None:
            return found
        async with self.runtime.db.session() as session:
            checkin = await get_checkin(session, message.checkin_id)
        ref = checkin.message_ref if checkin is not None else {}
        stored = str(ref.get("activity_id") or "")
        if (
            stored
            and stored not in found
            and ref.get("conversation_id") == conversation_id
            and token in ref.get("tokens", [])
        ):
            found.insert(0, stored)
        return found

    # -- channels --------------------------------------------------------------------------

    async def _channel_reference(self, channel_id: str) -> ConversationReference:
        async with self.runtime.db.session() as session:
            row = await get_channel_address(session, PLATFORM, channel_id)
            if row is not None and row.data.get("reference"):
                return ConversationReference().deserialize(row.data["reference"])
            # Not stored: any team lastmile is in can reach its channels.
            known = await channel_addresses(session, PLATFORM)
        team = next((found for found in known if found.data.get("team_id")), None)
        if team is None:
            raise Undeliverable(
                f"lastmile is in no Teams conversation {channel_id!r}: "
                "install it in the team or group chat first"
            )
        # Any channel of a team the bot is in can be posted to with the team's service
        # URL and bot; the conversation id is the channel's.
        reference = ConversationReference().deserialize(team.data["reference"])
        reference.conversation = ConversationAccount(
            id=channel_id,
            is_group=True,
            conversation_type="channel",
            tenant_id=team.data.get("tenant_id") or None,
        )
        return reference

    # -- people ----------------------------------------------------------------------------

    async def _person_reference(self, recipient: Recipient) -> ConversationReference:
        if recipient.address.get("conversation"):
            return ConversationReference().deserialize(recipient.address)
        return await self._open_personal_chat(recipient)

    async def _open_personal_chat(self, recipient: Recipient) -> ConversationReference:
        """Create the 1:1 chat with someone found in the roster of a team the bot is in."""
        async with self.runtime.db.session() as session:
            teams = [row for row in await channel_addresses(session, PLATFORM) if _is_team(row)]
            person = await get_person(session, recipient.person_id)
        email = person.email if person is not None else ""
        for team in teams:
            tenant = str(team.data.get("tenant_id") or "")
            if recipient.workspace_id and tenant and tenant != recipient.workspace_id:
                continue
            team_reference = ConversationReference().deserialize(team.data["reference"])
            member = await self._find_member(team_reference, team, recipient.user_id, email)
            if member is None:
                continue
            reference = await self._create_personal_chat(team_reference, member, tenant)
            async with self.runtime.db.session() as session:
                await save_address(
                    session,
                    recipient.person_id,
                    PLATFORM,
                    reference.serialize(),
                    self.runtime.clock(),
                )
            logger.info(
                "Teams: opened a 1:1 chat from the roster of %s",
                team.data.get("team_name") or team.channel_id,
                extra={"person_id": recipient.person_id},
            )
            return reference
        raise Undeliverable("no Teams chat with this person yet, and no known team roster has them")

    async def _find_member(
        self, team_reference: ConversationReference, team: ChannelAddress, user_id: str, email: str
    ) -> TeamsChannelAccount | None:
        found: list[TeamsChannelAccount] = []

        async def logic(turn: TurnContext) -> None:
            await warm_token(turn)
            token: str | None = None
            while True:
                page = await TeamsInfo.get_paged_team_members(
                    turn, team.data["team_id"], token, ROSTER_PAGE_SIZE
                )
                found.extend(member for member in page.members if _is(member, user_id, email))
                token = page.continuation_token
                if found or not token:
                    return

        try:
            await self.adapter.continue_conversation(team_reference, logic, self.app_id)
        except HttpOperationError as error:
            if 400 <= status_of(error) < 500 and status_of(error) != 429:
                # The bot left that team, or it is gone: try the next one.
                logger.info("Teams: roster of %s unavailable: %s", team.channel_id, error)
                return None
            raise
        return found[0] if found else None

    async def _create_personal_chat(
        self, team_reference: ConversationReference, member: TeamsChannelAccount, tenant: str
    ) -> ConversationReference:
        tenant = tenant or str(team_reference.conversation.tenant_id or "")
        parameters = ConversationParameters(
            is_group=False,
            bot=team_reference.bot,
            members=[ChannelAccount(id=member.id)],
            tenant_id=tenant,
            channel_data={"tenant": {"id": tenant}},
        )
        created: list[str] = []

        async def logic(turn: TurnContext) -> None:
            created.append(str(turn.activity.conversation.id))

        await self.adapter.create_conversation(
            self.app_id, logic, parameters, CHANNEL_ID, team_reference.service_url
        )
        return ConversationReference(
            bot=team_reference.bot,
            user=ChannelAccount(id=member.id, name=member.name, aad_object_id=member.aad_object_id),
            conversation=ConversationAccount(
                id=created[0], conversation_type="personal", tenant_id=tenant
            ),
            channel_id=team_reference.channel_id or CHANNEL_ID,
            service_url=team_reference.service_url,
        )


class _Progress:
    """How far a reply got: replies done, and ids of the messages posted."""

    def __init__(self) -> None:
        self.sent = 0
        self.ids: list[str] = []


async def _show(turn: TurnContext, activity_id: str, message: dict[str, Any] | None) -> None:
    """Replace a card with the question's next version."""
    if message is None:
        return
    update = Activity().deserialize(message)
    update.id = activity_id
    await turn.update_activity(update)


async def _delete(turn: TurnContext, activity_id: str) -> None:
    """Take away an old card of a question asked again below."""
    try:
        await turn.delete_activity(activity_id)
    except HttpOperationError as error:
        if status_of(error) != 404:
            raise


async def _replace(turn: TurnContext, activity_id: str, summary: str) -> None:
    """Replace a question's card with the record of its answer (no buttons left)."""
    update = Activity().deserialize(card_message(answered_card(summary)))
    update.id = activity_id
    await turn.update_activity(update)


def _is_team(row: ChannelAddress) -> bool:
    return bool(row.data.get("team_id")) and bool(row.data.get("reference"))


def _is(member: TeamsChannelAccount, user_id: str, email: str) -> bool:
    if user_id and user_id in (member.id, member.aad_object_id):
        return True
    addresses: Sequence[str] = (member.email or "", member.user_principal_name or "")
    return bool(email) and email.lower() in (address.lower() for address in addresses)
