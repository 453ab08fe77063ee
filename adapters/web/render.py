"""Engine replies as the browser chat's messages: plain JSON data the page draws itself."""

from __future__ import annotations

import base64
from dataclasses import asdict
from typing import Any, assert_never

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

Message = dict[str, Any]


def _image(image: Image) -> Message:
    data = base64.b64encode(image.png).decode("ascii")
    return {"src": f"data:image/png;base64,{data}", "title": image.title, "alt": image.alt_text}


def _file(file: File) -> Message:
    data = base64.b64encode(file.content).decode("ascii")
    return {
        "href": f"data:{file.mime};base64,{data}",
        "filename": file.filename,
        "title": file.title,
    }


def message_of(reply: Reply) -> Message | None:
    """The browser's message for a reply; None for `Answered` and `Replace`, which change
    an earlier one (see `Conversations`)."""
    match reply:
        case Text():
            return {"kind": "text", "text": reply.text}
        case Choices():
            options = [asdict(option) for option in reply.options]
            return {"kind": "choices", "text": reply.text, "token": reply.token, "options": options}
        case Confirm():
            options = [asdict(reply.yes), asdict(reply.no)]
            return {"kind": "choices", "text": reply.text, "token": reply.token, "options": options}
        case TextRequest():
            return {
                "kind": "words",
                "text": reply.prompt,
                "token": reply.token,
                "skip": reply.skip_label,
                "max_length": reply.max_length,
            }
        case Image():
            return {"kind": "image", **_image(reply)}
        case Report():
            return {
                "kind": "report",
                "title": reply.title,
                "sections": [
                    {
                        "heading": section.heading,
                        "facts": [list(fact) for fact in section.facts],
                        "lines": list(section.lines),
                    }
                    for section in reply.sections
                ],
                "chart": _image(reply.chart) if reply.chart is not None else None,
                "footer": reply.footer,
            }
        case Status():
            return {"kind": "text", "text": as_plain_text(reply)}
        case File():
            return {"kind": "file", **_file(reply)}
        case Answered() | Replace():
            return None
        case _:
            assert_never(reply)
