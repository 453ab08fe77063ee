"""What people type, understood: a choice at a button step, small talk, a date to pause to.

Pure functions over the person's wording (their locale's words for "hi", "weeks", …)
and Babel's names of weekdays and months in their language.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, timedelta
from enum import StrEnum
from typing import Any

from babel.core import UnknownLocaleError
from babel.dates import get_day_names, get_month_names

from bot.wording import Wording, language_of

MIN_PREFIX = 3
"""A typed prefix shorter than this ("a", "no") must be a whole label to count."""
MAX_PAUSE = timedelta(days=366)

_COMPACT = re.compile(r"^(\d{1,3})\s*([dw])$")
_ISO = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")
_NUMBER = re.compile(r"^(\d{1,4})(?:st|nd|rd|th|\.|º|°)?$")


def normal(text: str) -> str:
    """Case-folded, accents and punctuation gone, spaces single: "¡Hola!" → "hola"."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    kept = "".join(
        char if char.isalnum() or char.isspace() else " "
        for char in decomposed
        if not unicodedata.combining(char)
    )
    return " ".join(kept.split())


def word_list(w: Wording, key: str) -> list[str]:
    """A comma-separated list of words from the wording, normalised."""
    return [normal(item) for item in w(key).split(",") if normal(item)]


def choose(typed: str, options: Sequence[tuple[str, str]]) -> str | None:
    """The option a typed reply picks: its number, its label, or an unambiguous prefix of
    the label or of a word in it ("colleague" for "Asked a colleague").

    Args:
        typed: what the person wrote.
        options: (value, label) of each button, in the order shown.

    Returns:
        The option's value, or None when the text picks none (or more than one).
    """
    text = normal(typed)
    if not text:
        return None
    if text.isdigit():
        index = int(text) - 1
        return options[index][0] if 0 <= index < len(options) else None
    labels = [(value, normal(label)) for value, label in options]
    exact = [value for value, label in labels if label == text]
    if exact:
        return exact[0]
    if len(text) < MIN_PREFIX:
        return None
    found = [value for value, label in labels if _starts_a_word(label, text)]
    return found[0] if len(found) == 1 else None


def _starts_a_word(label: str, text: str) -> bool:
    words = label.split()
    return any(" ".join(words[at:]).startswith(text) for at in range(len(words)))


class SmallTalk(StrEnum):
    """Messages that are not feedback: answered kindly, never stored."""

    GREETING = "greeting"
    THANKS = "thanks"
    QUESTION = "question"


def small_talk(typed: str, w: Wording) -> SmallTalk | None:
    """Whether a message is a greeting, a thank-you or a bare question mark."""
    stripped = typed.strip()
    if stripped and all(char in "?¿!. " for char in stripped) and "?" in stripped:
        return SmallTalk.QUESTION
    text = normal(typed)
    if not text:
        return None
    words = text.split()
    for kind, key in (
        (SmallTalk.GREETING, "understand.greetings"),
        (SmallTalk.THANKS, "understand.thanks"),
    ):
        phrases = word_list(w, key)
        if text in phrases:
            return kind
        # "hi there", "thanks a lot": a known phrase and at most two more words.
        if len(words) <= 3 and any(text.startswith(phrase + " ") for phrase in phrases):
            return kind
    if text in word_list(w, "understand.questions"):
        return SmallTalk.QUESTION
    return None


def _names(locale: str) -> tuple[dict[int, list[str]], dict[int, list[str]]]:
    """Every name of each weekday (Monday = 0) and month (January = 1) in the language."""
    try:
        day_tables = [
            get_day_names("wide", "format", locale),
            get_day_names("abbreviated", "format", locale),
            get_day_names("wide", "stand-alone", locale),
        ]
        month_tables = [
            get_month_names("wide", "format", locale),
            get_month_names("abbreviated", "format", locale),
            get_month_names("wide", "stand-alone", locale),
            get_month_names("abbreviated", "stand-alone", locale),
        ]
    except UnknownLocaleError:
        return _names("en")
    return _by_key(day_tables), _by_key(month_tables)


def _by_key(tables: Iterable[Mapping[Any, Any]]) -> dict[int, list[str]]:
    found: dict[int, list[str]] = {}
    for table in tables:
        for key, name in table.items():
            found.setdefault(int(key), []).append(normal(str(name)))
    return found


def _named(word: str, names: dict[int, list[str]]) -> int | None:
    """The weekday or month a word names, by its first three letters ("piątku", "dec")."""
    if len(word) < MIN_PREFIX or not word.isalpha():
        return None
    found = {
        key
        for key, forms in names.items()
        for form in forms
        if form[:MIN_PREFIX] == word[:MIN_PREFIX] or form == word
    }
    return found.pop() if len(found) == 1 else None


def _number(word: str, w: Wording) -> int | None:
    match = _NUMBER.match(word)
    if match:
        return int(match[1])
    spelled = word_list(w, "understand.numbers")
    return spelled.index(word) + 1 if word in spelled else None


def parse_pause(args: str, today: date, w: Wording) -> date | None:
    """The day check-ins start again, from what followed `pause`.

    Reads `1w`, `3d`, `2 weeks`, `a week`, `until friday`, `till 24 Dec`, `until
    2026-12-24`, `tomorrow`, in the person's language (`pausa 2 semanas`, `pauza do
    piątku`).

    Returns:
        The date to resume on, or None when the words name no day.
    """
    filler = set(word_list(w, "understand.filler"))
    words = [word for word in normal(args.replace("-", " - ")).split() if word not in filler]
    iso = _ISO.match(args.strip().split()[-1]) if args.strip() else None
    if iso:
        try:
            return date(int(iso[1]), int(iso[2]), int(iso[3]))
        except ValueError:
            return None
    words = [word for word in words if word != "-"]
    if not words:
        return None
    compact = _COMPACT.match("".join(words))
    if compact:
        count = int(compact[1])
        return today + timedelta(days=count * (7 if compact[2] == "w" else 1)) if count else None
    if len(words) == 1 and words[0] in word_list(w, "understand.tomorrow"):
        return today + timedelta(days=1)
    if len(words) == 2:
        number = _number(words[0], w)
        if number:
            count = number
            if words[1] in word_list(w, "understand.weeks"):
                return today + timedelta(weeks=count)
            if words[1] in word_list(w, "understand.days"):
                return today + timedelta(days=count)
    if len(words) == 1 and words[0] in word_list(w, "understand.weeks"):
        return today + timedelta(weeks=1)
    return _calendar_day(words, today, language_of(w.locale))


def _calendar_day(words: list[str], today: date, locale: str) -> date | None:
    days, months = _names(locale)
    if len(words) == 1:
        weekday = _named(words[0], days)
        if weekday is None:
            return None
        ahead = (weekday - today.weekday()) % 7 or 7
        return today + timedelta(days=ahead)
    numbers = [int(m[1]) for word in words if (m := _NUMBER.match(word))]
    named = [month for word in words if (month := _named(word, months)) is not None]
    if len(named) != 1 or not 1 <= len(numbers) <= 2:
        return None
    day_of_month, *rest = numbers if numbers[0] <= 31 else numbers[::-1]
    year = rest[0] if rest and rest[0] > 31 else None
    try:
        found = date(year or today.year, named[0], day_of_month)
        if year is None and found <= today:
            found = date(today.year + 1, named[0], day_of_month)
    except ValueError:
        return None
    return found
