"""A theme's readable label (a phrase someone wrote) and its short, stable slug."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from bot.digest.scrub import PLACEHOLDERS, scrub

LABEL_CHARACTERS = 80
_WORD = re.compile(r"[^\W\d_]+")
_STOP_WORDS = (
    "a an the it its i im my me we our us to of in on at for and or but so is was are be "
    "been too very just again had have has got get do did does dont didnt doesnt cant "
    "couldnt wont wouldnt not no with from by as that this there then than when into out "
    "up down all every"
)
_SLUG_STOP = frozenset(_STOP_WORDS.split())


def label_from(candidates: Sequence[str]) -> str:
    """The first candidate that reads as a label: 2 to 14 words once scrubbed, cut short.

    A phrase with nothing scrubbed out is preferred; failing that, the scrubbed phrase
    with its placeholders ("[phone]") is used, so it still reads as written.

    Args:
        candidates: texts of a theme, nearest its centre first.

    Returns:
        The phrase (scrubbed, without trailing punctuation), or "" when none fits.
    """
    readable: list[str] = []
    for text in candidates:
        cleaned = re.sub(r"\s+", " ", scrub(text)).strip(" .,;:!?-")
        words = len(_WORD.findall(PLACEHOLDERS.sub("", cleaned)))
        if cleaned and 2 <= words <= 14:
            if not PLACEHOLDERS.search(cleaned):
                return _cut(cleaned)
            readable.append(cleaned)
    if readable:
        return _cut(readable[0])
    for text in candidates:
        cleaned = re.sub(r"\s+", " ", PLACEHOLDERS.sub("", scrub(text))).strip(" .,;:!?-")
        if cleaned:
            return _cut(cleaned)
    return ""


def _cut(text: str) -> str:
    if len(text) <= LABEL_CHARACTERS:
        return text
    cut = text[:LABEL_CHARACTERS].rsplit(" ", 1)[0]
    return cut.rstrip(" .,;:!?-") + "…"


def slug_for(label: str, taken: Iterable[str]) -> str:
    """A short slug from a label's first meaningful words, unique among `taken`."""
    used = set(taken)
    words = [word for word in _WORD.findall(label.lower()) if word not in _SLUG_STOP]
    words = words or ["theme"]
    for size in (2, 3, 4):
        slug = "-".join(words[:size])[:40].strip("-")
        if slug and slug not in used:
            return slug
    base = "-".join(words[:2])[:36]
    number = 2
    while f"{base}-{number}" in used:
        number += 1
    return f"{base}-{number}"
