"""Translates Bot Framework activities from Teams into lastmile events: pure functions, a table."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from adapters.teams.cards import TEXT_INPUT_ID, VERB
from bot.events import (
    Actor,
    Address,
    ChoiceMade,
    Event,
    FormSubmitted,
    MemberJoined,
    MessageReceived,
)
from bot.platform import ChannelSeen, Inbound

PLATFORM = "teams"
PERSONAL = "personal"
ADD_ACTIONS = frozenset({"add", "add-upgrade"})
CARD_ACTION_INVOKE = "adaptiveCard/action"

Activity = Mapping[str, Any]


@dataclass(frozen=True)
class Base:
    """Who sent an activity, from where, and where replies to it go."""

    actor: Actor
    address: Address
    scope: str
    context: dict[str, Any]
    channel: ChannelSeen | None = None

    @property
    def is_personal(self) -> bool:
        """True in the person's 1:1 chat with the bot."""
        return self.scope == PERSONAL

    def inbound(self, activity: Activity, event: Event | None, **context: Any) -> Inbound:
        """The activity's meaning, with `context` added to where replies go."""
        return Inbound(
            event_id=str(activity.get("id") or ""),
            person_key=self.actor.identity,
            event=event,
            context={**self.context, **context},
            conversation=str(self.context["reference"]["conversation"]["id"]),
            channel=self.channel,
            answer_now=bool(context.get("invoke")) and event is not None,
        )


def conversation_id_of(activity: Activity) -> str:
    """The conversation id without a channel thread's ``;messageid=`` suffix."""
    conversation = activity.get("conversation") or {}
    return str(conversation.get("id") or "").split(";messageid=", 1)[0]


def tenant_of(activity: Activity) -> str:
    """The Microsoft 365 tenant the activity comes from."""
    conversation = activity.get("conversation") or {}
    tenant = (activity.get("channelData") or {}).get("tenant") or {}
    return str(conversation.get("tenantId") or tenant.get("id") or "")


def tenants_named(activity: Activity) -> frozenset[str]:
    """Every tenant id the activity names (the conversation's and the channel data's)."""
    conversation = activity.get("conversation")
    channel_data = activity.get("channelData")
    tenant = channel_data.get("tenant") if isinstance(channel_data, Mapping) else None
    found = {
        conversation.get("tenantId") if isinstance(conversation, Mapping) else None,
        tenant.get("id") if isinstance(tenant, Mapping) else None,
    }
    return frozenset(str(value) for value in found if isinstance(value, str) and value)


def timezone_of(activity: Activity) -> str:
    """The person's IANA time zone from the activity or its clientInfo entity, if valid."""
    candidates = [activity.get("localTimezone")]
    candidates += [
        entity.get("timezone")
        for entity in activity.get("entities") or []
        if entity.get("type") == "clientInfo"
    ]
    for name in candidates:
        if isinstance(name, str) and name:
            try:
                ZoneInfo(name)
            except (ZoneInfoNotFoundError, ValueError):
                continue
            return name
    return ""


def reference_of(activity: Activity) -> dict[str, Any]:
    """The conversation reference (Bot Framework JSON) to reach this conversation later."""
    conversation = dict(activity.get("conversation") or {})
    conversation["id"] = conversation_id_of(activity)
    reference = {
        "user": activity.get("from"),
        "bot": activity.get("recipient"),
        "conversation": conversation,
        "channelId": activity.get("channelId"),
        "locale": activity.get("locale"),
        "serviceUrl": activity.get("serviceUrl"),
    }
    return {key: value for key, value in reference.items() if value is not None}


def actor_of(activity: Activity) -> Actor:
    """Who sent the activity."""
    sender = activity.get("from") or {}
    return Actor(
        platform=PLATFORM,
        user_id=str(sender.get("id") or ""),
        workspace_id=tenant_of(activity),
        display_name=str(sender.get("name") or ""),
        timezone=timezone_of(activity),
        locale=str(activity.get("locale") or ""),
    )


def scope_of(activity: Activity) -> str:
    """personal, channel or groupChat."""
    conversation = activity.get("conversation") or {}
    return str(conversation.get("conversationType") or PERSONAL)


def text_of(activity: Activity) -> str:
    """The message text without the bot's own @mention."""
    text = str(activity.get("text") or "")
    bot_id = (activity.get("recipient") or {}).get("id")
    for entity in activity.get("entities") or []:
        mentioned = entity.get("mentioned") or {}
        if entity.get("type") == "mention" and mentioned.get("id") == bot_id and entity.get("text"):
            text = text.replace(str(entity["text"]), " ")
    return text.replace("&nbsp;", " ").replace("\xa0", " ").strip()


SENT_FILE_TYPES = ("image/", "application/vnd.microsoft.teams.file.download.info")
"""Attachments that are a photo or file the person sent (not the HTML copy of their text)."""


def files_of(activity: Activity) -> tuple[str, ...]:
    """Names of the photos and files sent with a message."""
    return tuple(
        str(item.get("name") or item.get("contentType") or "file")
        for item in activity.get("attachments") or []
        if isinstance(item, Mapping)
        and str(item.get("contentType") or "").startswith(SENT_FILE_TYPES)
    )


def _base(activity: Activity) -> Base:
    scope = scope_of(activity)
    actor = actor_of(activity)
    reference = reference_of(activity)
    # Replies go where the activity came from: a channel thread keeps its ;messageid=.
    conversation = dict(reference.get("conversation") or {})
    conversation["id"] = str((activity.get("conversation") or {}).get("id") or "")
    reply_to = {**reference, "conversation": conversation}
    context = {"reference": reply_to, "personal": scope == PERSONAL, "user_id": actor.user_id}
    if scope == PERSONAL:
        return Base(actor, Address(PLATFORM, reference), scope, context)
    # Only a 1:1 chat is a person's address; a channel is remembered as a channel.
    team = (activity.get("channelData") or {}).get("team") or {}
    channel = ChannelSeen(
        PLATFORM,
        conversation_id_of(activity),
        {
            "reference": reference,
            "scope": scope,
            "team_id": str(team.get("id") or ""),
            "team_name": str(team.get("name") or ""),
            "tenant_id": tenant_of(activity),
        },
    )
    return Base(actor, Address(PLATFORM, {}), scope, context, channel)


def card_event(base: Base, data: Mapping[str, Any], event_id: str, raw: Any) -> Event | None:
    """The event for a card button's data: a choice, or text from the card's input."""
    token = data.get("token")
    if not isinstance(token, str) or not token:
        return None
    if "value" in data:
        return ChoiceMade(base.actor, base.address, token, str(data["value"]), event_id, raw)
    text = data.get(TEXT_INPUT_ID)
    return FormSubmitted(base.actor, base.address, token, str(text or "").strip(), event_id, raw)


def _message(activity: Activity, base: Base) -> Inbound | None:
    event_id = str(activity.get("id") or "")
    value = activity.get("value")
    if isinstance(value, Mapping) and "token" in value:
        # Action.Submit: a message whose value is the button's data (and the inputs).
        event = card_event(base, value, event_id, activity)
        return base.inbound(
            activity,
            event,
            token=str(value.get("token") or ""),
            card_id=str(activity.get("replyToId") or ""),
        )
    text = text_of(activity)
    files = files_of(activity)
    if not text and not files:
        return None
    # In a channel or group chat only commands make sense: free text there is not a note.
    event = MessageReceived(
        base.actor,
        base.address,
        text,
        event_id,
        is_command=not base.is_personal,
        shared=not base.is_personal,
        files=files,
        raw=activity,
    )
    return base.inbound(activity, event)


def _invoke(activity: Activity, base: Base) -> Inbound | None:
    if activity.get("name") != CARD_ACTION_INVOKE:
        return None
    action = (activity.get("value") or {}).get("action") or {}
    data = action.get("data")
    if action.get("verb") != VERB or not isinstance(data, Mapping):
        return None
    # Each click is a new invoke with its own id, so a second tap is a second event.
    event = card_event(base, data, str(activity.get("id") or ""), activity)
    if event is None:
        return None
    return base.inbound(
        activity,
        event,
        invoke=True,
        token=str(data.get("token") or ""),
        card_id=str(activity.get("replyToId") or ""),
    )


def _conversation_update(activity: Activity, base: Base) -> Inbound | None:
    bot_id = (activity.get("recipient") or {}).get("id")
    added = {member.get("id") for member in activity.get("membersAdded") or []}
    if bot_id not in added:
        return None
    # The engine welcomes the person (or the team) and keeps the 1:1 reference.
    event = MemberJoined(
        base.actor,
        base.address,
        str(activity.get("id") or ""),
        shared=not base.is_personal,
        raw=activity,
    )
    return base.inbound(activity, event)


def _installation_update(activity: Activity, base: Base) -> Inbound | None:
    if activity.get("action") not in ADD_ACTIONS:
        return None
    # Teams sends installationUpdate and conversationUpdate for the same install; the
    # welcome comes with the conversationUpdate, this one only keeps the reference.
    event = MemberJoined(
        base.actor,
        base.address,
        str(activity.get("id") or ""),
        shared=not base.is_personal,
        greet=False,
        raw=activity,
    )
    return base.inbound(activity, event)


_BY_TYPE: dict[str, Callable[[Activity, Base], Inbound | None]] = {
    "message": _message,
    "invoke": _invoke,
    "conversationUpdate": _conversation_update,
    "installationUpdate": _installation_update,
}


def translate(activity: Activity) -> Inbound | None:
    """What an activity (Bot Framework JSON, camelCase) means for lastmile.

    Args:
        activity: the activity as Teams posted it.

    Returns:
        The event for the engine with where replies go, and the channel to remember;
        None for activities lastmile ignores (typing, other invokes, a member leaving).
    """
    handler = _BY_TYPE.get(str(activity.get("type") or ""))
    return handler(activity, _base(activity)) if handler is not None else None
