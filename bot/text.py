"""What people type, made safe to keep: no control characters, and within the length kept."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

NOTE_LIMIT = 4000
"""Characters kept of a volunteered note."""

_KEPT_CONTROLS = frozenset("\n\t")


@dataclass(frozen=True)
class Cleaned:
    """Text ready to store, and whether it had to be shortened to fit."""

    text: str
    shortened: bool = False


def clean(text: str, limit: int) -> Cleaned:
    """Drop control characters (NUL among them: PostgreSQL refuses it) and cut to `limit`.

    Line breaks and tabs stay; carriage returns become line breaks.

    Args:
        text: what the person wrote, as the platform delivered it.
        limit: the most characters kept.

    Returns:
        The text to store, stripped, with `shortened` set when it was cut.
    """
    unified = text.replace("\r\n", "\n").replace("\r", "\n")
    kept = "".join(
        character
        for character in unified
        if character in _KEPT_CONTROLS or unicodedata.category(character) != "Cc"
    ).strip()
    if len(kept) <= limit:
        return Cleaned(kept)
    return Cleaned(kept[:limit].rstrip(), shortened=True)
