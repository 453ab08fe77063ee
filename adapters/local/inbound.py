"""Payloads the terminal chat stores in the inbox, and what they mean: pure functions."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bot.events import Actor, Address, ChoiceMade, Event, MessageReceived
from bot.platform import Inbound

PLATFORM = "local"


def typed(user_id: str, event_id: str, text: str, files: tuple[str, ...] = ()) -> dict[str, Any]:
    """The payload for a line a person typed (with the names of files they attached)."""
    payload: dict[str, Any] = {"id": event_id, "user": user_id, "text": text}
    if files:
        payload["files"] = list(files)
    return payload


def tapped(user_id: str, event_id: str, token: str, value: str) -> dict[str, Any]:
    """The payload for a numbered choice a person picked."""
    return {"id": event_id, "user": user_id, "token": token, "value": value}


def translate(payload: Mapping[str, Any]) -> Inbound | None:
    """What a terminal payload means; None when it names nobody."""
    user_id = str(payload.get("user") or "")
    event_id = str(payload.get("id") or "")
    if not user_id or not event_id:
        return None
    actor = Actor(platform=PLATFORM, user_id=user_id, display_name=user_id)
    address = Address(platform=PLATFORM, data={"user": user_id})
    event: Event
    if payload.get("token"):
        event = ChoiceMade(
            actor,
            address,
            str(payload["token"]),
            str(payload.get("value") or ""),
            event_id,
            payload,
        )
    else:
        event = MessageReceived(
            actor,
            address,
            str(payload.get("text") or ""),
            event_id,
            files=tuple(str(name) for name in payload.get("files") or []),
            raw=payload,
        )
    return Inbound(
        event_id=event_id,
        person_key=actor.identity,
        event=event,
        context={"user": user_id},
        conversation=user_id,
    )
