"""Payloads the browser chat stores in the inbox, and what they mean: pure functions.

The browser chat speaks as the terminal chat's people (`local:ana`), so the example
config works in both: its payloads have the terminal's shape and meaning, and only the
inbox row's platform (`web`) says that replies go back to a browser.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from adapters.local.inbound import PLATFORM as PEOPLE_PLATFORM
from adapters.local.inbound import tapped, translate, typed
from bot.platform import Inbound

PLATFORM = "web"

__all__ = ["PEOPLE_PLATFORM", "PLATFORM", "tapped", "typed", "web_translate"]


def web_translate(payload: Mapping[str, Any]) -> Inbound | None:
    """What a browser payload means: the same as the terminal chat's."""
    return translate(payload)
