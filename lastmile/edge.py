"""The web app's edge: every request body is checked before any handler does work on it.

- A body larger than its route allows is refused unread (413).
- A body must arrive within `BODY_SECONDS` (408, connection closed): a slow upload
  otherwise holds a connection and a growing buffer for as long as its client likes.
- A client that goes away mid-upload costs one log line and nothing else.
- A body that is not UTF-8, or JSON nested deeper than `MAX_DEPTH`, is refused (400);
  so is a body sent to a route that takes none (`GET /healthz`).
- Whatever a handler raises becomes a 500 and one log line naming the failure and
  where it happened, never its message (which can quote what a person wrote).

Idle connections, and connections that never finish their headers, are closed after
`IDLE_SECONDS` (`SERVER_OPTIONS`, given to aiohttp's runner).
"""

from __future__ import annotations

import asyncio
import ctypes
import gc
import logging
import re
from collections.abc import Awaitable, Callable, Mapping
from contextlib import suppress
from typing import Any
from urllib.parse import parse_qs

import numpy as np
from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError

from bot.safe_logs import failure

logger = logging.getLogger(__name__)

BODY_SECONDS = 10.0
"""How long a request body may take to arrive (Slack and Teams send theirs at once)."""
IDLE_SECONDS = 15.0
"""How long a connection may sit idle, or take to send its headers, before it is closed."""
MAX_DEPTH = 64
"""The deepest JSON nesting accepted (Slack's and Teams' payloads stay under 15)."""
SERVER_OPTIONS: dict[str, Any] = {"keepalive_timeout": IDLE_SECONDS}
"""Keyword arguments for `aiohttp.web.AppRunner`."""

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_NOT_BRACKETS = bytes(set(range(256)) - set(b"[]{}"))
# Opening brackets become +1, closing ones -1 (0xFF read as a signed byte).
_STEPS = bytes.maketrans(b"[{]}", b"\x01\x01\xff\xff")
INLINE_DEPTH_CHECK = 64 * 1024
"""Bodies up to this size are measured on the event loop; larger ones in a worker thread."""


def json_depth(text: str | bytes) -> int:
    """How deeply JSON text nests arrays and objects (brackets inside strings do not count)."""
    data = text.encode("utf-8") if isinstance(text, str) else text
    brackets = _STRING.sub(b"", data).translate(None, _NOT_BRACKETS)
    if not brackets:
        return 0
    steps = np.frombuffer(brackets.translate(_STEPS), dtype=np.int8)
    return int(steps.cumsum(dtype=np.int64).max())


class MemoryReturn:
    """Gives the memory of request bodies back to the operating system once they are gone.

    A burst of large or aborted uploads leaves the C allocator's heap full of freed
    holes that glibc keeps (resident memory stayed 2.5 times its idle size after 3,000
    aborted uploads); `malloc_trim` hands the free pages back. It runs in a worker
    thread, at most once a second, after `TRIM_AFTER` bytes of bodies have been read.
    """

    TRIM_AFTER = 4 * 1024 * 1024
    DELAY = 1.0

    def __init__(self) -> None:
        self.pending = 0
        self._scheduled: asyncio.Task[None] | None = None
        self._trim = _malloc_trim()

    def note(self, size: int) -> None:
        """A body of `size` bytes was read (whole or in part) and is about to be freed."""
        if self._trim is None:
            return
        self.pending += size
        if self.pending >= self.TRIM_AFTER and self._scheduled is None:
            self._scheduled = asyncio.get_running_loop().create_task(self._later())

    async def _later(self) -> None:
        assert self._trim is not None
        try:
            # Again after the last body of a burst, so its memory goes back too.
            while self.pending:
                await asyncio.sleep(self.DELAY)
                self.pending = 0
                await asyncio.to_thread(self._trim, 0)
        finally:
            self._scheduled = None


async def return_free_memory() -> None:
    """Collect garbage and hand the C heap's free pages back to the system (glibc only).

    `serve` does it once it listens: the start-up's config sync held every person's
    rows for a moment, and glibc would otherwise keep those pages for ever.
    """
    gc.collect()
    trim = _malloc_trim()
    if trim is not None:
        await asyncio.to_thread(trim, 0)


def _malloc_trim() -> Callable[[int], int] | None:
    """glibc's malloc_trim, or None elsewhere (musl, macOS)."""
    try:
        trim: Callable[[int], int] = ctypes.CDLL(None).malloc_trim
    except (AttributeError, OSError):
        return None
    return trim


def _forget(error: BaseException) -> None:
    """Drop the tracebacks: their frames hold the part of the body read so far, in a cycle
    (request -> payload -> exception -> frame -> request) only a full collection frees."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        current.__traceback__ = None
        current = current.__context__


def _refused(status: int, message: str, *, close: bool = False) -> web.Response:
    response = web.json_response({"error": message}, status=status)
    if close:
        # The rest of the body may still be on its way: it must not be read as a request.
        response.force_close()
    return response


def _payload_text(text: str, content_type: str) -> str | None:
    """The JSON inside a body: the body itself, or a form's `payload` field (Slack's
    interactivity); None for a body with no JSON in it."""
    if content_type == "application/x-www-form-urlencoded":
        fields = parse_qs(text, keep_blank_values=True)
        return "\n".join(fields.get("payload", [])) or None
    if content_type.endswith("json") or text.lstrip()[:1] in ("{", "["):
        return text
    return None


async def read_body(
    request: web.Request, limit: int, memory: MemoryReturn | None = None
) -> web.Response | None:
    """Read and check the body, leaving it cached for the handler; a refusal, or None.

    Args:
        request: the incoming request.
        limit: the largest body its route accepts, in bytes.
        memory: told how much body was read, so the memory goes back after a burst.
    """
    if not request.body_exists:
        return None
    if request.method in ("GET", "HEAD", "OPTIONS", "DELETE"):
        return _refused(400, "this route takes no request body", close=True)
    if request.content_length is not None and request.content_length > limit:
        return _refused(413, f"the body is larger than {limit} bytes", close=True)
    if memory is not None:
        # Whatever happens below, about this much is buffered and soon freed.
        memory.note(request.content_length or limit)
    try:
        async with asyncio.timeout(BODY_SECONDS):
            raw = await request.read()
    except TimeoutError as error:
        _forget(error)
        logger.info(
            "%s %s: the body did not arrive within %.0f s",
            request.method,
            request.path,
            BODY_SECONDS,
        )
        # Answered and closed at once: no lingering to read the rest of a body this slow.
        refused = _refused(408, "the body did not arrive in time", close=True)
        with suppress(OSError):
            await refused.prepare(request)
            await refused.write_eof()
        if request.transport is not None:
            request.transport.close()
        return refused
    except web.HTTPRequestEntityTooLarge:
        return _refused(413, f"the body is larger than {limit} bytes", close=True)
    except (OSError, HttpProcessingError) as error:
        # The client went away mid-upload (or broke the framing): nobody is left to answer.
        _forget(error)
        logger.info(
            "%s %s: upload aborted (%s)", request.method, request.path, type(error).__name__
        )
        return _refused(400, "the body was not received whole", close=True)
    if len(raw) > limit:
        return _refused(413, f"the body is larger than {limit} bytes", close=True)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return _refused(400, "the body is not UTF-8")
    payload = _payload_text(text, request.content_type)
    if payload is not None:
        measured = (
            json_depth(payload)
            if len(payload) <= INLINE_DEPTH_CHECK
            else await asyncio.to_thread(json_depth, payload)
        )
        if measured > MAX_DEPTH:
            return _refused(400, f"the body nests deeper than {MAX_DEPTH} levels")
    return None


def edge_middleware(limits: Mapping[str, int], default_limit: int) -> Any:
    """The middleware, with each route's body limit (others get `default_limit`)."""

    memory = MemoryReturn()

    @web.middleware
    async def edge(request: web.Request, handler: Handler) -> web.StreamResponse:
        refused = await read_body(request, limits.get(request.path, default_limit), memory)
        if refused is not None:
            return refused
        try:
            return await handler(request)
        except web.HTTPException:
            raise
        except Exception as error:
            logger.error("%s %s failed: %s", request.method, request.path, failure(error))
            return _refused(500, "lastmile failed on this request")

    return edge
