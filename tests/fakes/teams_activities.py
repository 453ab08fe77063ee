"""Load real-shaped Teams activity fixtures and post them to a bot endpoint."""

from __future__ import annotations

import copy
import json
import re
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urljoin
from zoneinfo import ZoneInfo

import aiohttp
from aiohttp.test_utils import TestClient

FIXTURES_DIR = Path(__file__).resolve().parent.parent / "fixtures" / "teams"
SERVICE_URL_PLACEHOLDER = "{service_url}"

# Identities used by every fixture in tests/fixtures/teams (kept in sync by a test).
TENANT_ID = "5f3c2a1e-8b7d-4e6f-9a0b-1c2d3e4f5a6b"
BOT_APP_ID = "3b4e7d21-5c9a-4f0e-8a61-2d7f9c0b1e55"
BOT_ID = f"28:{BOT_APP_ID}"
BOT_NAME = "lastmile"
USER_AAD_OBJECT_ID = "7faf8ab2-3d56-4244-b585-20c8a42ed2b8"
USER_ID = (
    "29:1XJKJMvc5GBtc2JwZq0oj8tHZmzrQgFmB39ATiQWA85gQtHieVkKilBZ9XHoq9j7Zaqt7CZ-NJWi7me2kHTL3Bw"
)
USER_NAME = "Megan Bowen"
USER_EMAIL = "megan.bowen@contoso.example"
PERSONAL_CONVERSATION_ID = (
    "a:17I0kl9EkpE1O9PH5TWrzrLNwnWWcfrU7QZjKR0WSfOpzbfcAg2IaydGElSo10tVr4C7Fc6GtieTJX663WuJCc1u"
    "A83n4CSrHSgGBj5XNYLcVlJAs2ZX8DbYBPck201w-"
)
TEAM_ID = "19:zFLSDFWsesfzcmKArqKJ-65aOXJz@sgf462H2wz41@thread.tacv2"
TEAM_AAD_GROUP_ID = "f3ec8cd2-e704-4344-8c47-9a3a21d683c0"
CHANNEL_ID = "19:0b7f32667e064dd9b25d7969801541f4@thread.tacv2"
LOCALE = "en-GB"
TIMEZONE = "Europe/London"

_last_message_id = [0]


@dataclass(frozen=True)
class PostResult:
    """What the bot endpoint answered to a posted activity."""

    status: int
    body: Any
    headers: Mapping[str, str]


def fixture_path(name: str) -> Path:
    """Path of a fixture, with or without its ``.json`` suffix."""
    file_name = name if name.endswith(".json") else f"{name}.json"
    return FIXTURES_DIR / file_name


def fixture_names() -> list[str]:
    """Names (without suffix) of every Teams fixture."""
    return sorted(path.stem for path in FIXTURES_DIR.glob("*.json"))


def load_activity(name: str, service_url: str, **overrides: Any) -> dict[str, Any]:
    """Load fixture ``name`` with ``serviceUrl`` filled and a fresh id and timestamps.

    Overrides are deep-merged into the activity: snake_case keys become camelCase
    (``reply_to_id`` -> ``replyToId``), dict values merge into existing dicts, and a
    ``None`` value removes the key. Pass reserved words via a dict: ``**{"from": {...}}``.
    """
    raw = fixture_path(name).read_text(encoding="utf-8")
    activity: dict[str, Any] = json.loads(raw.replace(SERVICE_URL_PLACEHOLDER, service_url))
    activity["id"] = new_activity_id(str(activity["type"]))
    _stamp_times(activity)
    _deep_merge(activity, {_camel(key): value for key, value in overrides.items()})
    return activity


def new_activity_id(activity_type: str) -> str:
    """An id shaped like Teams': epoch-millis for messages, ``f:<guid>`` for events."""
    if activity_type == "message":
        _last_message_id[0] = max(_last_message_id[0] + 1, int(time.time() * 1000))
        return str(_last_message_id[0])
    return f"f:{uuid.uuid4()}"


def client_timezone(activity: Mapping[str, Any]) -> str | None:
    """The IANA time zone from ``localTimezone`` or the clientInfo entity, if any."""
    if isinstance(activity.get("localTimezone"), str):
        return str(activity["localTimezone"])
    for entity in activity.get("entities") or []:
        if entity.get("type") == "clientInfo" and entity.get("timezone"):
            return str(entity["timezone"])
    return None


def _stamp_times(activity: dict[str, Any]) -> None:
    now = datetime.now(UTC)
    activity["timestamp"] = now.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    zone = client_timezone(activity)
    if "localTimestamp" in activity and zone:
        activity["localTimestamp"] = now.astimezone(ZoneInfo(zone)).isoformat(
            timespec="milliseconds"
        )


def _camel(key: str) -> str:
    head, *rest = key.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def _deep_merge(target: dict[str, Any], overrides: Mapping[str, Any]) -> None:
    for key, value in overrides.items():
        if value is None:
            target.pop(key, None)
        elif isinstance(value, Mapping) and isinstance(target.get(key), dict):
            _deep_merge(target[key], value)
        else:
            target[key] = copy.deepcopy(value)


def teams_request_headers(activity: Mapping[str, Any], token: str | None = None) -> dict[str, str]:
    """Headers Teams sends with an activity (conversation / tenant hints, bearer token)."""
    conversation = activity.get("conversation") or {}
    tenant = (activity.get("channelData") or {}).get("tenant") or {}
    headers = {
        "Content-Type": "application/json; charset=utf-8",
        "x-ms-conversation-id": str(conversation.get("id", "")),
        "x-ms-tenant-id": str(conversation.get("tenantId") or tenant.get("id") or ""),
    }
    if token is not None:
        headers["Authorization"] = token if " " in token else f"Bearer {token}"
    return headers


async def post_activity(
    client_or_url: TestClient[Any, Any] | str,
    activity: Mapping[str, Any],
    token: str | None = None,
    remote: str = "/api/messages",
    *,
    headers: Mapping[str, str] | None = None,
) -> PostResult:
    """POST ``activity`` to the bot as Teams would and return status, JSON body and headers.

    ``client_or_url`` is an aiohttp ``TestClient`` (``remote`` is the path) or a base URL
    (``remote`` is joined to it). ``token`` becomes ``Authorization: Bearer <token>``
    (a value containing a space is sent verbatim); ``headers`` override the defaults.
    """
    all_headers = teams_request_headers(activity, token) | dict(headers or {})
    body = json.dumps(activity)
    if isinstance(client_or_url, str):
        url = urljoin(client_or_url, remote)
        async with aiohttp.ClientSession() as session:
            response = await session.post(url, data=body, headers=all_headers)
            return await _read_result(response)
    response = await client_or_url.post(remote, data=body, headers=all_headers)
    return await _read_result(response)


async def _read_result(response: aiohttp.ClientResponse) -> PostResult:
    async with response:
        text = await response.text()
        return PostResult(response.status, _maybe_json(text), dict(response.headers))


def _maybe_json(text: str) -> Any:
    if not text or not re.match(r"\s*[\[{\"]", text):
        return text or None
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text
