"""Sending to Slack: posting rendered replies, replacing answered ones, and the outbox sender."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from aiohttp import ClientError
from slack_sdk.errors import SlackApiError, SlackRequestError
from slack_sdk.http_retry.async_handler import AsyncRetryHandler
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
    AsyncServerErrorRetryHandler,
)
from slack_sdk.http_retry.request import HttpRequest
from slack_sdk.http_retry.response import HttpResponse
from slack_sdk.http_retry.state import RetryState
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.webhook.async_client import AsyncWebhookClient

from adapters.slack.blocks import (
    Block,
    FormRequest,
    SlackFile,
    SlackHome,
    SlackMessage,
    answered_blocks,
    context,
    fit,
    form_request,
    form_view,
    render,
    replaced_message,
)
from adapters.slack.inbound import PLATFORM, Clicked, ReplyContext, Where, metadata_of
from bot.delivery import Outbound, RetryLater, Undeliverable, heard_retry_after
from bot.replies import Answered, Replace, Reply, TextRequest
from bot.sent import SentCopies
from bot.wording import Wording, Wordings

logger = logging.getLogger(__name__)
# Slack asks for a pause with Retry-After; short ones are waited out in place, longer
# ones go back to the outbox (RetryLater) so one person's send never blocks the rest.
MAX_INLINE_WAIT_SECONDS = 5.0

_TRANSIENT = frozenset(
    {
        "ratelimited",
        "fatal_error",
        "internal_error",
        "service_unavailable",
        "request_timeout",
        "team_added_to_org",
    }
)
# Retrying cannot help until an admin fixes the app (token, scopes): retry slowly.
# account_inactive is about the bot's own token (deleted bot user or workspace), not
# the person: blaming the person would mark everyone unreachable at once.
_MISCONFIGURED = frozenset(
    {
        "account_inactive",
        "invalid_auth",
        "not_authed",
        "token_revoked",
        "token_expired",
        "missing_scope",
        "not_allowed_token_type",
        "no_permission",
    }
)
MISCONFIGURED_RETRY_SECONDS = 600.0
_PERSON_UNREACHABLE = frozenset(
    {
        "user_not_found",
        "user_disabled",
        "user_not_visible",
        "cannot_dm_bot",
        "invalid_user_combination",
    }
)
GONE = frozenset(
    {"message_not_found", "cant_update_message", "edit_window_closed", "cant_delete_message"}
)
"""chat.update errors for a message that cannot be changed any more."""
_CHANNEL_UNREACHABLE = frozenset(
    {"channel_not_found", "not_in_channel", "is_archived", "restricted_action"}
)


def _header(headers: Mapping[str, Any], name: str) -> str:
    for key, value in headers.items():
        if key.lower() == name.lower():
            return str(value[0] if isinstance(value, list) else value)
    return ""


def _retry_after(headers: Mapping[str, Any]) -> float | None:
    try:
        return float(_header(headers, "Retry-After"))
    except ValueError:
        return None


class BriefRateLimitRetryHandler(AsyncRateLimitErrorRetryHandler):
    """Waits out a 429 in place only when Slack's Retry-After is short."""

    def __init__(self, max_retry_count: int = 1, max_wait: float = MAX_INLINE_WAIT_SECONDS):
        super().__init__(max_retry_count=max_retry_count)
        self.max_wait = max_wait

    async def _can_retry_async(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> bool:
        if response is None or response.status_code != 429:
            return False
        after = _retry_after(response.headers)
        heard_retry_after(after or 1.0)
        return after is None or after <= self.max_wait


def retry_handlers() -> list[AsyncRetryHandler]:
    """slack_sdk's retries: connection errors, short rate limits, one retry of a 5xx."""
    return [
        AsyncConnectionErrorRetryHandler(max_retry_count=2),
        BriefRateLimitRetryHandler(max_retry_count=1),
        AsyncServerErrorRetryHandler(max_retry_count=1),
    ]


def classify(error: Exception, to_person: bool) -> RetryLater | Undeliverable:
    """Map a failed Slack call to the outbox's retry-or-give-up exceptions.

    Args:
        error: what slack_sdk or aiohttp raised.
        to_person: True when the message was for a person (a DM), False for a channel.

    Returns:
        RetryLater for rate limits, 5xx, connection problems and a misconfigured app;
        Undeliverable for people and channels that cannot be reached and for messages
        Slack rejects.
    """
    if not isinstance(error, SlackApiError):
        return RetryLater(f"connection: {type(error).__name__}: {error}")
    response = error.response
    code = str(response.get("error") or "") if isinstance(response.data, dict) else ""
    status = int(response.status_code or 0)
    if status == 429 or code == "ratelimited":
        return RetryLater("ratelimited", after=_retry_after(response.headers or {}) or 1.0)
    if status >= 500 or code in _TRANSIENT:
        return RetryLater(code or f"http {status}")
    if code in _MISCONFIGURED:
        logger.error("Slack refused the app's token or scopes: %s", code)
        return RetryLater(code, after=MISCONFIGURED_RETRY_SECONDS)
    if code in _PERSON_UNREACHABLE or code in _CHANNEL_UNREACHABLE:
        return Undeliverable(code, person_unreachable=to_person)
    return Undeliverable(code or f"http {status}")


@dataclass(frozen=True)
class Posted:
    """A message lastmile posted that carries a token, and its blocks as sent."""

    channel: str
    ts: str
    blocks: list[Block]

    def ref(self) -> dict[str, Any]:
        """As kept in the record of sent copies."""
        return {"channel": self.channel, "ts": self.ts, "blocks": self.blocks}

    @classmethod
    def of(cls, ref: dict[str, Any]) -> Posted:
        """Read back what `ref` wrote."""
        return cls(str(ref.get("channel", "")), str(ref.get("ts", "")), list(ref.get("blocks", [])))


class PartlyPosted(Exception):
    """Some replies went out before a failure; sending them all again would repeat them."""

    def __init__(self, posted: list[dict[str, str]], sent: int, error: Exception) -> None:
        super().__init__(f"{sent} reply(s) posted before: {error}")
        self.posted = posted
        self.sent = sent
        self.error = error


class SlackPoster:
    """Posts rendered replies to a person or channel and updates answered messages."""

    def __init__(
        self,
        client: AsyncWebClient,
        wording: Wording,
        copies: SentCopies,
        wordings: Wordings | None = None,
    ) -> None:
        self.client = client
        self.wording = wording
        self.wordings = wordings
        self.copies = copies
        self._dm_channels: dict[str, str] = {}

    def wording_for(self, locale: str) -> Wording:
        """The words Slack adds (buttons, forms) in the language of the replies."""
        return self.wordings.get(locale) if self.wordings is not None else self.wording

    async def dm_channel(self, user_id: str) -> str:
        """The DM channel between the bot and a person (conversations.open)."""
        if user_id not in self._dm_channels:
            opened = await self.client.conversations_open(users=user_id)
            self._dm_channels[user_id] = str(opened["channel"]["id"])
        return self._dm_channels[user_id]

    async def post(
        self,
        where: Where,
        replies: Sequence[Reply],
        *,
        clicked: Clicked | None = None,
        trigger_id: str = "",
        opens_form: bool = False,
        person_id: int | None = None,
        wording: Wording | None = None,
    ) -> list[dict[str, str]]:
        """Send the engine's replies.

        Args:
            where: the person and the place to answer.
            replies: what the engine said.
            clicked: the message a click came from (replaced when answered).
            trigger_id: the click's trigger, to open a modal.
            opens_form: the click was a free-text option: open the text step as a modal.
            person_id: whom the replies are for, kept with the messages that carry a
                question (erased with them).
            wording: the replies' language, for the words Slack adds.

        Returns:
            References ({"channel", "ts"} or {"response_url"}) of the messages posted or
            updated, in order.

        Raises:
            PartlyPosted: when a failure follows replies (or part of one) already posted.
        """
        w = wording or self.wording
        refs: list[dict[str, str]] = []
        sent = 0
        posted_new = False
        try:
            for reply in replies:
                posted_new = False
                if isinstance(reply, Answered):
                    refs.extend(await self._replace(where, reply, clicked, person_id))
                    sent += 1
                    continue
                asks = reply.reply if isinstance(reply, Replace) else reply
                if isinstance(asks, TextRequest) and opens_form and trigger_id:
                    await self.open_form(trigger_id, form_request(asks), where, w)
                    trigger_id = ""  # a trigger opens one view
                if isinstance(reply, Replace):
                    refs.extend(await self._new_version(where, reply, clicked, person_id, w))
                    sent += 1
                    continue
                for item in render(reply, w):
                    if isinstance(item, SlackFile):
                        await self._upload(where, item)
                    elif isinstance(item, SlackHome):
                        await self.client.views_publish(user_id=where.user_id, view=item.view)
                    else:
                        refs.append(await self._send(where, item, person_id))
                        posted_new = True
                sent += 1
        except Exception as error:
            # Updates can be repeated harmlessly; new messages cannot: a reply of which
            # something went out counts as sent.
            if sent or posted_new:
                raise PartlyPosted(refs, sent + int(posted_new), error) from error
            raise
        return refs

    async def open_form(
        self, trigger_id: str, form: FormRequest, where: Where, wording: Wording | None = None
    ) -> None:
        """Open the free-text modal; a click's trigger lasts three seconds."""
        view = form_view(form, wording or self.wording, metadata_of(where, form.token))
        try:
            await self.client.views_open(trigger_id=trigger_id, view=view)
        except SlackApiError as error:
            # The message with its "Write it…" button stays, and typing in the DM works too.
            logger.warning("views.open failed: %s", error.response.get("error"))

    async def _send(
        self, where: Where, message: SlackMessage, person_id: int | None
    ) -> dict[str, str]:
        if where.response_url:
            await self._respond(where.response_url, text=message.text, blocks=message.blocks)
            return {"response_url": where.response_url}
        # A user id as the channel posts to the bot's DM with them: no conversations.open
        # (a Tier 3 method, 50+ a minute) before a slot's thousands of first messages.
        channel = where.channel or where.user_id
        response = await self.client.chat_postMessage(
            channel=channel,
            text=message.text,
            blocks=message.blocks,
            unfurl_links=False,
            unfurl_media=False,
        )
        ref = {"channel": str(response["channel"]), "ts": str(response["ts"])}
        if message.token:
            posted = Posted(ref["channel"], ref["ts"], message.blocks)
            await self.copies.remember(message.token, posted.ref(), person_id)
        return ref

    async def _upload(self, where: Where, file: SlackFile) -> None:
        # Ephemeral answers (a slash command in a channel) must not put a chart in the
        # channel for everyone: the picture goes to the person's DM instead.
        channel = where.channel if where.channel and not where.response_url else ""
        channel = channel or await self.dm_channel(where.user_id)
        await self.client.files_upload_v2(
            channel=channel,
            content=file.content,
            filename=file.name,
            title=file.title,
            alt_txt=file.alt_text or None,
        )

    async def _replace(
        self, where: Where, answered: Answered, clicked: Clicked | None, person_id: int | None
    ) -> list[dict[str, str]]:
        """Replace the buttons of every copy of the answered question with its record."""
        text = fit(answered.summary, 3000)
        known = [Posted.of(ref) for ref in await self.copies.take(answered.token)]
        refs: list[dict[str, str]] = []
        if clicked is not None and clicked.token == answered.token:
            blocks = answered_blocks(clicked.blocks, answered.summary)
            if clicked.ephemeral:
                await self._respond(
                    clicked.response_url, text=text, blocks=blocks, replace_original=True
                )
                refs.append({"response_url": clicked.response_url})
            else:
                await self.client.chat_update(
                    channel=clicked.channel, ts=clicked.ts, text=text, blocks=blocks
                )
                refs.append({"channel": clicked.channel, "ts": clicked.ts})
            known = [
                copy for copy in known if (copy.channel, copy.ts) != (clicked.channel, clicked.ts)
            ]
        for copy in known:
            blocks = answered_blocks(copy.blocks, answered.summary)
            await self.client.chat_update(
                channel=copy.channel, ts=copy.ts, text=text, blocks=blocks
            )
            refs.append({"channel": copy.channel, "ts": copy.ts})
        if refs:
            return refs
        # The message is unknown (long gone, or never remembered): keep the record anyway.
        [record] = [
            item for item in render(answered, self.wording) if isinstance(item, SlackMessage)
        ]
        return [await self._send(where, record, person_id)]

    async def _new_version(
        self,
        where: Where,
        reply: Replace,
        clicked: Clicked | None,
        person_id: int | None,
        w: Wording,
    ) -> list[dict[str, str]]:
        """Show the next version of a question's message in place of every copy of it
        (chat.update); with `resend`, delete the copies and post it anew instead."""
        new = replaced_message(reply, w)
        copies = [Posted.of(ref) for ref in await self.copies.take(reply.token)]
        if clicked is not None and clicked.token == reply.token and not clicked.ephemeral:
            mine = Posted(clicked.channel, clicked.ts, clicked.blocks)
            copies = [mine, *(c for c in copies if (c.channel, c.ts) != (mine.channel, mine.ts))]
        if clicked is not None and clicked.token == reply.token and clicked.ephemeral:
            await self._respond(
                clicked.response_url, text=new.text, blocks=new.blocks, replace_original=True
            )
            return [{"response_url": clicked.response_url}]
        if reply.resend:
            for copy in copies:
                await self._withdraw(copy, w)
            return [await self._send(where, new, person_id)]
        refs: list[dict[str, str]] = []
        for copy in copies:
            if await self._update(copy.channel, copy.ts, new.text, new.blocks):
                refs.append({"channel": copy.channel, "ts": copy.ts})
                if new.token:
                    posted = Posted(copy.channel, copy.ts, new.blocks)
                    await self.copies.remember(new.token, posted.ref(), person_id)
        if refs:
            return refs
        # The message is unknown (long gone, or answered by typing after a restart).
        return [await self._send(where, new, person_id)]

    async def _withdraw(self, copy: Posted, w: Wording) -> None:
        """Delete an old copy of a question that is asked again below."""
        try:
            await self.client.chat_delete(channel=copy.channel, ts=copy.ts)
        except SlackApiError as error:
            code = str(error.response.get("error") or "")
            if code in GONE:
                return
            logger.info("message %s not deleted (%s): its buttons are taken away", copy.ts, code)
            blocks = [block for block in copy.blocks if block.get("type") != "actions"]
            await self._update(
                copy.channel, copy.ts, w("checkin.moved"), [*blocks, context(w("checkin.moved"))]
            )

    async def _update(self, channel: str, ts: str, text: str, blocks: list[Block]) -> bool:
        """Replace a message; False when it is gone (deleted, or too old to edit)."""
        try:
            await self.client.chat_update(channel=channel, ts=ts, text=text, blocks=blocks)
        except SlackApiError as error:
            code = str(error.response.get("error") or "")
            if code not in GONE:
                raise
            # The answer is stored; a message left with buttons says "already answered".
            logger.info("message %s not updated: %s", ts, code)
            return False
        return True

    async def _respond(
        self,
        url: str,
        *,
        text: str,
        blocks: list[Block],
        replace_original: bool = False,
    ) -> None:
        webhook = AsyncWebhookClient(url, retry_handlers=retry_handlers())
        response = await webhook.send(
            text=text,
            blocks=blocks,
            response_type="ephemeral",
            replace_original=replace_original,
        )
        if response.status_code != 200:
            logger.warning("response_url answered %s: %s", response.status_code, response.body)


CheckinRef = Callable[[int], Awaitable[dict[str, Any]]]
"""Where a check-in's question was posted (its stored message_ref)."""


class SlackSender:
    """The outbox's Slack sender: replies where a payload came from, a DM, or a channel post."""

    platform = PLATFORM

    def __init__(self, poster: SlackPoster, checkin_ref: CheckinRef | None = None) -> None:
        self.poster = poster
        self._checkin_ref = checkin_ref

    async def deliver(self, message: Outbound) -> dict[str, Any]:
        """Send one outbox message.

        Returns:
            The first posted message's {"channel", "ts"}: for a check-in, the question
            a reminder or expiry can later update.

        Raises:
            RetryLater: rate limits, 5xx, connection errors (with how many replies
                went out before, which are not sent again).
            Undeliverable: a person or channel that cannot be reached, a rejected message.
        """
        to_person = message.recipient is not None
        person_id = message.recipient.person_id if message.recipient is not None else None
        context = ReplyContext.from_dict(message.context) if message.context else None
        w = self.poster.wording_for(message.locale)
        try:
            if context is not None and context.form is not None:
                await self.poster.open_form(context.trigger_id, context.form, context.where, w)
                return {}
            if context is not None:
                posted = await self.poster.post(
                    context.where,
                    message.replies,
                    clicked=context.clicked,
                    trigger_id=context.trigger_id,
                    opens_form=context.opens_form,
                    person_id=person_id,
                    wording=w,
                )
            else:
                where = await self._where(message)
                await self._locate_answered(message)
                posted = await self.poster.post(
                    where, message.replies, person_id=person_id, wording=w
                )
        except PartlyPosted as partly:
            failure = _failure(partly.error, to_person)
            if isinstance(failure, RetryLater):
                failure.sent = partly.sent
                raise failure from partly.error
            # What went out stays; the rest cannot go (the person left, a rejected block).
            logger.warning(
                "outbox message %s partly sent: %s",
                message.message_id,
                failure,
                extra={"message_id": message.message_id},
            )
            posted = partly.posted
        except (TimeoutError, SlackApiError, SlackRequestError, ClientError) as error:
            raise classify(error, to_person) from error
        if not posted:
            return {}
        # A check-in's own message is its last one (after lastmile's welcome, the first time).
        return posted[-1] if message.purpose == "checkin" else posted[0]

    async def _locate_answered(self, message: Outbound) -> None:
        # An expiry notice replaces a check-in's buttons; the check-in remembers where
        # its question was posted, also after a restart or on another replica.
        if message.checkin_id is None or self._checkin_ref is None:
            return
        for reply in message.replies:
            if isinstance(reply, Answered | Replace) and not await self.poster.copies.find(
                reply.token
            ):
                # Posted before copies were remembered in the database: the check-in's
                # own reference still names the question (without its blocks).
                ref = await self._checkin_ref(message.checkin_id)
                if ref.get("channel") and ref.get("ts"):
                    posted = Posted(str(ref["channel"]), str(ref["ts"]), [])
                    person_id = message.recipient.person_id if message.recipient else None
                    await self.poster.copies.remember(reply.token, posted.ref(), person_id)

    async def _where(self, message: Outbound) -> Where:
        recipient = message.recipient
        if recipient is not None:
            return Where(recipient.user_id, recipient.workspace_id)
        if not message.destination:
            raise Undeliverable("an outbox message with neither person nor channel")
        return Where("", "", channel=message.destination)


def _failure(error: Exception, to_person: bool) -> RetryLater | Undeliverable:
    if isinstance(error, TimeoutError | SlackApiError | SlackRequestError | ClientError):
        return classify(error, to_person)
    return RetryLater(f"{type(error).__name__}")
