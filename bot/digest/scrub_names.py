"""Names in a quote: the people the bot knows, common first names, and the surnames after them.

Common first names and surnames come from Faker's person providers (national statistics:
the ONS for en_GB, the SSA for en_US, and the lists of the other locales below), with
the diminutives of the `nicknames` package (Mike, Jen, Bob). Both are maintained, ship
their data inside the wheel and download nothing. Named-entity models (spaCy, Presidio's
default analyser) would need model weights that cannot be fetched at run time.
"""

from __future__ import annotations

import functools
import importlib
import re
import unicodedata
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from importlib import resources
from typing import Any

from bot.digest.findings import Finding, Kind

FAKER_LOCALES = (
    "en_US",
    "en_GB",
    "en_IE",
    "en_IN",
    "en_NG",
    "en_PK",
    "en_KE",
    "es_ES",
    "es_MX",
    "pl_PL",
    "pt_PT",
    "pt_BR",
    "fr_FR",
    "de_DE",
    "it_IT",
    "nl_NL",
    "ro_RO",
)
"""Whose common names are scrubbed: lastmile's languages, and frontline staff in the UK, US, EU."""

_WORD = re.compile(r"[^\W\d_]+(?:['’][^\W\d_]+)*(?:-[^\W\d_]+(?:['’][^\W\d_]+)*)*")
_LOGIN_TOKEN = re.compile(r"[\w'’.+:-]*\w")
_DOTTED = re.compile(r"(?<![\w.@])[^\W\d_][\w'’-]*(?:[._][\w'’-]+)+(?![\w@]|\.\w)")
_NAME_ENTRY = re.compile(r"^[^\W\d_]+(?:['-][^\W\d_]+)*$")
_SENTENCE_END = frozenset('.!?;:"“”\n-–—•*>')
TITLES = frozenset(
    {"mr", "mrs", "ms", "miss", "mx", "dr", "doctor", "prof", "sister", "nurse", "matron"}
    | {"sgt", "sergeant", "officer", "pc", "inspector", "captain", "capt", "sir", "dame"}
    | {"father", "fr", "rev", "auntie", "uncle", "supervisor"}
)
"""Words after which a capitalised word is a person: "Dr Okafor", "nurse Kelly"."""
PARTICLES = frozenset(
    {"de", "del", "della", "la", "le", "van", "von", "der", "den", "da", "di", "du", "dos"}
    | {"das", "ter", "ten", "bin", "binti", "bint", "ibn", "al", "el", "st", "ap", "ní", "nic"}
)
"""Lower-case words inside surnames: "Maria de la Cruz", "Jan van der Berg"."""
NOT_SURNAMES = frozenset(
    {"i", "i'm", "i'll", "i've", "i'd", "the", "a", "an", "and", "but", "or", "so", "then"}
    | {"thanks", "thank", "cheers", "hi", "hello", "hey", "ok", "okay", "yes", "no", "please"}
    | {"sorry", "said", "says", "told", "asked", "was", "is", "has", "had", "can", "could"}
    | {"should", "would", "from", "to", "at", "in", "on", "for", "with", "about", "after"}
    | {"before", "again", "also", "just", "still", "today", "tomorrow", "yesterday", "tonight"}
    | {"morning", "afternoon", "evening", "team", "depot", "ward", "store", "shift", "app"}
    | {"monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"}
    | {"january", "february", "march", "april", "may", "june", "july", "august", "september"}
    | {"october", "november", "december", "if", "when", "because", "who", "he", "she", "they"}
)
"""Capitalised words that follow a first name without being its surname."""
SAYING = frozenset(
    {"said", "says", "told", "asked", "reckons", "reckoned", "thinks", "thought", "called"}
    | {"rang", "texted", "messaged", "emailed", "showed", "wrote", "helped", "fixed", "covered"}
    | {"agreed", "confirmed", "mentioned", "explained", "suggested", "knows", "knew"}
)
"""Words after which a capitalised word at the start of a sentence is someone: "Will said"."""
NOT_NAME_PARTS = frozenset(
    {"the", "and", "of", "she", "her", "hers", "he", "him", "his", "they", "them", "their"}
    | {"xe", "ze", "jr", "sr", "ii", "iii", "iv", "phd", "rn", "md", "mba", "bsc", "msc"}
    | TITLES
    | PARTICLES
)
"""Words in a display name that are not part of anyone's name ("Sarah Jones (she/her)")."""


@dataclass(frozen=True)
class NameLists:
    """Lower-case name words: common first names, common surnames, and those that are also words."""

    first: frozenset[str]
    last: frozenset[str]
    ordinary: frozenset[str]
    nicknames: dict[str, frozenset[str]]

    def ambiguous(self, key: str) -> bool:
        """True for a name that is also an ordinary word (or too short to tell)."""
        return key in self.ordinary or len(key) <= 2


def _entries(value: Any) -> Iterator[str]:
    for entry in value.keys() if isinstance(value, dict) else value:
        for word in str(entry).replace("’", "'").lower().split():
            if _NAME_ENTRY.match(word) and len(word) > 1:
                yield word


@functools.cache
def name_lists() -> NameLists:
    """The common names, loaded once per process (about 0.2 s)."""
    from nicknames import NickNamer

    first: set[str] = set()
    last: set[str] = set()
    for locale in FAKER_LOCALES:
        provider = importlib.import_module(f"faker.providers.person.{locale}").Provider
        for attribute in dir(provider):
            if attribute.startswith("first_names"):
                first.update(_entries(getattr(provider, attribute)))
            elif attribute.startswith("last_names"):
                last.update(_entries(getattr(provider, attribute)))
    namer = NickNamer()
    nicknames: dict[str, set[str]] = {}
    for canonical, shorter in namer.nickname_lookup.items():
        for name in {canonical, *shorter}:
            nicknames.setdefault(name, set()).update({canonical, *shorter} - {name})
    first.update(nicknames)
    text = resources.files("bot.digest").joinpath("data/ordinary_names.txt").read_text("utf-8")
    ordinary = frozenset(
        line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#")
    )
    return NameLists(
        first=frozenset(first),
        last=frozenset(last),
        ordinary=ordinary,
        nicknames={name: frozenset(others) for name, others in nicknames.items()},
    )


def _key(word: str) -> str:
    key = word.lower().replace("’", "'")
    return key[:-2] if key.endswith("'s") else key


def _display_words(display_name: str) -> list[str]:
    """A display name's words, given name first: "Jones, Sarah (North depot)" → sarah, jones."""
    without_notes = re.sub(r"\(.*?\)|\[.*?\]|\{.*?\}", " ", display_name)
    main = re.split(r"\s[-–—|/•·]\s|\s*[|•·]\s*", without_notes)[0]
    surname, comma, given = main.partition(",")
    in_order = f"{given} {surname}" if comma else main  # directories write "Jones, Sarah"
    return [_key(word) for word in _WORD.findall(in_order)]


_FOLDS = str.maketrans({"ı": "i", "ł": "l", "ø": "o", "đ": "d", "ß": "ss", "æ": "ae", "œ": "oe"})


def _folded(word: str) -> str:
    """The word without accents, as people type it on a phone: Wiśniewski → wisniewski."""
    decomposed = unicodedata.normalize("NFKD", word.translate(_FOLDS))
    return "".join(character for character in decomposed if not unicodedata.combining(character))


def _variants(key: str) -> set[str]:
    """A name word as people also type it: O'Brien → o'brien, obrien, brien; Smith-Jones → parts."""
    found = {key, _folded(key)}
    if "'" in key:
        found |= {key.replace("'", ""), key.split("'")[-1]}
    if "-" in key:
        found |= set(key.split("-"))
    return {word for word in found if len(word) > 1 and word not in NOT_NAME_PARTS}


@dataclass(frozen=True)
class KnownNames:
    """What the bot knows its people by: name words, logins and platform user ids."""

    words: frozenset[str] = frozenset()
    logins: frozenset[str] = frozenset()
    ids: frozenset[str] = frozenset()
    pairs: frozenset[tuple[str, str]] = frozenset()
    """A known first word and the surname after it: "wil green" goes whole (green is a word)."""

    @classmethod
    def of(
        cls,
        display_names: Iterable[str] = (),
        emails: Iterable[str] = (),
        user_ids: Iterable[str] = (),
    ) -> KnownNames:
        """Gather what people are known by.

        Args:
            display_names: names from platform profiles ("Sarah Jones", "Jones, Sarah").
            emails: their e-mail addresses; the part before the "@" is a login, and its
                pieces are name words too when one of them is a name ("seun.adeyemi",
                not "ops.lead").
            user_ids: platform ids (U024BE7LH) and config identities' ids; short plain
                words (local trial names such as "ana") are covered by the name lists.

        Returns:
            The words, logins and ids a `Scrubber` takes out of quotes.
        """
        lists = name_lists()
        words: set[str] = set()
        pairs: set[tuple[str, str]] = set()
        for display_name in display_names:
            found = [key for key in _display_words(display_name) if key not in NOT_NAME_PARTS]
            for key in found:
                words |= _variants(key)
            if not found:
                continue
            firsts = _variants(found[0]) | lists.nicknames.get(found[0], frozenset())
            words |= firsts
            if len(found) > 1:
                pairs |= {(first, last) for first in firsts for last in _variants(found[-1])}
        logins: set[str] = set()
        for email in emails:
            local = email.strip().lower().split("@")[0]
            if len(local) < 2:
                continue
            logins.add(local)
            pieces = [piece for piece in re.split(r"[._+\-\d]+", local) if len(piece) > 1]
            # "seun.adeyemi" names Oluwaseun Adeyemi; "ops.lead" names nobody.
            if any(p in words or p in lists.first or p in lists.last for p in pieces):
                for piece in pieces:
                    words |= _variants(piece)
        ids = {
            user_id
            for user_id in user_ids
            if len(user_id) >= 6 or (len(user_id) >= 3 and any(c.isdigit() for c in user_id))
        }
        return cls(frozenset(words), frozenset(logins), frozenset(ids), frozenset(pairs))


@dataclass(frozen=True)
class _Token:
    start: int
    end: int
    text: str
    key: str
    sentence_start: bool

    @property
    def capitalised(self) -> bool:
        return self.text[0].isupper() and not (len(self.text) > 1 and self.text.isupper())


def _tokens(text: str) -> list[_Token]:
    tokens: list[_Token] = []
    for match in _WORD.finditer(text):
        gap = text[tokens[-1].end if tokens else 0 : match.start()].rstrip()
        # The last visible character before the word: in the gap, else the previous word's.
        sentence_start = gap[-1] in _SENTENCE_END if gap else not tokens
        tokens.append(
            _Token(match.start(), match.end(), match.group(0), _key(match.group(0)), sentence_start)
        )
    return tokens


class NameFinder:
    """Finds names in a cleaned text with the common lists and what the bot knows."""

    def __init__(self, known: KnownNames) -> None:
        self.lists = name_lists()
        self.known = known

    def _is_name_word(self, key: str) -> bool:
        if key in self.known.words or key in self.lists.first:
            return True
        parts = key.split("-")
        return len(parts) > 1 and all(
            part in self.known.words or part in self.lists.first or part in self.lists.last
            for part in parts
        )

    def _plain(self, key: str) -> bool:
        parts = key.split("-")
        return any(
            (part in self.known.words or part in self.lists.first)
            and not self.lists.ambiguous(part)
            for part in parts
        )

    def _surname(self, token: _Token) -> bool:
        if token.key in NOT_SURNAMES:
            return False
        if token.capitalised:
            return True
        if len(token.text) > 1 and token.text.isupper():
            return token.key in self.known.words
        known = token.key in self.known.words or token.key in self.lists.last
        return known and not self.lists.ambiguous(token.key)

    @staticmethod
    def _joined(text: str, left: _Token, right: _Token, initial: bool = False) -> bool:
        gap = text[left.end : right.start]
        return gap == " " or (initial and gap in (". ", "."))

    def _extend(self, text: str, tokens: Sequence[_Token], index: int) -> int:
        """The index of the last surname, initial or particle after tokens[index]."""
        last = index
        position = index + 1
        while position < len(tokens) and position <= index + 4:
            previous, token = tokens[position - 1], tokens[position]
            is_initial = len(previous.text) == 1 and previous.text.isupper()
            if not self._joined(text, previous, token, initial=is_initial):
                break
            if len(token.text) == 1 and token.text.isupper():
                last = position  # "Sarah J."
            elif token.key in PARTICLES:
                position += 1
                continue  # kept only when a surname follows
            elif self._surname(token) or (previous.key, token.key) in self.known.pairs:
                last = position
            else:
                break
            position += 1
        return last

    def _first_name(self, text: str, tokens: Sequence[_Token], index: int) -> bool:
        token = tokens[index]
        if not self._is_name_word(token.key):
            return False
        if len(token.text) > 1 and token.text.isupper() and token.key not in self.known.words:
            return False  # NINO, ETA, PAT: acronyms, unless someone the bot knows
        if self._plain(token.key):
            return True
        after = tokens[index + 1] if index + 1 < len(tokens) else None
        if after is not None and (token.key, after.key) in self.known.pairs:
            return self._joined(text, token, after)  # "dev patel", "will green"
        # Will, Mark, Bill, Rose: a name only when capitalised where a name would stand.
        if not token.capitalised:
            return False
        before = tokens[index - 1] if index > 0 else None
        joined = after is not None and self._joined(text, token, after)
        return (
            not token.sentence_start
            or token.text.lower().replace("’", "'").endswith("'s")
            or (before is not None and before.key in TITLES)
            # "Will said", not "Will it work"
            or (joined and after is not None and after.key in SAYING)
            # "Rose and Jack said", not "Mark and label them"
            or (
                joined
                and after is not None
                and after.key == "and"
                and self._named_next(tokens, index + 2)
            )
            # "Will Green", not "Mark Delivered"
            or (
                joined
                and after is not None
                and after.capitalised
                and (after.key in self.lists.last or after.key in self.known.words)
                and after.key not in NOT_SURNAMES
            )
        )

    def _named_next(self, tokens: Sequence[_Token], index: int) -> bool:
        if index >= len(tokens):
            return False
        token = tokens[index]
        return token.capitalised and self._is_name_word(token.key)

    def find(self, text: str) -> Iterator[Finding]:
        """Spans of names: known people's words, common first names with their surnames."""
        tokens = _tokens(text)
        index = 0
        while index < len(tokens):
            token = tokens[index]
            end = -1
            if self._first_name(text, tokens, index):
                end = self._extend(text, tokens, index)
            elif token.key in TITLES and index + 1 < len(tokens):
                following = tokens[index + 1]
                gap = text[token.end : following.start]
                if (
                    following.capitalised
                    and gap in (" ", ". ")
                    and following.key not in NOT_SURNAMES
                ):
                    index += 1
                    end = self._extend(text, tokens, index)
            elif len(token.text) == 1 and token.text.isupper() and index + 1 < len(tokens):
                # "J. Smith", "J Smith": an initial before a known or common surname.
                following = tokens[index + 1]
                if (
                    self._joined(text, token, following, initial=True)
                    and following.capitalised
                    and (following.key in self.lists.last or following.key in self.known.words)
                ):
                    end = self._extend(text, tokens, index)
            elif re.match(r"^[OD]['’][A-Z]", token.text):
                end = index  # O'Brien, D'Souza
            if end >= 0:
                # "Bill's van" becomes "[someone]'s van".
                last = tokens[end]
                stop = last.end - 2 if last.text.lower().endswith(("'s", "’s")) else last.end
                yield Finding(tokens[index].start, stop, Kind.NAME)
                index = end
            index += 1
        yield from self._logins(text)

    def _logins(self, text: str) -> Iterator[Finding]:
        for match in _DOTTED.finditer(text):
            # t.pengelly, sarah.jones: a login made of a name is a handle, dots and all.
            parts = [_key(part) for part in re.split(r"[._]", match.group(0))]
            if any(self._plain(part) for part in parts if part):
                yield Finding(match.start(), match.end(), Kind.HANDLE)
        for match in _LOGIN_TOKEN.finditer(text):
            word = match.group(0)
            if word in self.known.ids or word.lower().replace("’", "'") in self.known.logins:
                yield Finding(match.start(), match.end(), Kind.HANDLE)
