"""Renders engine replies as numbered plain-text options for a terminal.

The screen keeps each message apart, so a check-in's next step replaces its message
(the terminal prints the new version) and the transcript holds one message per check-in.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import assert_never

from bot.replies import (
    Answered,
    Choices,
    Confirm,
    File,
    Image,
    Replace,
    Reply,
    Report,
    Status,
    Text,
    TextRequest,
    as_plain_text,
)
from bot.wording import Wording


@dataclass
class Shown:
    """One message on the screen, and the question token it carries."""

    lines: list[str]
    token: str = ""


@dataclass
class Screen:
    """What the terminal shows, and which number picks which answer."""

    messages: list[Shown] = field(default_factory=list)
    numbers: dict[str, tuple[str, str]] = field(default_factory=dict)
    text_token: str = ""
    skip_token: str = ""

    @property
    def lines(self) -> list[str]:
        """Every line on the screen, oldest first."""
        return [line for message in self.messages for line in message.lines]


def _asked(reply: Text | Choices | TextRequest | Confirm, screen: Screen, w: Wording) -> Shown:
    """A question's lines; its numbers (or its words) become the ones the screen answers."""
    match reply:
        case Text():
            return Shown(reply.text.split("\n"))
        case Choices() | Confirm():
            options = reply.options if isinstance(reply, Choices) else (reply.yes, reply.no)
            lines = reply.text.split("\n")
            screen.numbers = {}
            for number, option in enumerate(options, start=1):
                screen.numbers[str(number)] = (reply.token, option.value)
                lines.append(f"  {number}. {option.label}")
            screen.text_token = screen.skip_token = ""
            return Shown(lines, reply.token)
        case TextRequest():
            lines = reply.prompt.split("\n")
            screen.numbers = {}
            screen.text_token = reply.token
            screen.skip_token = reply.token if reply.skip_label else ""
            lines.append("  " + w("local.note_hint" if reply.optional else "local.skip_hint"))
            return Shown(lines, reply.token)
        case _:
            assert_never(reply)


def _forget_token(screen: Screen, token: str) -> None:
    if screen.text_token == token:
        screen.text_token = screen.skip_token = ""
    if any(found == token for found, _ in screen.numbers.values()):
        screen.numbers = {}


def render(replies: list[Reply], screen: Screen, image_dir: Path, w: Wording) -> list[str]:
    """Show replies on the screen; return the lines to print (new or updated messages)."""
    printed: list[str] = []
    for reply in replies:
        shown: Shown | None = None
        match reply:
            case Text():
                shown = Shown(reply.text.split("\n"))
            case Answered():
                shown = Shown([f"  ✓ {reply.summary}"])
                _forget_token(screen, reply.token)
            case Replace():
                _forget_token(screen, reply.token)
                new = _asked(reply.reply, screen, w)
                old = [m for m in screen.messages if m.token and m.token == reply.token]
                if old and not reply.resend:
                    old[-1].lines, old[-1].token = new.lines, new.token
                    printed += new.lines
                    continue
                screen.messages = [m for m in screen.messages if m not in old]
                shown = new
            case Choices() | Confirm() | TextRequest():
                shown = _asked(reply, screen, w)
            case Report():
                shown = Shown(as_plain_text(reply).split("\n"))
                if reply.chart is not None:
                    shown.lines.append(_saved(reply.chart, image_dir, w))
            case Image():
                shown = Shown([_saved(reply, image_dir, w)])
            case File():
                shown = Shown([_saved(reply, image_dir, w)])
            case Status():
                shown = Shown(as_plain_text(reply).split("\n"))
            case _:
                assert_never(reply)
        screen.messages.append(shown)
        printed += shown.lines
    return printed


def _saved(item: Image | File, folder: Path, w: Wording) -> str:
    folder.mkdir(parents=True, exist_ok=True)
    if isinstance(item, Image):
        name = re.sub(r"[^a-z0-9]+", "-", item.title.lower()).strip("-") or "image"
        path = folder / f"{name}.png"
        path.write_bytes(item.png)
        return f"{w('local.file_saved', title=item.title, path=path)} {item.alt_text}"
    path = folder / item.filename
    path.write_bytes(item.content)
    return w("local.file_saved", title=item.title, path=path)
