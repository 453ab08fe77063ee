"""Patterns for contact details and numbers in a quote: mentions, links, e-mail, phones, ids, IPs.

Written here rather than taken from a PII library: Microsoft Presidio's recognisers
need spaCy and a language model downloaded at run time (and its e-mail and link
checks fetch the public-suffix list), and scrubadub's detectors missed fictional UK
and US numbers, IP addresses and bare links on the hostile set (`bench/scrub_quality.py`
prints both side by side when they are installed).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Iterator

from bot.digest.findings import Finding, Kind

_DOT = r"\s*(?:\.|\(dot\)|\[dot\]|\{dot\}|\s+dot\s+)\s*"
# A dot inside the part before the "@": no spaces around a plain ".", or a written "dot".
_LOCAL_DOT = r"(?:\.|\s*\(dot\)\s*|\s*\[dot\]\s*|\s*\{dot\}\s*|\s+dot\s+)"
# Starts only where a word starts: trying every letter of every word made it the slow pattern.
_LOCAL = rf"(?<![\w+%'’.-])[\w+%'’-]+(?:{_LOCAL_DOT}[\w+%'’-]+)*"
# Endings that mark a bare domain; English words (.in, .it, .no, .me) are left out because
# "late.no one came" is a missing space, not an address.
_TLDS = (
    "com|org|net|io|uk|ly|gl|dev|info|biz|gov|edu|eu|de|fr|es|pl|nl|ie|ca|au|ai|tv|cc|ru|ch"
    "|se|dk|fi|pt"
)
# Before a plain "at", words that say where something is rather than whose address it is.
_NOT_LOCAL = r"is|was|are|were|be|me|us|it|him|her|them|that|this|here|there|one"
_PLAIN_LOCAL = rf"(?!(?:{_NOT_LOCAL})\s){_LOCAL}"
_EMAIL = re.compile(
    # ana.b@example.co.uk, o'brien@corp, ana @ example . com
    rf"{_LOCAL}[@＠][\w-]+(?:{_DOT}[\w-]+)*|{_LOCAL}\s+[@＠]\s+[\w-]+(?:{_DOT}[\w-]+)+"
    # ana(at)example(dot)com, ana [at] example.com, sarah dot jones at acme dot com
    rf"|{_LOCAL}\s*(?:\(at\)|\[at\]|\{{at\}})\s*[\w-]+(?:{_DOT}[\w-]+)+"
    rf"|{_PLAIN_LOCAL}\s+at\s+[\w-]+(?:\s+dot\s+[\w-]+)+"
    # ana at example.com (plain "at" needs a real-looking domain, and no path: that is a link)
    rf"|{_PLAIN_LOCAL}\s+at\s+[\w-]+(?:\.[\w-]+)*\.(?:{_TLDS})\b(?![\w.-]*/)",
    re.IGNORECASE,
)
_URL = re.compile(
    r"\b(?:https?://|ftp://|www\.)[^\s<>\"]+|<(?:https?|mailto|tel):[^>]*>"
    # bit.ly/x7Kq, intranet.example.co.uk/rota (a bare domain, with a path or a known ending)
    rf"|\b(?:[a-z0-9](?:[a-z0-9-]*[a-z0-9])?\.)+(?:{_TLDS})\b(?:/[^\s<>\"]*)?"
    r"|\b(?:[a-z0-9](?:[a-z0-9-]*[a-z0-9])?\.)+[a-z]{2,24}/[^\s<>\"]+",
    re.IGNORECASE,
)
# Slack's special tokens (<@U…>, <!channel>, <#C…|name>, <!subteam^…>) and Teams' <at>…</at>.
_PLATFORM_MENTION = re.compile(
    r"<[@#!][^>]*>|<at\b[^>]*>.*?</at>|&lt;[@#!].*?&gt;", re.IGNORECASE | re.DOTALL
)
_AT_WORD = re.compile(r"(?<![\w.])[@＠]\s?[\w][\w.\-]*")
_WORDISH = re.compile(r"(?<![\w@.])[^\W\d_]\w*(?:\.\w+)*")
_DOMAIN_LOGIN = re.compile(r"\b[A-Za-z][\w-]*\\[A-Za-z][\w.-]*")
_LOGIN = re.compile(
    r"\b(?P<word>user\s?name|user\s?id|user|login|log-?in|logon|handle)\s*"
    r"(?P<sep>is|was|[:=#])?\s*(?P<value>[A-Za-z][\w.\-]*[A-Za-z0-9])",
    re.IGNORECASE,
)
# A run of digits with the separators phone numbers are written with; it is a
# phone number when it has at least seven digits (dates are left alone below).
_PHONE = re.compile(r"(?<![\w+])(?:\+|00)?\(?\d[\d\s().\-/–]{5,}\d(?![\w])")
_DATE = re.compile(r"^\d{4}[-/.]\d{1,2}[-/.]\d{1,2}$|^\d{1,2}[-/.]\d{1,2}[-/.]\d{2,4}$")
_IPV4 = re.compile(r"(?<![\w.])(\d{1,3}(?:\.\d{1,3}){3})(?::\d{1,5})?(?![\w]|\.\d)")
_IPV6 = re.compile(r"(?<![\w:])((?:[0-9a-f]{0,4}:){2,7}[0-9a-f]{0,4}(?:%\w+)?)(?![\w:])", re.I)
# Words after which a number is a person's: "badge 4471", "NI no: QQ123456C".
_STRONG_ID_WORD = (
    r"badge|payroll|pin|id|ni|nino|national\s+insurance|nhs|ssn|social\s+security|passport"
    r"|licen[cs]e|dni|nie|nif|pesel|bsn|tax\s+(?:id|code|ref)|mrn|emp|personnel"
)
# Words that take a number only as "staff no. 8812" or with four digits or more.
_WEAK_ID_WORD = r"employee|staff|works|member(?:ship)?|clock(?:ing)?|patient|hospital|locker"
_NUMBER_WORD = r"number|num|no\.?|nr\.?|id|code|ref|card"
_KEYED_ID = re.compile(
    rf"\b(?:(?P<strong>{_STRONG_ID_WORD})|{_WEAK_ID_WORD})(?:\s*(?P<number>{_NUMBER_WORD}))?\s*"
    r"(?:is|was|[:#=]|-)?\s*#?\s*"
    # 4471, 943 476 5919, E-20931, MORGA753116SM9IJ
    r"(?P<value>[A-Za-z]{0,4}[-/]?\d[\d\s/-]{0,14}\d[A-Za-z]?|[A-Za-z0-9][\w/-]*\d\w*)\b",
    re.IGNORECASE,
)
_SHAPED_ID = re.compile(
    # UK National Insurance number: QQ 12 34 56 C, qq123456c
    r"\b[A-Z]{2}\s?\d{2}\s?\d{2}\s?\d{2}(?:\s?[A-D]\b)?|\b(?i:[a-z]{2}\d{6}[a-d])\b"
    # US social security number: 123-45-6789, 123 45 6789
    r"|\b\d{3}[-\s]\d{2}[-\s]\d{4}\b"
    # Spanish DNI and NIE: 12345678Z, X-1234567-L
    r"|\b\d{8}[-\s]?[A-HJ-NP-TV-Z]\b|\b[XYZ][-\s]?\d{7}[-\s]?[A-HJ-NP-TV-Z]\b"
    # badge and staff numbers: E12345, EMP-00417, TX-99812
    r"|\b[A-Z]{1,3}-?\d{4,8}[A-Z]?\b"
    # UK vehicle registration: AB12 CDE; UK driving licence: MORGA753116SM9IJ
    r"|\b[A-Z]{2}\d{2}\s?[A-Z]{3}\b|\b[A-Z9]{5}\d{6}[A-Z9]{2}\d[A-Z]{2}\b"
)


def _matches(pattern: re.Pattern[str], kind: Kind, text: str) -> Iterator[Finding]:
    for match in pattern.finditer(text):
        yield Finding(match.start(), match.end(), kind)


def _phones(text: str) -> Iterator[Finding]:
    for match in _PHONE.finditer(text):
        # "rang 07911123456 5 times": no layout ends in a group of one digit.
        number = re.sub(r"(?<=\d{3})\s\d$", "", match.group(0))
        digits = sum(character.isdigit() for character in number)
        if digits >= 7 and not _DATE.match(number.strip()):
            yield Finding(match.start(), match.start() + len(number), Kind.PHONE)


def _ips(text: str) -> Iterator[Finding]:
    for pattern, address in ((_IPV4, ipaddress.IPv4Address), (_IPV6, ipaddress.IPv6Address)):
        for match in pattern.finditer(text):
            try:
                address(match.group(1).split("%")[0])
            except ValueError:
                continue  # a time such as 10:15:30, or a version number
            yield Finding(match.start(), match.end(), Kind.IP)


def _keyed_ids(text: str) -> Iterator[Finding]:
    for match in _KEYED_ID.finditer(text):
        value = match.group("value").rstrip(" -/")
        digits = sum(character.isdigit() for character in value)
        enough = 3 if match.group("strong") or match.group("number") else 4
        if digits >= enough:
            yield Finding(match.start("value"), match.start("value") + len(value), Kind.ID)


def _handles(text: str) -> Iterator[Finding]:
    for match in _WORDISH.finditer(text):
        word = match.group(0)
        # jane_doe, j_smith99: an underscore between letters or digits.
        if re.search(r"[^\W_]_+[^\W_]", word):
            yield Finding(match.start(), match.end(), Kind.HANDLE)
    yield from _matches(_DOMAIN_LOGIN, Kind.HANDLE, text)


def _logins(text: str) -> Iterator[Finding]:
    for match in _LOGIN.finditer(text):
        value = match.group("value")
        # "login failed", "login is slow": a bare word is a login only after "username:" or
        # "login="; one with a digit, dot or dash ("user jdoe42") is one anyway.
        shaped = any(character.isdigit() or character in ".-" for character in value)
        marked = match.group("sep") in (":", "=") and match.group("word").lower() != "user"
        if shaped or marked:
            yield Finding(match.start("value"), match.end("value"), Kind.HANDLE)


FINDERS: tuple[Callable[[str], Iterator[Finding]], ...] = (
    lambda text: _matches(_PLATFORM_MENTION, Kind.MENTION, text),
    lambda text: _matches(_URL, Kind.LINK, text),
    lambda text: _matches(_EMAIL, Kind.EMAIL, text),
    lambda text: _matches(_AT_WORD, Kind.MENTION, text),
    _handles,
    _logins,
    _ips,
    _keyed_ids,
    lambda text: _matches(_SHAPED_ID, Kind.ID, text),
    _phones,
)
"""Each finds one family of identifiers in a cleaned text."""
