"""Fake Bot Framework connector service (Teams flavour) on aiohttp, for use as ``serviceUrl``.

Outbound calls only reach this fake when the adapter runs WITHOUT an app id: with
credentials, botframework-connector first fetches a token from login.microsoftonline.com
(unreachable in tests). Without an app id the SDK sends no ``Authorization`` header at all;
the fake accepts that, an empty header or a bearer token, and records what it got.

How botbuilder 4.17.1 surfaces connector errors (checked in tests/test_fakes_teams.py):
send/reply/create (POST) are never retried and raise
``botbuilder.schema.ErrorResponseException`` (a ``msrest.exceptions.HttpOperationError``;
roster GETs raise the base class): ``exc.response`` is a ``requests.Response``
(``.status_code``, ``.headers["Retry-After"]``, ``.json()``), ``exc.error.error.code`` is the
Teams code for ``{"error": {...}}`` bodies (None otherwise). PUT/DELETE/GET go through
urllib3 retries (3): 429 with Retry-After is retried after sleeping it, then raises as
above; 500/502/503/504 are retried with backoff (~4.8 s) and end in
``msrest.exceptions.ClientRequestError`` (no status; wraps ``requests.RetryError``).
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import json
import re
import secrets
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Self

from aiohttp import web

from .teams_activities import TENANT_ID, USER_AAD_OBJECT_ID, USER_EMAIL, USER_ID, USER_NAME

SEND_OPERATIONS = frozenset({"send", "reply"})

# Error envelopes as Teams returns them ("Status codes from bot conversational APIs",
# learn.microsoft.com/microsoftteams/platform/bots/build-conversational-capability).
ERROR_BODIES: dict[str, dict[str, Any] | None] = {
    "ConversationBlockedByUser": {
        "error": {
            "code": "ConversationBlockedByUser",
            "message": "User blocked the conversation with the bot.",
        }
    },
    "BotNotInConversationRoster": {
        "error": {
            "code": "BotNotInConversationRoster",
            "message": "The bot isn't part of the conversation roster.",
        }
    },
    "BotDisabledByAdmin": {
        "error": {"code": "BotDisabledByAdmin", "message": "The tenant admin disabled this bot"}
    },
    "ForbiddenOperationException": {
        "error": {
            "code": "ForbiddenOperationException",
            "message": "Bot isn't installed in user's personal scope",
        }
    },
    # The proactive-messaging doc's sample 403 for a blocked/uninstalled bot: a different
    # envelope, with the sub-code JSON-encoded inside "message".
    "MessageWritesBlocked": {
        "errorCode": 209,
        "message": json.dumps(
            {
                "subCode": "MessageWritesBlocked",
                "details": "Thread is blocked from message writes.",
                "errorCode": None,
                "errorSubCode": None,
            },
            indent=2,
        ).replace("\n", "\r\n"),
    },
    "ConversationNotFound": {
        "error": {"code": "ConversationNotFound", "message": "Conversation not found."}
    },
    "PreconditionFailed": {
        "error": {"code": "PreconditionFailed", "message": "Precondition failed, please try again."}
    },
    "Throttled": {"error": {"code": "Throttled", "message": "Too many requests."}},
    "ServiceError": {"error": {"code": "ServiceError", "message": "Service dependency issue."}},
    "BadArgument": {"error": {"code": "BadArgument", "message": "Invalid request payload."}},
    # 503 and 504 come from the gateway with no documented error code: no body.
    "ServiceUnavailable": None,
    "GatewayTimeout": None,
}

DEFAULT_ERROR_FOR_STATUS: dict[int, str] = {
    400: "BadArgument",
    403: "ConversationBlockedByUser",
    404: "ConversationNotFound",
    412: "PreconditionFailed",
    429: "Throttled",
    500: "ServiceError",
    502: "ServiceError",
    503: "ServiceUnavailable",
    504: "GatewayTimeout",
}

_ROUTES: list[tuple[str, re.Pattern[str], str]] = [
    ("POST", re.compile(r"^/v3/conversations$"), "create_conversation"),
    ("POST", re.compile(r"^/v3/conversations/(?P<conv>[^/]+)/activities$"), "send"),
    ("POST", re.compile(r"^/v3/conversations/(?P<conv>[^/]+)/activities/(?P<act>[^/]+)$"), "reply"),
    ("PUT", re.compile(r"^/v3/conversations/(?P<conv>[^/]+)/activities/(?P<act>[^/]+)$"), "update"),
    (
        "DELETE",
        re.compile(r"^/v3/conversations/(?P<conv>[^/]+)/activities/(?P<act>[^/]+)$"),
        "delete",
    ),
    ("GET", re.compile(r"^/v3/conversations/(?P<conv>[^/]+)/members$"), "get_members"),
    ("GET", re.compile(r"^/v3/conversations/(?P<conv>[^/]+)/pagedmembers$"), "get_paged_members"),
    (
        "GET",
        re.compile(r"^/v3/conversations/(?P<conv>[^/]+)/members/(?P<member>[^/]+)$"),
        "get_member",
    ),
]


@dataclass(frozen=True)
class TeamsMember:
    """A roster entry as Teams returns it (TeamsChannelAccount)."""

    id: str
    aad_object_id: str
    name: str
    email: str
    user_principal_name: str
    tenant_id: str = TENANT_ID
    given_name: str | None = None
    surname: str | None = None
    user_role: str = "user"

    def to_json(self) -> dict[str, Any]:
        """The camelCase JSON object of the roster APIs."""
        data: dict[str, Any] = {
            "id": self.id,
            "name": self.name,
            "aadObjectId": self.aad_object_id,
            "email": self.email,
            "userPrincipalName": self.user_principal_name,
            "tenantId": self.tenant_id,
            "userRole": self.user_role,
        }
        if self.given_name is not None:
            data["givenName"] = self.given_name
        if self.surname is not None:
            data["surname"] = self.surname
        return data


def make_member(
    name: str, *, tenant_id: str = TENANT_ID, domain: str = "contoso.example"
) -> TeamsMember:
    """A member with a fresh ``29:`` id and AAD object id, and an email made from ``name``."""
    given, _, surname = name.partition(" ")
    local = ".".join(part.lower() for part in name.split())
    return TeamsMember(
        id=f"29:1{_opaque_token(60)}",
        aad_object_id=str(uuid.uuid4()),
        name=name,
        email=f"{local}@{domain}",
        user_principal_name=f"{local}@{domain}",
        tenant_id=tenant_id,
        given_name=given,
        surname=surname or None,
    )


def default_member() -> TeamsMember:
    """The user who appears in every fixture under tests/fixtures/teams."""
    given, _, surname = USER_NAME.partition(" ")
    return TeamsMember(
        id=USER_ID,
        aad_object_id=USER_AAD_OBJECT_ID,
        name=USER_NAME,
        email=USER_EMAIL,
        user_principal_name=USER_EMAIL,
        given_name=given,
        surname=surname,
    )


@dataclass(frozen=True)
class RecordedCall:
    """One request the fake received, with what it answered."""

    method: str
    path: str
    operation: str
    conversation_id: str | None
    activity_id: str | None
    authorization: str | None
    body: Any
    query: Mapping[str, str]
    status: int
    response: Any

    @property
    def succeeded(self) -> bool:
        """True for a 2xx answer."""
        return 200 <= self.status < 300


@dataclass
class _Failure:
    conversation_id: str | None
    status: int
    remaining: int
    operations: frozenset[str]
    body: dict[str, Any] | None
    headers: dict[str, str]

    def matches(self, operation: str, conversation_id: str | None) -> bool:
        if self.remaining <= 0 or operation not in self.operations:
            return False
        return self.conversation_id is None or self.conversation_id == conversation_id


@dataclass
class _Answer:
    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)


class FakeTeamsConnector:
    """Records every connector call and answers like Teams' Bot Connector (REST v3)."""

    def __init__(
        self,
        *,
        members: Iterable[TeamsMember] | None = None,
        tenant_id: str = TENANT_ID,
        path_prefix: str = "/teams/",
        host: str = "127.0.0.1",
    ) -> None:
        self.members: list[TeamsMember] = (
            list(members) if members is not None else [default_member()]
        )
        self.rosters: dict[str, list[TeamsMember]] = {}
        self.tenant_id = tenant_id
        self.calls: list[RecordedCall] = []
        self._prefix = "/" + path_prefix.strip("/")
        self._host = host
        self._failures: list[_Failure] = []
        self._conversations_by_member: dict[str, str] = {}
        self._ids = itertools.count(int(time.time() * 1000))
        self._runner: web.AppRunner | None = None
        self._changed = asyncio.Condition()
        self._port: int | None = None

    # -- lifecycle -------------------------------------------------------------------------

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def start(self) -> None:
        """Listen on a free port of ``host``."""
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._dispatch)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self._host, 0)
        await site.start()
        self._port = int(self._runner.addresses[0][1])

    async def close(self) -> None:
        """Stop listening."""
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    @property
    def service_url(self) -> str:
        """The ``serviceUrl`` to put in activities, e.g. ``http://127.0.0.1:4711/teams/``."""
        if self._port is None:
            raise RuntimeError("FakeTeamsConnector is not started")
        prefix = self._prefix.rstrip("/") + "/"
        return f"http://{self._host}:{self._port}{prefix}"

    # -- failure injection -----------------------------------------------------------------

    def fail_next(
        self,
        conversation_id: str | None,
        status: int,
        times: int = 1,
        *,
        error: str | None = None,
        retry_after: int | None = None,
        operations: Iterable[str] = SEND_OPERATIONS,
    ) -> None:
        """Answer the next ``times`` matching calls with ``status``.

        ``conversation_id=None`` matches any conversation. ``error`` picks a body from
        ``ERROR_BODIES`` (default per status, e.g. 403 -> ConversationBlockedByUser).
        ``operations`` is a subset of send, reply, update, delete, create_conversation,
        get_members, get_paged_members, get_member.
        """
        body = ERROR_BODIES[error or DEFAULT_ERROR_FOR_STATUS.get(status, "ServiceError")]
        headers = {"Retry-After": str(retry_after)} if retry_after is not None else {}
        failure = _Failure(conversation_id, status, times, frozenset(operations), body, headers)
        self._failures.append(failure)

    def throttle_next(
        self, conversation_id: str | None, times: int = 1, retry_after: int = 1
    ) -> None:
        """Answer the next sends with 429 Throttled and ``Retry-After``."""
        self.fail_next(conversation_id, 429, times, retry_after=retry_after)

    def block(
        self,
        conversation_id: str | None,
        times: int = 1,
        *,
        error: str = "ConversationBlockedByUser",
    ) -> None:
        """Answer the next sends with 403 as for a user who blocked the bot."""
        self.fail_next(conversation_id, 403, times, error=error)

    def clear_failures(self) -> None:
        """Forget every pending injected failure."""
        self._failures.clear()

    # -- inspection ------------------------------------------------------------------------

    def requests(
        self, operation: str | None = None, conversation_id: str | None = None
    ) -> list[RecordedCall]:
        """Every recorded call, optionally filtered, failed ones included."""
        return [
            call
            for call in self.calls
            if (operation is None or call.operation == operation)
            and (conversation_id is None or call.conversation_id == conversation_id)
        ]

    def activities(self, conversation_id: str | None = None) -> list[dict[str, Any]]:
        """Activities the fake accepted (sends and replies), as the JSON the bot sent."""
        return [
            call.body
            for call in self.calls
            if call.operation in SEND_OPERATIONS
            and call.succeeded
            and (conversation_id is None or call.conversation_id == conversation_id)
        ]

    def updates(self, conversation_id: str | None = None) -> list[dict[str, Any]]:
        """Accepted activity updates (PUT), as the JSON the bot sent."""
        return [call.body for call in self._accepted("update", conversation_id)]

    def deletes(self, conversation_id: str | None = None) -> list[tuple[str, str]]:
        """Accepted deletions as ``(conversation_id, activity_id)``."""
        return [
            (call.conversation_id or "", call.activity_id or "")
            for call in self._accepted("delete", conversation_id)
        ]

    def created_conversations(self) -> list[dict[str, Any]]:
        """Accepted create-conversation requests, each with the ``id`` it was given."""
        return [
            {**call.body, "id": call.response["id"]}
            for call in self._accepted("create_conversation", None)
        ]

    def authorization_headers(self) -> list[str | None]:
        """The ``Authorization`` header of every call (None when absent)."""
        return [call.authorization for call in self.calls]

    async def wait_for_activities(
        self, count: int, conversation_id: str | None = None, wait_seconds: float = 5.0
    ) -> list[dict[str, Any]]:
        """Wait until at least ``count`` activities were accepted, then return them all."""
        async with asyncio.timeout(wait_seconds), self._changed:
            await self._changed.wait_for(lambda: len(self.activities(conversation_id)) >= count)
        return self.activities(conversation_id)

    async def wait_for_requests(self, count: int, wait_seconds: float = 5.0) -> list[RecordedCall]:
        """Wait until at least ``count`` calls of any kind were recorded, then return them."""
        async with asyncio.timeout(wait_seconds), self._changed:
            await self._changed.wait_for(lambda: len(self.calls) >= count)
        return list(self.calls)

    def _accepted(self, operation: str, conversation_id: str | None) -> list[RecordedCall]:
        return [call for call in self.requests(operation, conversation_id) if call.succeeded]

    # -- HTTP ------------------------------------------------------------------------------

    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        path = self._route_path(request.path)
        operation, params = self._match(request.method, path)
        body = await self._read_body(request)
        conversation_id, activity_id = params.get("conv"), params.get("act")
        answer = self._injected(operation, conversation_id)
        if answer is None:
            answer = await self._answer(operation, params, body, request.query)
        self.calls.append(
            RecordedCall(
                method=request.method,
                path=path,
                operation=operation,
                conversation_id=conversation_id,
                activity_id=activity_id,
                authorization=request.headers.get("Authorization"),
                body=body,
                query=dict(request.query),
                status=answer.status,
                response=answer.body,
            )
        )
        async with self._changed:
            self._changed.notify_all()
        return self._respond(answer)

    def _route_path(self, path: str) -> str:
        path = re.sub(r"/{2,}", "/", path)
        if path.startswith(self._prefix + "/"):
            path = path[len(self._prefix) :]
        return path.rstrip("/") or "/"

    @staticmethod
    def _match(method: str, path: str) -> tuple[str, dict[str, str]]:
        for route_method, pattern, operation in _ROUTES:
            found = pattern.match(path)
            if found and route_method == method:
                return operation, found.groupdict()
        return "unknown", {}

    @staticmethod
    async def _read_body(request: web.Request) -> Any:
        raw = await request.text()
        if not raw:
            return None
        try:
            return json.loads(raw)
        except json.JSONDecodeError:
            return raw

    def _injected(self, operation: str, conversation_id: str | None) -> _Answer | None:
        for failure in self._failures:
            if failure.matches(operation, conversation_id):
                failure.remaining -= 1
                return _Answer(failure.status, failure.body, dict(failure.headers))
        return None

    async def _answer(
        self, operation: str, params: Mapping[str, str], body: Any, query: Mapping[str, str]
    ) -> _Answer:
        handlers: dict[str, Callable[[], _Answer]] = {
            "send": self._new_activity,
            "reply": self._new_activity,
            "update": lambda: _Answer(200, {"id": params["act"]}),
            "delete": lambda: _Answer(200),
            "create_conversation": lambda: self._create_conversation(body),
            "get_members": lambda: self._get_members(params["conv"]),
            "get_paged_members": lambda: self._get_paged_members(params["conv"], query),
            "get_member": lambda: self._get_member(params["conv"], params["member"]),
        }
        handler = handlers.get(operation)
        if handler is None:
            return _Answer(404, {"error": {"code": "NotFound", "message": "Unknown route."}})
        return handler()

    @staticmethod
    def _respond(answer: _Answer) -> web.Response:
        if answer.body is None:
            return web.Response(status=answer.status, headers=answer.headers)
        return web.json_response(answer.body, status=answer.status, headers=answer.headers)

    # -- operations ------------------------------------------------------------------------

    def _new_activity(self) -> _Answer:
        return _Answer(201, {"id": str(next(self._ids))})

    def _create_conversation(self, body: Any) -> _Answer:
        members = body.get("members") if isinstance(body, dict) else None
        tenant = _tenant_of(body) if isinstance(body, dict) else None
        if not members or not tenant:
            return _Answer(400, ERROR_BODIES["BadArgument"])
        member_id = str(members[0].get("id", ""))
        conversation_id = self._conversations_by_member.setdefault(
            member_id, f"a:1{_opaque_token(90)}"
        )
        return _Answer(201, {"id": conversation_id})

    def roster(self, conversation_id: str) -> list[TeamsMember]:
        """Members of ``conversation_id`` (``rosters`` entry, else ``members``)."""
        return self.rosters.get(conversation_id, self.members)

    def _get_members(self, conversation_id: str) -> _Answer:
        return _Answer(200, [member.to_json() for member in self.roster(conversation_id)])

    def _get_paged_members(self, conversation_id: str, query: Mapping[str, str]) -> _Answer:
        roster = self.roster(conversation_id)
        start = int(query.get("continuationToken") or 0)
        size = max(1, int(query.get("pageSize") or 200))
        page: dict[str, Any] = {"members": [m.to_json() for m in roster[start : start + size]]}
        if start + size < len(roster):
            page["continuationToken"] = str(start + size)
        return _Answer(200, page)

    def _get_member(self, conversation_id: str, member_id: str) -> _Answer:
        for member in self.roster(conversation_id):
            if member_id in (member.id, member.aad_object_id, member.user_principal_name):
                return _Answer(200, member.to_json())
        error = {"code": "MemberNotFoundInConversation", "message": "Member not found."}
        return _Answer(404, {"error": error})


def _tenant_of(body: Mapping[str, Any]) -> str | None:
    channel_data = body.get("channelData") or {}
    tenant = channel_data.get("tenant") or {}
    return tenant.get("id") or body.get("tenantId")


def _opaque_token(length: int) -> str:
    raw = base64.urlsafe_b64encode(secrets.token_bytes(length)).decode().rstrip("=")
    return raw[:length]
