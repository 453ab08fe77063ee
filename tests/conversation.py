"""One conversation on any platform: the harness each conversation scenario is written against.

A scenario says what a person does (`say`, `tap`, `write`) and checks what they see
(`messages`, `buttons`) or what is stored; `Conversation` runs it on the terminal chat,
in the browser chat (JSON posts to lastmile's own web app, the page's messages), on Slack
(signed requests to lastmile's own web app, the real slack_sdk against a fake Web API) and
on Teams (real-shaped activities to `/api/messages`, the real botbuilder against a fake Bot
Connector). Everything goes through the inbox and the outbox, driven by hand
(`tests.support.settle`), so a scenario is deterministic.
"""

from __future__ import annotations

import base64
import json
import re
import tempfile
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from itertools import count
from pathlib import Path
from typing import Any, ClassVar

from aiohttp.test_utils import TestClient, TestServer

from adapters.local.chat import LocalChat
from adapters.slack.blocks import decode_value
from adapters.web.chat import WebSender
from bot.checkin_runner import open_checkin
from bot.config import Settings, example_config_path
from bot.outgoing import queue_checkin
from bot.runtime import Runtime
from lastmile.platforms import PLATFORMS
from lastmile.server import build_app, connect, runtime_for
from storage.models import Person
from storage.people import find_person
from tests.conftest import FakeClock
from tests.fakes.slack_signing import load_fixture, new_trigger_id, new_ts
from tests.fakes.teams_activities import PERSONAL_CONVERSATION_ID, USER_ID
from tests.fakes.teams_connector import SEND_OPERATIONS
from tests.slack_support import DANA, LEAD, OTHER, Harness, running
from tests.support import settle
from tests.teams_support import ALEX, TeamsBotUnderTest, card_actions, teams_bot, teams_settings

WHO = ("worker", "other", "lead", "owner", "stranger")
"""The people a scenario can act as: two workers of one team, its lead, the programme's
owner, and someone the config does not name."""

_ESCAPED = re.compile(r"\\(.)")


class Conversation(ABC):
    """A person's chat with lastmile on one platform."""

    platform: ClassVar[str]
    users: ClassVar[dict[str, str]]

    def __init__(self, runtime: Runtime, clock: FakeClock) -> None:
        self.runtime = runtime
        self.clock = clock
        self._slots = count(1)

    @abstractmethod
    async def say(self, text: str, who: str = "worker") -> list[str]:
        """Write `text` to the bot in the person's own chat; what the bot showed after."""

    @abstractmethod
    async def tap(self, label: str, who: str = "worker") -> list[str]:
        """Tap the newest button labelled `label` in the person's chat."""

    @abstractmethod
    async def write(self, text: str, who: str = "worker") -> list[str]:
        """Answer the open question that wants words, the way the platform offers it."""

    @abstractmethod
    async def send_file(self, caption: str, who: str = "worker") -> list[str]:
        """Send a photo with `caption` in the person's own chat."""

    @abstractmethod
    def files(self, who: str = "worker") -> list[bytes]:
        """The contents of the files lastmile sent the person, oldest first."""

    @abstractmethod
    def messages(self, who: str = "worker") -> list[str]:
        """The person's chat as it reads now, oldest first (updated messages as updated)."""

    @abstractmethod
    def buttons(self, who: str = "worker") -> list[str]:
        """Labels of every button still tappable anywhere in the person's chat."""

    @abstractmethod
    async def arrived(self, who: str = "worker") -> list[str]:
        """Let the background jobs run; what reached the person meanwhile."""

    async def meet(self, who: str) -> None:  # noqa: B027  (most platforms need nothing)
        """Whatever the platform does before lastmile can reach a person (Teams: the install)."""

    async def checkin(self, who: str = "worker") -> list[str]:
        """The scheduler asks the person now; what reached them."""
        await self.meet(who)
        now = self.runtime.clock()
        async with self.runtime.db.session() as session:
            found = await find_person(session, self.platform, self.users[who])
            assert found is not None, f"{who} is not known on {self.platform}"
            checkin = await open_checkin(
                session,
                found,
                self.runtime.config,
                kind="scheduled",
                slot=f"test:{next(self._slots)}",
                now=now,
            )
            assert checkin is not None
            config, wording = self.runtime.config, self.runtime.wordings
            await queue_checkin(session, found, checkin, config, wording, now)
        return await self.arrived(who)

    async def person(self, who: str = "worker") -> Person | None:
        """The stored person, if lastmile keeps one."""
        async with self.runtime.db.session() as session:
            return await find_person(session, self.platform, self.users[who])

    def said(self, fragment: str, who: str = "worker") -> bool:
        """True when some message in the person's chat contains `fragment`."""
        return any(fragment in message for message in self.messages(who))


# -- the terminal chat --------------------------------------------------------------------


class LocalConversation(Conversation):
    """`lastmile chat` for each person: numbered choices, typed lines."""

    platform = "local"
    users: ClassVar[dict[str, str]] = {
        "worker": "ana",
        "other": "ben",
        "lead": "lee",
        "owner": "olu",
        "stranger": "stranger",
    }

    def __init__(self, runtime: Runtime, clock: FakeClock, folder: Path) -> None:
        super().__init__(runtime, clock)
        self.folder = folder
        self.chats = {
            who: LocalChat(runtime, user, folder / user) for who, user in self.users.items()
        }

    def files(self, who: str = "worker") -> list[bytes]:
        saved = self.folder / self.users[who]
        return [path.read_bytes() for path in sorted(saved.glob("*.json"))]

    async def say(self, text: str, who: str = "worker") -> list[str]:
        return await self.chats[who].send(text)

    def _numbered(self, who: str) -> dict[str, str]:
        """The numbers the screen answers to now, by label."""
        screen = self.chats[who].screen
        tokens = {token for token, _value in screen.numbers.values()}
        found: dict[str, str] = {}
        for message in screen.messages:
            if message.token not in tokens:
                continue
            for line in message.lines:
                number, _, shown = line.strip().partition(". ")
                if number in screen.numbers and shown:
                    found[shown] = number
        return found

    async def tap(self, label: str, who: str = "worker") -> list[str]:
        screen = self.chats[who].screen
        number = self._numbered(who).get(label)
        if number is not None:
            return await self.chats[who].send(number)
        if screen.skip_token and label == self.runtime.wording("text.skip"):
            return await self.chats[who].send("0")  # "(type your answer, or 0 to skip)"
        raise AssertionError(f"no choice {label!r} on screen: {screen.lines[-8:]}")

    async def write(self, text: str, who: str = "worker") -> list[str]:
        assert self.chats[who].screen.text_token, "no question wants words right now"
        return await self.chats[who].send(text)

    async def send_file(self, caption: str, who: str = "worker") -> list[str]:
        return await self.chats[who].send(caption, files=("photo.jpg",))

    def messages(self, who: str = "worker") -> list[str]:
        return ["\n".join(message.lines) for message in self.chats[who].screen.messages]

    def buttons(self, who: str = "worker") -> list[str]:
        buttons = list(self._numbered(who))
        screen = self.chats[who].screen
        if screen.text_token:
            message = next(m for m in screen.messages if m.token == screen.text_token)
            buttons.append(self.runtime.wording("text.write"))
            if screen.skip_token and message:
                buttons.append(self.runtime.wording("text.skip"))
        return buttons

    async def arrived(self, who: str = "worker") -> list[str]:
        return await self.chats[who].deliver_pending()


# -- Slack ---------------------------------------------------------------------------------


def _block_texts(blocks: list[dict[str, Any]]) -> list[str]:
    texts: list[str] = []
    for block in blocks:
        kind = block.get("type")
        if kind in ("section", "header") and isinstance(block.get("text"), dict):
            texts.append(str(block["text"]["text"]))
        for field in block.get("fields") or []:
            texts.append(str(field.get("text", "")))
        if kind == "context":
            texts.extend(str(element.get("text", "")) for element in block.get("elements", []))
    return texts


def _slack_text(message: dict[str, Any]) -> str:
    blocks = message.get("blocks") or []
    shown = "\n".join(_block_texts(blocks)) if blocks else str(message.get("text", ""))
    return shown.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def _slack_buttons(message: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        element
        for block in message.get("blocks") or []
        if block.get("type") == "actions"
        for element in block.get("elements", [])
        if element.get("type") == "button"
    ]


class SlackConversation(Conversation):
    """Each person's DM with the Slack app, over signed HTTP requests."""

    platform = "slack"
    users: ClassVar[dict[str, str]] = {
        "worker": DANA,
        "other": OTHER,
        "lead": LEAD,
        "owner": "U0OWNER001",
        "stranger": "U0STRANGER",
    }

    def __init__(self, harness: Harness) -> None:
        super().__init__(harness.runtime, harness.clock)
        self.slack = harness
        self._views_seen: set[str] = set()

    def _dm(self, who: str) -> list[tuple[str, dict[str, Any]]]:
        channel = self.slack.fake.dm_channel_for(self.users[who])
        found = [(ts, m) for (where, ts), m in self.slack.fake.messages.items() if where == channel]
        return sorted(found, key=lambda item: float(item[0]))

    def _state(self, who: str) -> tuple[dict[str, str], int]:
        shown = {ts: json.dumps(message, sort_keys=True) for ts, message in self._dm(who)}
        return shown, len(self.slack.fake.calls("response_url"))

    def _since(self, before: tuple[dict[str, str], int], who: str) -> list[str]:
        shown, answered = before
        fresh = [
            _slack_text(message)
            for ts, message in self._dm(who)
            if shown.get(ts) != json.dumps(message, sort_keys=True)
        ]
        for call in self.slack.fake.calls("response_url")[answered:]:
            fresh.append(_slack_text(call.params))
        return fresh

    async def say(self, text: str, who: str = "worker") -> list[str]:
        before = self._state(who)
        await self.slack.send("events", self.slack.dm_payload(text, user=self.users[who]))
        return self._since(before, who)

    async def send_file(self, caption: str, who: str = "worker") -> list[str]:
        before = self._state(who)
        payload = self.slack.dm_payload(caption, user=self.users[who])
        payload["event"].update(
            subtype="file_share",
            files=[{"id": "F0PHOTO001", "name": "photo.jpg", "mimetype": "image/jpeg"}],
        )
        await self.slack.send("events", payload)
        return self._since(before, who)

    def _newest_button(self, who: str, label: str) -> tuple[str, dict[str, Any], dict[str, Any]]:
        for ts, message in reversed(self._dm(who)):
            for element in _slack_buttons(message):
                if element["text"]["text"] == label:
                    return ts, message, element
        raise AssertionError(f"no button {label!r} in {self.users[who]}'s DM")

    async def tap(self, label: str, who: str = "worker") -> list[str]:
        ts, message, element = self._newest_button(who, label)
        before = self._state(who)
        channel = self.slack.fake.dm_channel_for(self.users[who])
        payload: dict[str, Any] = load_fixture("block_actions.json")
        user = self.users[who]
        payload["user"].update(id=user, username=user.lower(), name=user.lower())
        payload["container"].update(message_ts=ts, channel_id=channel)
        payload["channel"]["id"] = channel
        payload["message"].update(ts=ts, text=message.get("text", ""), blocks=message["blocks"])
        payload["trigger_id"] = new_trigger_id()
        payload["response_url"] = self.slack.fake.response_url("actions")
        payload["actions"] = [
            {
                "action_id": element["action_id"],
                "block_id": "lastmile.options",
                "text": element["text"],
                "value": element["value"],
                "type": "button",
                "action_ts": new_ts(),
            }
        ]
        await self.slack.send("interactive", payload)
        return self._since(before, who)

    def _open_view(self) -> str | None:
        for call in reversed(self.slack.fake.calls("views.open")):
            view_id = str((call.response or {}).get("view", {}).get("id", ""))
            if view_id and view_id not in self._views_seen:
                return view_id
        return None

    async def write(self, text: str, who: str = "worker") -> list[str]:
        view_id = self._open_view()
        if view_id is None:
            # A question that wants words has a "Write it…" button that opens the form.
            writes = [
                element["text"]["text"]
                for _ts, message in self._dm(who)
                for element in _slack_buttons(message)
                if element["action_id"] == "lastmile.write"
            ]
            assert writes, "no question wants words right now"
            await self.tap(writes[-1], who)
            view_id = self._open_view()
        assert view_id is not None, "no form opened for the question"
        self._views_seen.add(view_id)
        before = self._state(who)
        await self.slack.send(
            "interactive", self.slack.submit_payload(view_id, text, user=self.users[who])
        )
        return self._since(before, who)

    def files(self, who: str = "worker") -> list[bytes]:
        channel = self.slack.fake.dm_channel_for(self.users[who])
        return [
            file.content or b""
            for file in self.slack.fake.files.values()
            if file.completed and channel in (file.channels or [file.channel_id])
        ]

    def messages(self, who: str = "worker") -> list[str]:
        return [_slack_text(message) for _ts, message in self._dm(who)]

    def buttons(self, who: str = "worker") -> list[str]:
        return [
            element["text"]["text"]
            for _ts, message in self._dm(who)
            for element in _slack_buttons(message)
            if decode_value(element["value"]).get("t") or element["action_id"]
        ]

    async def arrived(self, who: str = "worker") -> list[str]:
        before = self._state(who)
        await self.slack.settle()
        return self._since(before, who)


# -- Teams ---------------------------------------------------------------------------------


def _teams_text(activity: dict[str, Any]) -> str:
    parts = [str(activity.get("text") or "")]
    for attachment in activity.get("attachments") or []:
        parts.extend(_card_texts(attachment.get("content") or {}))
    shown = "\n".join(part for part in parts if part)
    return (
        _ESCAPED.sub(r"\1", shown).replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
    )


def _card_texts(node: Any) -> list[str]:
    if isinstance(node, list):
        return [text for item in node for text in _card_texts(item)]
    if not isinstance(node, dict):
        return []
    found = [str(node["text"])] if node.get("type") == "TextBlock" else []
    for key in ("body", "items", "columns"):
        found += _card_texts(node.get(key))
    return found


class TeamsConversation(Conversation):
    """Each person's 1:1 chat with the Teams app, as activities from the Teams client."""

    platform = "teams"
    users: ClassVar[dict[str, str]] = {
        "worker": USER_ID,
        "other": ALEX.id,
        "lead": "29:1OwnerOluTeamsId",
        "owner": "29:1OwnerOluTeamsId",
        "stranger": "29:1StrangerTeamsId",
    }

    def __init__(self, bot: TeamsBotUnderTest) -> None:
        super().__init__(bot.runtime, bot.runtime.clock)  # type: ignore[arg-type]
        self.bot = bot
        self.refreshed: dict[str, tuple[int, dict[str, Any]]] = {}
        """Cards replaced by an invoke response, by activity id: when (how many connector
        requests had been made), and the card."""
        self._installed: set[str] = set()

    def _conversation(self, who: str) -> str:
        if who == "worker":
            return PERSONAL_CONVERSATION_ID
        return f"a:1personal-chat-with-{self.users[who].replace(':', '-')}"

    def _overrides(self, who: str) -> dict[str, Any]:
        return {
            "from": {"id": self.users[who], "name": who.title()},
            "conversation": {"id": self._conversation(who)},
        }

    async def meet(self, who: str) -> None:
        await self._install(who)

    async def _install(self, who: str) -> None:
        if who not in self._installed:
            self._installed.add(who)
            await self.bot.post(
                "conversation_update_members_added_personal", **self._overrides(who)
            )

    def _chat(self, who: str) -> list[tuple[str, dict[str, Any]]]:
        """Every activity in the person's chat, by id, as it reads now: sends, updates,
        deletes and invoke refreshes applied in the order they happened."""
        shown: dict[str, dict[str, Any]] = {}
        conversation = self._conversation(who)
        calls = self.bot.connector.requests(conversation_id=conversation)
        refreshes = sorted(self.refreshed.items(), key=lambda item: item[1][0])
        for index, call in enumerate([*calls, None]):
            for activity_id, (at, content) in refreshes:
                if at == index and activity_id in shown:
                    shown[activity_id] = content
            if call is None or not call.succeeded:
                continue
            if call.operation in SEND_OPERATIONS:
                shown[str(call.response["id"])] = call.body
            elif call.operation == "update" and call.activity_id in shown:
                shown[str(call.activity_id)] = call.body
            elif call.operation == "delete":
                shown.pop(str(call.activity_id), None)
        return list(shown.items())

    def _since(self, before: dict[str, str], who: str) -> list[str]:
        return [
            _teams_text(activity)
            for activity_id, activity in self._chat(who)
            if before.get(activity_id) != json.dumps(activity, sort_keys=True)
        ]

    def _state(self, who: str) -> dict[str, str]:
        return {key: json.dumps(value, sort_keys=True) for key, value in self._chat(who)}

    async def say(self, text: str, who: str = "worker") -> list[str]:
        await self._install(who)
        before = self._state(who)
        await self.bot.post("message_personal", text=text, **self._overrides(who))
        return self._since(before, who)

    async def send_file(self, caption: str, who: str = "worker") -> list[str]:
        await self._install(who)
        before = self._state(who)
        photo = {
            "contentType": "image/*",
            "contentUrl": "https://smba.trafficmanager.net/amer/v3/attachments/0-photo/views/original",
            "name": "photo.jpg",
        }
        await self.bot.post(
            "message_personal", text=caption, attachments=[photo], **self._overrides(who)
        )
        return self._since(before, who)

    def _newest_action(self, who: str, title: str) -> tuple[str, dict[str, Any]]:
        for activity_id, activity in reversed(self._chat(who)):
            for attachment in activity.get("attachments") or []:
                for action in card_actions(attachment.get("content") or {}):
                    if action.get("title") == title:
                        return activity_id, action
        raise AssertionError(f"no button {title!r} in {who}'s Teams chat")

    async def _execute(self, who: str, activity_id: str, data: dict[str, Any]) -> list[str]:
        before = self._state(who)
        invoke = self.bot.activity(
            "invoke_adaptive_card_action",
            reply_to_id=activity_id,
            value={"action": {"type": "Action.Execute", "verb": "lastmile", "data": data}},
            **self._overrides(who),
        )
        answered_at = len(self.bot.connector.requests(conversation_id=self._conversation(who)))
        result = await self.bot.post(invoke)
        assert result.status == 200, result
        body = result.body or {}
        if body.get("type") == "application/vnd.microsoft.card.adaptive":
            # The refresh took effect when the invoke was answered, before its follow-ups.
            self.refreshed[activity_id] = (
                answered_at,
                {
                    "type": "message",
                    "attachments": [
                        {
                            "contentType": "application/vnd.microsoft.card.adaptive",
                            "content": body["value"],
                        }
                    ],
                },
            )
        shown = self._since(before, who)
        if body.get("type") == "application/vnd.microsoft.activity.message" and body.get("value"):
            shown.insert(0, str(body["value"]))
        return shown

    async def tap(self, label: str, who: str = "worker") -> list[str]:
        activity_id, action = self._newest_action(who, label)
        return await self._execute(who, activity_id, dict(action["data"]))

    async def write(self, text: str, who: str = "worker") -> list[str]:
        for activity_id, activity in reversed(self._chat(who)):
            for attachment in activity.get("attachments") or []:
                content = attachment.get("content") or {}
                inputs = [
                    node for node in content.get("body", []) if node.get("type") == "Input.Text"
                ]
                submit = [a for a in card_actions(content) if "value" not in a.get("data", {})]
                if inputs and submit:
                    data = {**submit[0]["data"], inputs[0]["id"]: text}
                    return await self._execute(who, activity_id, data)
        raise AssertionError("no card asks for words")

    def files(self, who: str = "worker") -> list[bytes]:
        # Teams shows the file's contents in the card (a bot cannot attach a file there).
        return [
            str(block["text"]).encode("utf-8")
            for _id, activity in self._chat(who)
            for attachment in activity.get("attachments") or []
            for block in (attachment.get("content") or {}).get("body", [])
            if block.get("fontType") == "Monospace"
        ]

    def messages(self, who: str = "worker") -> list[str]:
        return [_teams_text(activity) for _id, activity in self._chat(who)]

    def buttons(self, who: str = "worker") -> list[str]:
        return [
            str(action.get("title"))
            for _id, activity in self._chat(who)
            for attachment in activity.get("attachments") or []
            for action in card_actions(attachment.get("content") or {})
        ]

    async def arrived(self, who: str = "worker") -> list[str]:
        await self._install(who)
        before = self._state(who)
        await settle(self.runtime)
        return self._since(before, who)


# -- the browser chat -----------------------------------------------------------------------


def _web_text(message: dict[str, Any]) -> str:
    if message.get("kind") == "report":
        parts = [message["title"]]
        for section in message["sections"]:
            parts.append(section["heading"])
            parts += [f"{label}: {value}" for label, value in section["facts"]]
            parts += section["lines"]
        parts.append(message.get("footer") or "")
        shown = "\n".join(part for part in parts if part)
    elif message.get("kind") == "file":
        shown = f"{message['title']} ({message['filename']})"
    else:
        shown = str(message.get("text") or "")
    if message.get("answered"):
        shown += f"\n✓ {message['answered']}"
    return shown


class WebConversation(Conversation):
    """Each person's browser chat: JSON posts to lastmile's own web app, the page's messages."""

    platform = "local"
    users: ClassVar[dict[str, str]] = LocalConversation.users

    def __init__(self, runtime: Runtime, clock: FakeClock, client: Any) -> None:
        super().__init__(runtime, clock)
        self.client = client
        sender = runtime.platforms["web"].sender
        assert isinstance(sender, WebSender)
        self.pages = sender.conversations

    def _history(self, who: str) -> list[dict[str, Any]]:
        return [m for m in self.pages.history(self.users[who]) if m["from"] == "bot"]

    def _state(self, who: str) -> dict[int, str]:
        return {m["id"]: json.dumps(m, sort_keys=True) for m in self._history(who)}

    def _since(self, before: dict[int, str], who: str) -> list[str]:
        return [
            _web_text(m)
            for m in self._history(who)
            if before.get(m["id"]) != json.dumps(m, sort_keys=True)
        ]

    async def _post(self, path: str, who: str, **body: Any) -> list[str]:
        before = self._state(who)
        answer = await self.client.post(path, json={"as": self.users[who], **body})
        assert answer.status == 202, await answer.text()
        await settle(self.runtime)
        return self._since(before, who)

    async def say(self, text: str, who: str = "worker") -> list[str]:
        return await self._post("/chat/say", who, text=text)

    async def tap(self, label: str, who: str = "worker") -> list[str]:
        for message in reversed(self._history(who)):
            if message.get("answered"):
                continue
            for option in message.get("options") or []:
                if option["label"] == label:
                    return await self._post(
                        "/chat/tap", who, token=message["token"], value=option["value"]
                    )
            if message.get("kind") == "words" and message.get("skip") == label:
                return await self._post("/chat/tap", who, token=message["token"], value="skip")
        raise AssertionError(f"no button {label!r} in {who}'s browser chat")

    async def send_file(self, caption: str, who: str = "worker") -> list[str]:
        return await self._post("/chat/say", who, text=caption, files=["photo.jpg"])

    def files(self, who: str = "worker") -> list[bytes]:
        return [
            base64.b64decode(m["href"].split(",", 1)[1])
            for m in self._history(who)
            if m.get("kind") == "file"
        ]

    async def write(self, text: str, who: str = "worker") -> list[str]:
        asking = [
            m for m in self._history(who) if m.get("kind") == "words" and not m.get("answered")
        ]
        assert asking, "no question wants words right now"
        return await self.say(text, who)

    def messages(self, who: str = "worker") -> list[str]:
        return [_web_text(message) for message in self._history(who)]

    def buttons(self, who: str = "worker") -> list[str]:
        labels: list[str] = []
        for message in self._history(who):
            if message.get("answered"):
                continue
            labels += [option["label"] for option in message.get("options") or []]
            if message.get("kind") == "words" and message.get("skip"):
                labels.append(message["skip"])
        return labels

    async def arrived(self, who: str = "worker") -> list[str]:
        before = self._state(who)
        await settle(self.runtime)
        return self._since(before, who)


@asynccontextmanager
async def conversation(
    platform: str, database_url: str, clock: FakeClock
) -> AsyncIterator[Conversation]:
    """A conversation on `platform`, on a fresh lastmile and platform fake."""
    if platform == "local":
        settings = Settings(
            database_url=database_url,
            lastmile_config=example_config_path(),
            _env_file=None,  # type: ignore[call-arg]
        )
        runtime = await runtime_for(settings, clock=clock)
        connect(runtime, None, {"local": PLATFORMS["local"]})
        try:
            with tempfile.TemporaryDirectory() as folder:
                yield LocalConversation(runtime, clock, Path(folder))
        finally:
            await runtime.close()
    elif platform == "web":
        settings = Settings(
            database_url=database_url,
            lastmile_config=example_config_path(),
            _env_file=None,  # type: ignore[call-arg]
        )
        runtime = await runtime_for(settings, clock=clock)
        app = build_app(runtime, {name: PLATFORMS[name] for name in ("local", "web")})
        try:
            async with TestClient(TestServer(app)) as client:
                yield WebConversation(runtime, clock, client)
        finally:
            await runtime.close()
    elif platform == "slack":
        async with running(database_url, clock) as harness:
            yield SlackConversation(harness)
    else:
        async with teams_bot(teams_settings(database_url), clock) as bot:
            yield TeamsConversation(bot)
