"""Renders engine replies as numbered plain-text options for a terminal."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from bot.replies import (
    Answered,
    Choices,
    Confirm,
    Image,
    Reply,
    Report,
    Text,
    TextRequest,
    as_plain_text,
)


@dataclass
class Screen:
    """What the terminal shows, and which number picks which answer."""

    lines: list[str] = field(default_factory=list)
    numbers: dict[str, tuple[str, str]] = field(default_factory=dict)
    text_token: str = ""
    skip_token: str = ""


def render(replies: list[Reply], screen: Screen, image_dir: Path) -> Screen:
    """Add replies to the screen; the newest question's numbers replace older ones."""
    for reply in replies:
        if isinstance(reply, Text):
            screen.lines.append(reply.text)
        elif isinstance(reply, Answered):
            screen.lines.append(f"  ✓ {reply.summary}")
            if screen.text_token == reply.token:
                screen.text_token = screen.skip_token = ""
            if any(token == reply.token for token, _ in screen.numbers.values()):
                screen.numbers = {}
        elif isinstance(reply, Choices | Confirm):
            options = reply.options if isinstance(reply, Choices) else (reply.yes, reply.no)
            screen.lines.append(reply.text)
            screen.numbers = {}
            for number, option in enumerate(options, start=1):
                screen.numbers[str(number)] = (reply.token, option.value)
                screen.lines.append(f"  {number}. {option.label}")
            screen.text_token = screen.skip_token = ""
        elif isinstance(reply, TextRequest):
            screen.lines.append(reply.prompt)
            screen.numbers = {}
            screen.text_token = reply.token
            if reply.skip_label:
                screen.skip_token = reply.token
                screen.lines.append(f"  (type your answer, or 0 to {reply.skip_label.lower()})")
        elif isinstance(reply, Report):
            screen.lines.append(as_plain_text(reply))
            if reply.chart is not None:
                render([reply.chart], screen, image_dir)
        elif isinstance(reply, Image):
            image_dir.mkdir(parents=True, exist_ok=True)
            name = re.sub(r"[^a-z0-9]+", "-", reply.title.lower()).strip("-") or "image"
            path = image_dir / f"{name}.png"
            path.write_bytes(reply.png)
            screen.lines.append(f"[{reply.title}: {path}] {reply.alt_text}")
    return screen
