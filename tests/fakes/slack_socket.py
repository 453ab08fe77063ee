"""Socket Mode server double: a websocket endpoint that speaks Slack's envelope protocol."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Callable
from typing import Any, Literal

from aiohttp import WSMsgType, web

EnvelopeType = Literal["events_api", "interactive", "slash_commands"]

DEFAULT_PATH = "/link/"
_RESPONSE_PAYLOAD_INTERACTIONS = frozenset({"view_submission", "block_suggestion"})


def build_envelope(
    envelope_type: EnvelopeType,
    payload: dict[str, Any],
    *,
    envelope_id: str | None = None,
    accepts_response_payload: bool | None = None,
    retry_attempt: int = 0,
    retry_reason: str = "",
) -> dict[str, Any]:
    """Shape an envelope the way Slack's Socket Mode servers send it."""
    envelope: dict[str, Any] = {
        "envelope_id": envelope_id or str(uuid.uuid4()),
        "payload": payload,
        "type": envelope_type,
        "accepts_response_payload": (
            _default_accepts_response_payload(envelope_type, payload)
            if accepts_response_payload is None
            else accepts_response_payload
        ),
    }
    if envelope_type == "events_api":
        envelope["retry_attempt"] = retry_attempt
        envelope["retry_reason"] = retry_reason
    return envelope


def _default_accepts_response_payload(envelope_type: EnvelopeType, payload: dict[str, Any]) -> bool:
    if envelope_type == "slash_commands":
        return True
    if envelope_type == "interactive":
        return payload.get("type") in _RESPONSE_PAYLOAD_INTERACTIONS
    return False


def hello_message(app_id: str, num_connections: int) -> dict[str, Any]:
    """The `hello` message Slack sends first on every new Socket Mode connection."""
    return {
        "type": "hello",
        "num_connections": num_connections,
        "debug_info": {
            "host": "applink-fake-1",
            "build_number": 1,
            "approximate_connection_time": 18060,
        },
        "connection_info": {"app_id": app_id},
    }


class FakeSocketMode:
    """Serves `ws://.../link/?ticket=...`, pushes envelopes and collects the client's acks."""

    def __init__(self, *, app_id: str, path: str = DEFAULT_PATH) -> None:
        self.app_id = app_id
        self.path = path
        self.sent: list[dict[str, Any]] = []
        self.received: list[dict[str, Any]] = []
        self.pings_received: list[bytes] = []
        self.pongs_received: list[bytes] = []
        self.connections_total = 0
        self._tickets: set[str] = set()
        self._connections: list[web.WebSocketResponse] = []
        self._acks: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self._changed = asyncio.Condition()

    # -- wiring -------------------------------------------------------------------------------

    def add_routes(self, app: web.Application) -> None:
        """Register the websocket endpoint on an aiohttp application."""
        app.router.add_get(self.path, self._handle)

    def issue_url(self, origin: str) -> str:
        """A fresh ticketed ws:// URL, as apps.connections.open returns; origin is http://host:port."""
        ticket = uuid.uuid4().hex
        self._tickets.add(ticket)
        ws_origin = origin.replace("http://", "ws://", 1).replace("https://", "wss://", 1)
        return f"{ws_origin}{self.path}?ticket={ticket}&app_id={self.app_id}"

    @property
    def open_connections(self) -> int:
        return sum(1 for ws in self._connections if not ws.closed)

    # -- test-facing API ----------------------------------------------------------------------

    async def wait_connected(self, count: int = 1, max_wait: float = 5.0) -> None:
        """Wait until at least `count` clients are connected and have been sent `hello`."""
        await self._wait_until(lambda: self.open_connections >= count, max_wait)

    async def wait_connections_total(self, total: int, max_wait: float = 5.0) -> None:
        """Wait until `total` connections were ever accepted and the newest one is open.

        Use after `request_reconnect()`: the SDK opens the new socket only after closing the old.
        """
        await self._wait_until(
            lambda: self.connections_total >= total and self._newest_is_open(), max_wait
        )

    async def send_envelope(
        self,
        envelope_type: EnvelopeType,
        payload: dict[str, Any],
        *,
        envelope_id: str | None = None,
        accepts_response_payload: bool | None = None,
        retry_attempt: int = 0,
        retry_reason: str = "",
        max_wait: float = 5.0,
    ) -> str:
        """Push one envelope to the newest connection; returns its envelope_id."""
        envelope = build_envelope(
            envelope_type,
            payload,
            envelope_id=envelope_id,
            accepts_response_payload=accepts_response_payload,
            retry_attempt=retry_attempt,
            retry_reason=retry_reason,
        )
        await self.send_raw(envelope, max_wait=max_wait)
        return str(envelope["envelope_id"])

    async def wait_ack(self, envelope_id: str, max_wait: float = 5.0) -> dict[str, Any]:
        """The client's acknowledgement `{"envelope_id": ..., "payload": ...}` for an envelope."""
        return await asyncio.wait_for(asyncio.shield(self._ack_future(envelope_id)), max_wait)

    async def push(
        self,
        envelope_type: EnvelopeType,
        payload: dict[str, Any],
        *,
        max_wait: float = 5.0,
        **envelope_options: Any,
    ) -> dict[str, Any]:
        """Send an envelope and return the client's acknowledgement of it."""
        envelope_id = await self.send_envelope(
            envelope_type, payload, max_wait=max_wait, **envelope_options
        )
        return await self.wait_ack(envelope_id, max_wait)

    async def send_raw(self, message: dict[str, Any] | str, *, max_wait: float = 5.0) -> None:
        """Send any message (JSON-encoded if a dict) to the newest open connection."""
        await self.wait_connected(max_wait=max_wait)
        ws = self._newest_connection()
        text = message if isinstance(message, str) else json.dumps(message)
        if isinstance(message, dict) and "envelope_id" in message:
            self._ack_future(str(message["envelope_id"]))
            self.sent.append(message)
        await ws.send_str(text)

    async def request_reconnect(self, reason: str = "refresh_requested") -> None:
        """Send Slack's `disconnect` message; the SDK then reconnects to a new URL."""
        await self.send_raw(
            {"type": "disconnect", "reason": reason, "debug_info": {"host": "applink-fake-1"}}
        )

    async def ping(self, data: bytes = b"fake-server-ping", max_wait: float = 5.0) -> None:
        """Ping the newest connection and wait for the client's pong carrying the same data."""
        await self.wait_connected(max_wait=max_wait)
        await self._newest_connection().ping(data)
        await self._wait_until(lambda: data in self.pongs_received, max_wait)

    async def close_all(self) -> None:
        """Close every open websocket (server side)."""
        for ws in list(self._connections):
            await ws.close()

    # -- internals ----------------------------------------------------------------------------

    def _newest_is_open(self) -> bool:
        return bool(self._connections) and not self._connections[-1].closed

    def _newest_connection(self) -> web.WebSocketResponse:
        return next(ws for ws in reversed(self._connections) if not ws.closed)

    def _ack_future(self, envelope_id: str) -> asyncio.Future[dict[str, Any]]:
        if envelope_id not in self._acks:
            self._acks[envelope_id] = asyncio.get_running_loop().create_future()
        return self._acks[envelope_id]

    async def _wait_until(self, predicate: Callable[[], bool], max_wait: float) -> None:
        async with self._changed:
            await asyncio.wait_for(self._changed.wait_for(predicate), max_wait)

    async def _notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        if request.query.get("ticket") not in self._tickets:
            return web.json_response({"ok": False, "error": "invalid_ticket"}, status=401)
        ws = web.WebSocketResponse(autoping=False)
        await ws.prepare(request)
        self.connections_total += 1
        self._connections.append(ws)
        await ws.send_json(hello_message(self.app_id, self.open_connections))
        await self._notify()
        try:
            async for message in ws:
                await self._on_message(ws, message.type, message.data)
        finally:
            self._connections.remove(ws)
            await self._notify()
        return ws

    async def _on_message(self, ws: web.WebSocketResponse, kind: WSMsgType, data: Any) -> None:
        if kind == WSMsgType.PING:
            self.pings_received.append(bytes(data))
            await ws.pong(data)
        elif kind == WSMsgType.PONG:
            self.pongs_received.append(bytes(data))
        elif kind == WSMsgType.TEXT:
            self._on_text(str(data))
        await self._notify()

    def _on_text(self, text: str) -> None:
        message: dict[str, Any] = json.loads(text)
        self.received.append(message)
        envelope_id = message.get("envelope_id")
        if envelope_id is not None:
            future = self._ack_future(str(envelope_id))
            if not future.done():
                future.set_result(message)
