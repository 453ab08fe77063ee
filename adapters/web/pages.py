"""The browser chat's pages: pick who you are, then chat; answers arrive as server-sent events.

Served only to this machine (loopback, no proxy), and only while no chat platform is
configured: anyone who can open it can act as anyone in the config.
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from aiohttp import web

from adapters.loopback import is_direct_loopback
from adapters.templates import page_templates
from adapters.web.chat import Conversations
from adapters.web.inbound import PEOPLE_PLATFORM, PLATFORM, tapped, typed
from bot.inbox import InboxUnavailable
from bot.runtime import Runtime
from bot.text import NOTE_LIMIT
from bot.wording import require
from storage.inbox import NewEvent
from storage.instance import is_demo

logger = logging.getLogger(__name__)

WORDING_KEYS = (
    "webchat.title",
    "webchat.intro",
    "webchat.demo",
    "webchat.pick",
    "webchat.workers",
    "webchat.leads",
    "webchat.owners",
    "webchat.admins",
    "webchat.channels",
    "webchat.who_worker",
    "webchat.who_lead",
    "webchat.who_owner",
    "webchat.who_admin",
    "webchat.who_channel",
    "webchat.you_are",
    "webchat.someone_else",
    "webchat.placeholder",
    "webchat.send",
    "webchat.attach",
    "webchat.attached",
    "webchat.skip",
    "webchat.quick",
    "webchat.quick_checkin",
    "webchat.quick_help",
    "webchat.quick_mydata",
    "webchat.quick_digest",
    "webchat.quick_report",
    "webchat.quick_trends",
    "webchat.channel_note",
    "webchat.offline",
    "webchat.not_here",
    "webchat.unknown_person",
)
require(*WORDING_KEYS)

_HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
}
_STATIC = {"chat.js": "text/javascript", "chat.css": "text/css"}
KEEP_ALIVE_SECONDS = 15.0
FILES_LIMIT = 10
FILE_NAME_LIMIT = 200


@dataclass(frozen=True)
class Someone:
    """A person (or a channel) of the config one can be in the browser chat."""

    user: str
    group: str  # workers | leads | owners | admins | channels
    description: str

    @property
    def channel(self) -> bool:
        """A digest channel: read, not written in."""
        return self.group == "channels"


def people_of(runtime: Runtime) -> dict[str, Someone]:
    """Everyone the config names on the terminal chat's platform, with their role."""
    config, w = runtime.config, runtime.wording
    directory = runtime.engine.directory
    found: dict[str, Someone] = {}
    prefix = f"{PEOPLE_PLATFORM}:"
    for identity in directory.known_identities():
        if not identity.startswith(prefix):
            continue
        user = identity.removeprefix(prefix)
        roles = sorted(directory.roles_for(identity))
        cohort = directory.cohort_for(identity)
        team = config.cohorts[cohort].name or cohort if cohort else ""
        if any(role == "admin" for role, _ in roles):
            found[user] = Someone(user, "admins", w("webchat.who_admin", name=user))
        elif owned := [scope for role, scope in roles if role == "owner"]:
            names = ", ".join(config.programmes[p].name for p in owned)
            found[user] = Someone(
                user, "owners", w("webchat.who_owner", name=user, programme=names)
            )
        elif led := [scope for role, scope in roles if role == "lead"]:
            teams = ", ".join(config.cohorts[c].name or c for c in led)
            found[user] = Someone(user, "leads", w("webchat.who_lead", name=user, team=teams))
        else:
            found[user] = Someone(user, "workers", w("webchat.who_worker", name=user, team=team))
    for programme in config.programmes.values():
        platform, _, channel = programme.digest_destination.partition(":")
        if platform == PEOPLE_PLATFORM and channel and channel not in found:
            description = w("webchat.who_channel", name=channel, programme=programme.name)
            found[channel] = Someone(channel, "channels", description)
    return found


class WebChatPages:
    """The handlers of `/` and `/chat/…`."""

    def __init__(self, runtime: Runtime, conversations: Conversations) -> None:
        self.runtime = runtime
        self.conversations = conversations
        self.templates = page_templates("web")
        self.people = people_of(runtime)

    @web.middleware
    async def only_this_machine(self, request: web.Request, handler: Any) -> web.StreamResponse:
        """The chat lets anyone act as anyone: it answers this machine's browser only."""
        chat = request.path == "/" or request.path.startswith("/chat/")
        if chat and not is_direct_loopback(request.remote, request.headers):
            return self._plain(self.runtime.wording("webchat.not_here"), 403)
        response: web.StreamResponse = await handler(request)
        return response

    def _plain(self, message: str, status: int) -> web.Response:
        return web.Response(text=message, status=status, headers=_HEADERS)

    async def page(self, request: web.Request) -> web.Response:
        """The picker, or a person's chat (`/?as=ana`)."""
        w = self.runtime.wording
        chosen = request.query.get("as", "")
        someone = self.people.get(chosen) if chosen else None
        if chosen and someone is None:
            return self._plain(w("webchat.unknown_person"), 404)
        async with self.runtime.db.session() as session:
            demo = await is_demo(session)
        groups: dict[str, list[Someone]] = {}
        for person in sorted(self.people.values(), key=lambda found: found.user):
            groups.setdefault(person.group, []).append(person)
        order = ("workers", "leads", "owners", "admins", "channels")
        body = self.templates.get_template("chat.html").render(
            w=w,
            someone=someone,
            groups=[(name, groups[name]) for name in order if name in groups],
            demo=demo,
            limit=NOTE_LIMIT,
        )
        return web.Response(text=body, content_type="text/html", charset="utf-8", headers=_HEADERS)

    async def static(self, request: web.Request) -> web.Response:
        """The page's script and style, served by lastmile itself."""
        name = request.match_info["name"]
        if name not in _STATIC:
            raise web.HTTPNotFound()
        path = Path(str(resources.files("adapters") / "web" / "static" / name))
        text = await asyncio.to_thread(path.read_text, encoding="utf-8")
        return web.Response(
            text=text, content_type=_STATIC[name], charset="utf-8", headers=_HEADERS
        )

    async def events(self, request: web.Request) -> web.StreamResponse:
        """The conversation as server-sent events: everything so far, then each change."""
        someone = self.people.get(request.query.get("as", ""))
        if someone is None:
            raise web.HTTPNotFound()
        response = web.StreamResponse(
            headers={**_HEADERS, "Content-Type": "text/event-stream", "X-Accel-Buffering": "no"}
        )
        await response.prepare(request)
        queue = self.conversations.listen(someone.user)
        try:
            history = {"type": "history", "messages": self.conversations.history(someone.user)}
            await response.write(_event(history))
            while True:
                try:
                    change = await asyncio.wait_for(queue.get(), KEEP_ALIVE_SECONDS)
                except TimeoutError:
                    await response.write(b": still here\n\n")
                    continue
                if change is None:
                    break
                await response.write(_event(change))
        except (ConnectionResetError, asyncio.CancelledError):
            pass
        finally:
            self.conversations.stop_listening(someone.user, queue)
        return response

    async def _store(self, someone: Someone, payload: dict[str, Any]) -> web.Response:
        event = NewEvent(PLATFORM, payload["id"], f"{PEOPLE_PLATFORM}:{someone.user}", payload)
        try:
            await self.runtime.inbox.store(event)
        except InboxUnavailable:
            return web.json_response({"stored": False}, status=503, headers=_HEADERS)
        return web.json_response({"stored": True}, status=202, headers=_HEADERS)

    async def _body(self, request: web.Request) -> tuple[Someone, dict[str, Any]] | web.Response:
        # A JSON body cannot be posted by another site's form, only by this page's script.
        if request.content_type != "application/json":
            return self._plain("", 415)
        try:
            body = await request.json()
        except (ValueError, UnicodeDecodeError):
            return self._plain("", 400)
        someone = self.people.get(str(body.get("as", ""))) if isinstance(body, dict) else None
        if someone is None or someone.channel:
            return self._plain("", 404)
        return someone, body

    async def say(self, request: web.Request) -> web.Response:
        """Something the person wrote: shown at once, stored in the inbox, answered later."""
        found = await self._body(request)
        if isinstance(found, web.Response):
            return found
        someone, body = found
        text = str(body.get("text", "")).strip()[: NOTE_LIMIT * 2]
        files = _file_names(body.get("files"))
        if files is None or not (text or files):
            return self._plain("", 400)
        w = self.runtime.wording
        shown = "\n".join([text] * bool(text) + [w("webchat.attached", name=n) for n in files])
        self.conversations.add(someone.user, {"kind": "text", "text": shown}, sender="you")
        event_id = f"web-{uuid.uuid4()}"
        return await self._store(someone, typed(someone.user, event_id, text, files))

    async def tap(self, request: web.Request) -> web.Response:
        """A button the person tapped (or Skip on a question that wants words)."""
        found = await self._body(request)
        if isinstance(found, web.Response):
            return found
        someone, body = found
        token, value = str(body.get("token", "")), str(body.get("value", ""))
        if not token or not value:
            return self._plain("", 400)
        return await self._store(someone, tapped(someone.user, f"web-{uuid.uuid4()}", token, value))

    async def on_shutdown(self, _app: web.Application) -> None:
        """End every open event stream, so the server stops at once."""
        self.conversations.close()


def _file_names(listed: Any) -> tuple[str, ...] | None:
    """The names of the photos sent with a message (the page sends names, never the files:
    lastmile keeps only the words); None when the list is not a list of a few names."""
    if listed is None:
        return ()
    if not isinstance(listed, list) or len(listed) > FILES_LIMIT:
        return None
    if not all(isinstance(name, str) and name.strip() for name in listed):
        return None
    return tuple(name.strip()[:FILE_NAME_LIMIT] for name in listed)


def _event(data: dict[str, Any]) -> bytes:
    return f"data: {json.dumps(data, ensure_ascii=False)}\n\n".encode()


def mount_pages(app: web.Application, pages: WebChatPages) -> None:
    """Add `/` and `/chat/…` to the app."""
    app.middlewares.append(pages.only_this_machine)
    app.router.add_get("/", pages.page)
    app.router.add_get("/chat/events", pages.events)
    app.router.add_post("/chat/say", pages.say)
    app.router.add_post("/chat/tap", pages.tap)
    app.router.add_get("/chat/static/{name}", pages.static)
    app.on_shutdown.append(pages.on_shutdown)
