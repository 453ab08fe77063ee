"""Fake Slack Web API server (aiohttp) that real slack_sdk / slack_bolt clients can talk to."""

from __future__ import annotations

import asyncio
import itertools
import json
import math
import secrets
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp import web
from multidict import CIMultiDict

from tests.fakes.slack_socket import FakeSocketMode

TEAM_ID = "T0LASTMILE"
TEAM_DOMAIN = "lastmile-test"
APP_ID = "A0LASTMILE"
BOT_USER_ID = "U0LASTBOT"
BOT_ID = "B0LASTBOT"
BOT_TOKEN = "xoxb-1111111111-2222222222222-FakeBotTokenLastmile"
APP_TOKEN = "xapp-1-A0LASTMILE-3333333333333-fakeapptokenlastmile"
DEFAULT_TZ = "America/Los_Angeles"

JSON_FIELDS = ("blocks", "attachments", "view", "files", "metadata")
UPLOAD = "files.upload_url"  # pseudo method name for the upload POST (for fail_next/calls)
RESPONSE_URL = "response_url"  # pseudo method name for POSTs to fake response_url hooks

Params = dict[str, Any]
Handler = Callable[[Params], dict[str, Any]]


class FailureKind(StrEnum):
    """What an injected failure does to a call."""

    RATELIMITED = "ratelimited"  # HTTP 429 + Retry-After, {"ok": false, "error": "ratelimited"}
    SERVER_ERROR = "server_error"  # HTTP 500, {"ok": false, "error": "fatal_error"}
    DROP = "drop"  # the connection is closed without any response
    API_ERROR = "api_error"  # HTTP 200, {"ok": false, "error": <error>}


@dataclass(frozen=True)
class _Failure:
    kind: FailureKind
    retry_after: int
    error: str


@dataclass(frozen=True)
class RecordedCall:
    """One HTTP request the fake received."""

    method: str
    params: Params
    headers: CIMultiDict[str]
    http_method: str
    token: str | None
    failure: FailureKind | None = None
    response: dict[str, Any] | None = None

    @property
    def authorization(self) -> str | None:
        return self.headers.get("Authorization")


@dataclass
class FakeUser:
    """A workspace member as users.info reports it."""

    id: str
    name: str
    real_name: str
    email: str
    tz: str = DEFAULT_TZ
    tz_offset: int | None = None  # None: computed from tz at the time of the call
    is_bot: bool = False
    locale: str = "en-US"
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self, *, include_locale: bool = False) -> dict[str, Any]:
        now = datetime.now(ZoneInfo(self.tz))
        offset = self.tz_offset
        if offset is None:
            utcoffset = now.utcoffset()
            offset = int(utcoffset.total_seconds()) if utcoffset is not None else 0
        user: dict[str, Any] = {
            "id": self.id,
            "team_id": TEAM_ID,
            "name": self.name,
            "deleted": False,
            "color": "9f69e7",
            "real_name": self.real_name,
            "tz": self.tz,
            "tz_label": now.tzname() or self.tz,
            "tz_offset": offset,
            "profile": {
                "real_name": self.real_name,
                "display_name": self.name,
                "real_name_normalized": self.real_name,
                "display_name_normalized": self.name,
                "email": self.email,
                "image_72": f"https://avatars.example.invalid/{self.id}_72.png",
                "team": TEAM_ID,
            },
            "is_admin": False,
            "is_owner": False,
            "is_bot": self.is_bot,
            "is_app_user": False,
            "updated": int(time.time()),
            "is_email_confirmed": True,
        }
        if include_locale:
            user["locale"] = self.locale
        return {**user, **self.extra}


@dataclass
class FakeFile:
    """A file created through files.getUploadURLExternal (+ upload + completeUploadExternal)."""

    id: str
    filename: str
    length: int
    upload_token: str
    content: bytes | None = None
    title: str | None = None
    completed: bool = False
    channel_id: str | None = None
    channels: list[str] = field(default_factory=list)
    initial_comment: str | None = None
    thread_ts: str | None = None


class WorkspaceLimit:
    """A token bucket over a workspace's posts: a post with no token left gets a 429
    whose Retry-After (whole seconds, as Slack sends) says when one will be there."""

    def __init__(self, rate: float, burst: float) -> None:
        self.rate = rate
        self.burst = burst
        self.tokens = burst
        self.stamp = time.monotonic()
        self.refused = 0

    def check(self) -> _Failure | None:
        now = time.monotonic()
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens >= 1:
            self.tokens -= 1
            return None
        self.refused += 1
        return _Failure(FailureKind.RATELIMITED, math.ceil((1 - self.tokens) / self.rate), "")


def _missing(*names: str) -> dict[str, Any]:
    messages = [f"[ERROR] missing required field: {name}" for name in names]
    return {"ok": False, "error": "invalid_arguments", "response_metadata": {"messages": messages}}


def _error(code: str) -> dict[str, Any]:
    return {"ok": False, "error": code}


def _decode_json_fields(params: Params) -> Params:
    decoded = dict(params)
    for key in JSON_FIELDS:
        value = decoded.get(key)
        if isinstance(value, str) and value[:1] in ("[", "{"):
            decoded[key] = json.loads(value)
    return decoded


def _bearer_token(headers: Mapping[str, str], params: Params) -> str | None:
    auth = headers.get("Authorization", "")
    if auth.startswith("Bearer "):
        return auth.removeprefix("Bearer ").strip() or None
    token = params.pop("token", None)
    return str(token) if token else None


class FakeSlackApi:
    """An in-process Slack: Web API under /api/, file uploads, response_urls and Socket Mode.

    Use as ``async with FakeSlackApi() as fake:`` (or ``await start()`` / ``await stop()``)
    inside the test's event loop, then ``AsyncWebClient(token=fake.bot_token, base_url=fake.url)``.
    """

    def __init__(
        self,
        *,
        bot_token: str = BOT_TOKEN,
        app_token: str = APP_TOKEN,
        team_id: str = TEAM_ID,
        team_domain: str = TEAM_DOMAIN,
        app_id: str = APP_ID,
        bot_user_id: str = BOT_USER_ID,
        bot_id: str = BOT_ID,
        strict_users: bool = False,
        enterprise_id: str = "",
    ) -> None:
        self.bot_token = bot_token
        self.enterprise_id = enterprise_id
        """The Enterprise Grid org the workspace belongs to ("" for a standalone workspace)."""
        self.app_token = app_token
        self.team_id = team_id
        self.team_domain = team_domain
        self.app_id = app_id
        self.bot_user_id = bot_user_id
        self.bot_id = bot_id
        self.strict_users = strict_users
        self.requests: list[RecordedCall] = []
        self.latency: dict[str, float] = {}
        """Seconds a Web API method takes to answer, by method (none unless set)."""
        self.post_limit: WorkspaceLimit | None = None
        """chat.postMessage's workspace-wide budget, answered with 429 + Retry-After."""
        self.users: dict[str, FakeUser] = {}
        self.messages: dict[tuple[str, str], dict[str, Any]] = {}
        self.views: dict[str, dict[str, Any]] = {}
        self.home_views: dict[str, dict[str, Any]] = {}
        self.files: dict[str, FakeFile] = {}
        self.socket_mode = FakeSocketMode(app_id=app_id)
        self._bot_tokens = {bot_token}
        self._app_tokens = {app_token}
        self._dm_channels: dict[str, str] = {}
        self._failures: dict[str, deque[_Failure]] = {}
        self._ids = itertools.count(1)
        self._last_ts_micros = 0
        self._changed = asyncio.Condition()
        self._runner: web.AppRunner | None = None
        self._origin: str | None = None
        self._handlers: dict[str, Handler] = {
            "api.test": self._api_test,
            "auth.test": self._auth_test,
            "apps.connections.open": self._apps_connections_open,
            "conversations.open": self._conversations_open,
            "chat.postMessage": self._chat_post_message,
            "chat.update": self._chat_update,
            "chat.delete": self._chat_delete,
            "chat.postEphemeral": self._chat_post_ephemeral,
            "users.info": self._users_info,
            "views.open": self._views_open,
            "views.publish": self._views_publish,
            "views.update": self._views_update,
            "files.getUploadURLExternal": self._files_get_upload_url_external,
            "files.completeUploadExternal": self._files_complete_upload_external,
        }

    # -- lifecycle ----------------------------------------------------------------------------

    async def start(self) -> None:
        app = web.Application()
        app.router.add_route("*", "/api/{method}", self._handle_api)
        app.router.add_post("/upload/v1/{upload_token}", self._handle_upload)
        app.router.add_post("/hooks/{kind}/{rest:.*}", self._handle_response_url)
        self.socket_mode.add_routes(app)
        self._runner = web.AppRunner(app, shutdown_timeout=1.0, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0).start()
        host, port = self._runner.addresses[0][:2]
        self._origin = f"http://{host}:{port}"

    async def stop(self) -> None:
        await self.socket_mode.close_all()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FakeSlackApi:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    @property
    def origin(self) -> str:
        """http://127.0.0.1:PORT"""
        if self._origin is None:
            raise RuntimeError("FakeSlackApi is not started")
        return self._origin

    @property
    def url(self) -> str:
        """The base_url for slack_sdk clients (ends with '/')."""
        return f"{self.origin}/api/"

    # -- configuration ------------------------------------------------------------------------

    def set_user(
        self,
        user_id: str,
        *,
        tz: str = DEFAULT_TZ,
        tz_offset: int | None = None,
        email: str | None = None,
        real_name: str | None = None,
        name: str | None = None,
        **extra: Any,
    ) -> FakeUser:
        """Define (or replace) what users.info returns for a user; tz_offset defaults from tz."""
        handle = name or f"user.{user_id.lower()}"
        user = FakeUser(
            id=user_id,
            name=handle,
            real_name=real_name or handle.replace(".", " ").title(),
            email=email or f"{handle}@example.com",
            tz=tz,
            tz_offset=tz_offset,
            extra=extra,
        )
        self.users[user_id] = user
        return user

    def set_user_tz(self, user_id: str, tz: str, tz_offset: int | None = None) -> FakeUser:
        """Change only a user's time zone (creating the user with defaults if needed)."""
        user = self.users.get(user_id) or self.set_user(user_id)
        user.tz, user.tz_offset = tz, tz_offset
        return user

    def add_token(self, token: str) -> None:
        """Accept another token (xapp-... tokens are app-level, everything else bot/user)."""
        (self._app_tokens if token.startswith("xapp-") else self._bot_tokens).add(token)

    def fail_next(
        self,
        method: str,
        kind: FailureKind = FailureKind.RATELIMITED,
        *,
        times: int = 1,
        retry_after: int = 1,
        error: str = "internal_error",
    ) -> None:
        """Make the next `times` calls of `method` fail (429 / 500 / dropped / ok:false)."""
        queue = self._failures.setdefault(method, deque())
        queue.extend(_Failure(kind, retry_after, error) for _ in range(times))

    def limit_posts(self, per_minute: float, burst: float) -> WorkspaceLimit:
        """Enforce a workspace-wide chat.postMessage budget, as Slack does, with 429s."""
        self.post_limit = WorkspaceLimit(per_minute / 60, burst)
        return self.post_limit

    def add_method(self, method: str, handler: Handler) -> None:
        """Answer another Web API method (a bench's read-out, say)."""
        self._handlers[method] = handler

    def dm_channel_for(self, user_id: str) -> str:
        """The stable D... channel id conversations.open returns for a user."""
        if user_id not in self._dm_channels:
            self._dm_channels[user_id] = self._new_id("D")
        return self._dm_channels[user_id]

    def response_url(self, kind: str = "actions") -> str:
        """A response_url on this server; POSTs to it are recorded as method 'response_url'."""
        return (
            f"{self.origin}/hooks/{kind}/{self.team_id}/{self._new_id('')}/{secrets.token_hex(12)}"
        )

    def clear(self) -> None:
        """Forget recorded requests (state such as messages and users is kept)."""
        self.requests.clear()

    # -- queries ------------------------------------------------------------------------------

    def calls(
        self, method: str | None = None, *, include_failed: bool = False
    ) -> list[RecordedCall]:
        """Recorded calls (optionally of one method); injected failures only if include_failed."""
        return [
            call
            for call in self.requests
            if (method is None or call.method == method)
            and (include_failed or call.failure is None)
        ]

    def last_call(self, method: str) -> RecordedCall:
        matching = self.calls(method)
        if not matching:
            raise AssertionError(f"no successful {method} call was recorded")
        return matching[-1]

    async def wait_for_calls(
        self, method: str, count: int = 1, max_wait: float = 5.0
    ) -> list[RecordedCall]:
        """Wait until at least `count` successful calls of `method` were recorded."""
        async with self._changed:
            await asyncio.wait_for(
                self._changed.wait_for(lambda: len(self.calls(method)) >= count), max_wait
            )
        return self.calls(method)

    # -- HTTP handlers ------------------------------------------------------------------------

    async def _handle_api(self, request: web.Request) -> web.StreamResponse:
        method = request.match_info["method"]
        if self.latency.get(method):
            await asyncio.sleep(self.latency[method])
        params = await self._read_params(request)
        token = _bearer_token(request.headers, params)
        failure = self._take_failure(method)
        if failure is None and method == "chat.postMessage" and self.post_limit is not None:
            failure = self.post_limit.check()
        if failure is not None:
            return await self._fail(request, method, params, token, failure)
        body = self._dispatch(method, params, token)
        await self._record(request, method, params, token, None, body)
        return web.json_response(body)

    async def _handle_upload(self, request: web.Request) -> web.StreamResponse:
        upload_token = request.match_info["upload_token"]
        failure = self._take_failure(UPLOAD)
        if failure is not None:
            return await self._fail(request, UPLOAD, {}, None, failure)
        content = await self._read_upload(request)
        file = next((f for f in self.files.values() if f.upload_token == upload_token), None)
        params: Params = {"upload_token": upload_token, "content": content}
        await self._record(request, UPLOAD, params, None, None, None)
        if file is None:
            return web.Response(status=404, text="Not Found", content_type="text/plain")
        file.content = content
        return web.Response(text=f"OK - {len(content)}", content_type="text/plain")

    async def _handle_response_url(self, request: web.Request) -> web.StreamResponse:
        failure = self._take_failure(RESPONSE_URL)
        if failure is not None:
            return await self._fail(request, RESPONSE_URL, {}, None, failure)
        params = await self._read_params(request)
        params["url"] = str(request.url)
        await self._record(request, RESPONSE_URL, params, None, None, None)
        return web.Response(text="ok", content_type="text/plain")

    async def _read_params(self, request: web.Request) -> Params:
        params: Params = dict(request.query)
        if request.content_type == "application/json":
            body = await request.json()
            if isinstance(body, dict):
                params.update(body)
        elif request.can_read_body:
            form = await request.post()
            params.update({k: v for k, v in form.items() if isinstance(v, str)})
        return _decode_json_fields(params)

    async def _read_upload(self, request: web.Request) -> bytes:
        if request.content_type != "multipart/form-data":
            return await request.read()
        form = await request.post()
        field_value = form.get("file") or form.get("filename") or b""
        if isinstance(field_value, str):
            return field_value.encode()
        if isinstance(field_value, bytes | bytearray):
            return bytes(field_value)
        return bytes(field_value.file.read())

    def _take_failure(self, method: str) -> _Failure | None:
        queue = self._failures.get(method)
        return queue.popleft() if queue else None

    async def _fail(
        self,
        request: web.Request,
        method: str,
        params: Params,
        token: str | None,
        failure: _Failure,
    ) -> web.StreamResponse:
        await self._record(request, method, params, token, failure.kind, None)
        if failure.kind is FailureKind.DROP:
            return await self._drop(request)
        if failure.kind is FailureKind.RATELIMITED:
            headers = {"Retry-After": str(failure.retry_after)}
            return web.json_response(_error("ratelimited"), status=429, headers=headers)
        if failure.kind is FailureKind.SERVER_ERROR:
            return web.json_response(_error("fatal_error"), status=500)
        return web.json_response(_error(failure.error))

    async def _drop(self, request: web.Request) -> web.StreamResponse:
        if request.transport is not None:
            request.transport.close()
        raise asyncio.CancelledError  # nothing can be answered on a closed connection

    async def _record(
        self,
        request: web.Request,
        method: str,
        params: Params,
        token: str | None,
        failure: FailureKind | None,
        response: dict[str, Any] | None,
    ) -> None:
        call = RecordedCall(
            method=method,
            params=params,
            headers=CIMultiDict(request.headers),
            http_method=request.method,
            token=token,
            failure=failure,
            response=response,
        )
        self.requests.append(call)
        async with self._changed:
            self._changed.notify_all()

    # -- dispatch -----------------------------------------------------------------------------

    def _dispatch(self, method: str, params: Params, token: str | None) -> dict[str, Any]:
        handler = self._handlers.get(method)
        if handler is None:
            return {"ok": False, "error": "unknown_method", "req_method": method}
        if method == "api.test":
            return handler(params)
        auth_error = self._check_token(method, token)
        return auth_error or handler(params)

    def _check_token(self, method: str, token: str | None) -> dict[str, Any] | None:
        if not token:
            return _error("not_authed")
        if token not in self._bot_tokens | self._app_tokens:
            return _error("invalid_auth")
        wants_app_token = method == "apps.connections.open"
        if (token in self._app_tokens) != wants_app_token:
            return _error("not_allowed_token_type")
        return None

    def _new_id(self, prefix: str) -> str:
        return f"{prefix}0{next(self._ids):09d}"

    def _next_ts(self) -> str:
        micros = max(int(time.time() * 1_000_000), self._last_ts_micros + 1)
        self._last_ts_micros = micros
        return f"{micros // 1_000_000}.{micros % 1_000_000:06d}"

    def _resolve_channel(self, channel: str) -> str:
        if channel[:1] in ("U", "W"):
            return self.dm_channel_for(channel)
        return channel

    # -- method implementations ---------------------------------------------------------------

    def _api_test(self, params: Params) -> dict[str, Any]:
        return {"ok": True, "args": params} if params else {"ok": True}

    def _auth_test(self, params: Params) -> dict[str, Any]:
        return {
            "ok": True,
            "url": f"https://{self.team_domain}.slack.com/",
            "team": self.team_domain,
            "user": "lastmile",
            "team_id": self.team_id,
            "user_id": self.bot_user_id,
            "bot_id": self.bot_id,
            "is_enterprise_install": False,
            **({"enterprise_id": self.enterprise_id} if self.enterprise_id else {}),
        }

    def _apps_connections_open(self, params: Params) -> dict[str, Any]:
        return {"ok": True, "url": self.socket_mode.issue_url(self.origin)}

    def _conversations_open(self, params: Params) -> dict[str, Any]:
        users = [u for u in str(params.get("users", "")).split(",") if u]
        if params.get("channel"):
            return {
                "ok": True,
                "no_op": True,
                "already_open": True,
                "channel": {"id": params["channel"]},
            }
        if not users:
            return _error("users_list_not_supplied")
        if len(users) > 1:
            return {"ok": True, "channel": {"id": self._new_id("G")}}
        already_open = users[0] in self._dm_channels
        body: dict[str, Any] = {"ok": True, "channel": {"id": self.dm_channel_for(users[0])}}
        if already_open:
            body.update({"no_op": True, "already_open": True})
        return body

    def _bot_message(self, params: Params, ts: str) -> dict[str, Any]:
        message: dict[str, Any] = {
            "user": self.bot_user_id,
            "type": "message",
            "ts": ts,
            "bot_id": self.bot_id,
            "app_id": self.app_id,
            "text": params.get("text", ""),
            "team": self.team_id,
            "bot_profile": {
                "id": self.bot_id,
                "app_id": self.app_id,
                "name": "lastmile",
                "deleted": False,
                "team_id": self.team_id,
            },
        }
        for key in ("blocks", "attachments", "thread_ts", "metadata"):
            if params.get(key) is not None:
                message[key] = params[key]
        return message

    def _chat_post_message(self, params: Params) -> dict[str, Any]:
        if not params.get("channel"):
            return _error("channel_not_found")
        if not any(params.get(k) for k in ("text", "blocks", "attachments")):
            return _error("no_text")
        channel = self._resolve_channel(str(params["channel"]))
        ts = self._next_ts()
        message = self._bot_message(params, ts)
        self.messages[(channel, ts)] = message
        return {"ok": True, "channel": channel, "ts": ts, "message": message}

    def _chat_update(self, params: Params) -> dict[str, Any]:
        if not params.get("channel") or not params.get("ts"):
            return _missing(*(k for k in ("channel", "ts") if not params.get(k)))
        key = (str(params["channel"]), str(params["ts"]))
        if key not in self.messages:
            return _error("message_not_found")
        message = self.messages[key]
        for field_name in ("text", "blocks", "attachments", "metadata"):
            if field_name in params:
                message[field_name] = params[field_name]
        text = message.get("text", "")
        return {"ok": True, "channel": key[0], "ts": key[1], "text": text, "message": message}

    def _chat_delete(self, params: Params) -> dict[str, Any]:
        if not params.get("channel") or not params.get("ts"):
            return _missing(*(k for k in ("channel", "ts") if not params.get(k)))
        key = (str(params["channel"]), str(params["ts"]))
        if key not in self.messages:
            return _error("message_not_found")
        if self.messages[key].get("user") != self.bot_user_id:
            return _error("cant_delete_message")
        del self.messages[key]
        return {"ok": True, "channel": key[0], "ts": key[1]}

    def _chat_post_ephemeral(self, params: Params) -> dict[str, Any]:
        if not params.get("channel") or not params.get("user"):
            return _missing(*(k for k in ("channel", "user") if not params.get(k)))
        if not any(params.get(k) for k in ("text", "blocks", "attachments")):
            return _error("no_text")
        return {"ok": True, "message_ts": self._next_ts()}

    def _users_info(self, params: Params) -> dict[str, Any]:
        user_id = str(params.get("user", ""))
        if not user_id:
            return _missing("user")
        if user_id not in self.users:
            if self.strict_users:
                return _error("user_not_found")
            self.set_user(user_id)
        include_locale = str(params.get("include_locale", "")).lower() in ("1", "true")
        return {"ok": True, "user": self.users[user_id].to_dict(include_locale=include_locale)}

    def _new_view(self, view: dict[str, Any], *, view_id: str | None = None) -> dict[str, Any]:
        view_id = view_id or self._new_id("V")
        stored: dict[str, Any] = {
            "id": view_id,
            "team_id": self.team_id,
            "type": view.get("type", "modal"),
            "blocks": view.get("blocks", []),
            "private_metadata": view.get("private_metadata", ""),
            "callback_id": view.get("callback_id", ""),
            "state": {"values": {}},
            "hash": f"{int(time.time())}.{secrets.token_hex(4)}",
            "title": view.get("title"),
            "clear_on_close": view.get("clear_on_close", False),
            "notify_on_close": view.get("notify_on_close", False),
            "close": view.get("close"),
            "submit": view.get("submit"),
            "previous_view_id": None,
            "root_view_id": view_id,
            "app_id": self.app_id,
            "external_id": view.get("external_id", ""),
            "app_installed_team_id": self.team_id,
            "bot_id": self.bot_id,
        }
        self.views[view_id] = stored
        return stored

    def _views_open(self, params: Params) -> dict[str, Any]:
        missing = [k for k in ("trigger_id", "view") if not params.get(k)]
        if missing:
            return _missing(*missing)
        return {"ok": True, "view": self._new_view(params["view"])}

    def _views_publish(self, params: Params) -> dict[str, Any]:
        missing = [k for k in ("user_id", "view") if not params.get(k)]
        if missing:
            return _missing(*missing)
        user_id = str(params["user_id"])
        previous = self.home_views.get(user_id)
        view = self._new_view(params["view"], view_id=previous["id"] if previous else None)
        self.home_views[user_id] = view
        return {"ok": True, "view": view}

    def _views_update(self, params: Params) -> dict[str, Any]:
        if not params.get("view"):
            return _missing("view")
        existing = self._find_view(params)
        if existing is None:
            return _error("not_found")
        if params.get("hash") and params["hash"] != existing["hash"]:
            return _error("hash_conflict")
        view = self._new_view(params["view"], view_id=existing["id"])
        return {"ok": True, "view": view}

    def _find_view(self, params: Params) -> dict[str, Any] | None:
        if params.get("view_id"):
            return self.views.get(str(params["view_id"]))
        external_id = params.get("external_id")
        return next(
            (v for v in self.views.values() if external_id and v["external_id"] == external_id),
            None,
        )

    def _files_get_upload_url_external(self, params: Params) -> dict[str, Any]:
        missing = [k for k in ("filename", "length") if not params.get(k)]
        if missing:
            return _missing(*missing)
        file = FakeFile(
            id=self._new_id("F"),
            filename=str(params["filename"]),
            length=int(params["length"]),
            upload_token=secrets.token_urlsafe(16),
        )
        self.files[file.id] = file
        upload_url = f"{self.origin}/upload/v1/{file.upload_token}"
        return {"ok": True, "upload_url": upload_url, "file_id": file.id}

    def _files_complete_upload_external(self, params: Params) -> dict[str, Any]:
        requested = params.get("files")
        if not isinstance(requested, list) or not requested:
            return _missing("files")
        found = [self.files.get(str(item.get("id"))) for item in requested]
        if any(f is None or f.content is None for f in found):
            return _error("file_not_found")
        channels = [c for c in str(params.get("channels", "")).split(",") if c]
        return {
            "ok": True,
            "files": [
                self._complete_file(f, item, params, channels)
                for f, item in zip(found, requested, strict=True)
                if f is not None
            ],
        }

    def _complete_file(
        self, file: FakeFile, item: dict[str, Any], params: Params, channels: list[str]
    ) -> dict[str, Any]:
        file.title = item.get("title") or file.filename
        file.completed = True
        file.channel_id = params.get("channel_id")
        file.channels = channels
        file.initial_comment = params.get("initial_comment")
        file.thread_ts = params.get("thread_ts")
        return {
            "id": file.id,
            "created": int(time.time()),
            "timestamp": int(time.time()),
            "name": file.filename,
            "title": file.title,
            "mimetype": "",
            "filetype": "",
            "user": self.bot_user_id,
            "user_team": self.team_id,
            "mode": "hosted",
            "is_external": False,
            "is_public": False,
            "size": len(file.content or b""),
            "url_private": f"https://files.slack.com/files-pri/{self.team_id}-{file.id}/{file.filename}",
            "permalink": f"https://{self.team_domain}.slack.com/files/{self.bot_user_id}/{file.id}",
            "channels": [],
            "groups": [],
            "ims": [],
            "shares": {},
        }
