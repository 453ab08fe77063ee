"""Patterns for where someone lives or works: street addresses and postcodes (UK, US, EU).

A street needs a house number ("14 High Street", "Calle Mayor 12", "Hauptstraße 5") or,
without one, a preposition and capitals ("lives on Acacia Avenue"), so "drive two
streets over", "the ring road" and "5 min drive" stay as written. Postcodes that are
plain digits (ZIP 60601, 10115 Berlin, 00-590 Warszawa) need a state or a town after
them, or the word postcode or zip, so counts and times are left alone.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from bot.digest.findings import Finding, Kind

_NUMBER = r"\d{1,5}[A-Za-z]?(?:\s?[-/]\s?\d{1,5}[A-Za-z]?)?"
_UNIT = rf"(?i:(?:flat|apt\.?|apartment|unit|suite|ste\.?|room)\s*#?\s*{_NUMBER},?\s+)"
_UPPER = "A-ZÀ-ÖØ-ÞĄĆĘŁŃŚŹŻŠŽČŘĎŤŇŐŰ"
_CAPITAL = rf"[{_UPPER}][\w'’.-]*"
_STREET_TYPES = (
    "Street|St|Road|Rd|Avenue|Ave|Av|Lane|Ln|Drive|Dr|Close|Cl|Court|Ct|Crescent|Cres|Way"
    "|Place|Pl|Boulevard|Blvd|Terrace|Terr|Gardens|Gdns|Square|Sq|Hill|Row|Parade|Mews|Grove"
    "|Walk|Highway|Hwy|Parkway|Pkwy|Circle|Cir|Trail|Green|Park|Rise|View|Vale|Wharf|Yard"
    "|Estate|Causeway|Gate|Loop|Pike|Plaza|Quay|Approach|Broadway"
)
_LOWER_TYPES = "street|st|road|rd|avenue|ave|lane|crescent|terrace|drive|gardens|grove|mews"
# Words that come between a number and "road" or "drive" in ordinary sentences.
_NOT_STREET_NAME = re.compile(
    r"^(?:"
    r"a|an|the|of|to|my|our|your|his|her|their|this|that|more|less|extra|other|another|"
    r"long|short|hour|hours|hr|hrs|min|mins|minute|minutes|mile|miles|km|mi|day|days|week|"
    r"weeks|times|way|ways|side|back|main|ring|slip|private|dirt|wrong|right|left|same|"
    r"new|old|closed|busy|bad|good|quick|slow|bumpy|single|double|each|every"
    r")$",
    re.IGNORECASE,
)
_DIRECTION = r"(?:\s(?:N|S|E|W|NE|NW|SE|SW)\b)?"
_ENGLISH_STREET = re.compile(
    rf"{_UNIT}?\b{_NUMBER},?\s+(?:{_CAPITAL}\s+){{0,3}}{_CAPITAL}\s+(?:{_STREET_TYPES})\b\.?"
    rf"{_DIRECTION}"
    # lower case: "14 acacia avenue"
    rf"|{_UNIT}?\b{_NUMBER},?\s+(?P<lower>(?:[a-z][\w'’-]*\s+){{1,3}})(?:{_LOWER_TYPES})\b"
)
_NAMED_STREET = re.compile(
    rf"\b(?:on|at|in|from|to|near|off|via|down|up|along)\s+(?P<street>(?:{_CAPITAL}\s+){{1,3}}"
    r"(?:Street|Road|Avenue|Lane|Close|Crescent|Drive|Terrace|Gardens|Grove|Mews|Court"
    r"|Square|Boulevard))\b"
)
_PARTICLES = r"(?:(?:de|del|de\s+la|la|las|los|da|do|dos|des|du|di|della|le|l'|d'|van|von)\s+)"
_CONTINENTAL_STREET = re.compile(
    # Calle Mayor 12, rue de Rivoli 10, ul. Marszałkowska 10/12, Via Roma 5, 10 rue Lepic
    r"(?:\b\d{1,4}[a-z]?,?\s+)?"
    r"(?:\b(?i:calle|avenida|avda\.|paseo|carrer|rua|rue|ulica|ul\.|aleja|al\.|plac|osiedle"
    r"|os\.|chemin|allée|quai|impasse|straße|strasse|straat|gatan)"
    r"|\b(?:Plaza|Avenue|Boulevard|Via|Viale|Piazza|Corso|Largo|Av\.|Pl\.|C/))"
    rf"\s+{_PARTICLES}*(?:{_CAPITAL}\s+){{0,2}}{_CAPITAL}(?:,?\s+{_NUMBER}\b)?"
    # Hauptstraße 5, Berliner Straße 12a, Keizersgracht 123, Storgatan 4
    rf"|\b(?:[{_UPPER}][\w-]*\s)?[{_UPPER}][\w-]*(?:straße|strasse|str\.|Straße|Strasse|Str\."
    r"|weg|gasse|platz|allee|ring|damm|ufer|straat|gracht|laan|plein|kade|dijk|singel"
    rf"|gatan|vägen|gade|vej)\s+{_NUMBER}\b"
)
_PO_BOX = re.compile(r"\bP\.?\s?O\.?\s+Box\s+\d+\b", re.IGNORECASE)
_UK_POSTCODE = re.compile(
    r"\b(?:GIR\s?0AA|[A-PR-UWYZ](?:\d[A-HJKPSTUW\d]?|[A-HK-Y]\d[ABEHMNPRVWXY\d]?)"
    r"\s?\d[ABD-HJLNP-UW-Z]{2})\b",
    re.IGNORECASE,
)
_US_STATES = (
    "AL|AK|AZ|AR|CA|CO|CT|DE|FL|GA|HI|ID|IL|IN|IA|KS|KY|LA|ME|MD|MA|MI|MN|MS|MO|MT|NE|NV|NH"
    "|NJ|NM|NY|NC|ND|OH|OK|OR|PA|RI|SC|SD|TN|TX|UT|VT|VA|WA|WV|WI|WY|DC"
)
_CITY = r"(?=,?\s+[A-ZÄÖÜÉÈŁŚŻŹĆ][a-zäöüßéèáíóúñçłśżźćęą]+)"
_NUMERIC_POSTCODE = re.compile(
    # ZIP after a state: IL 60601, TX 75201-1234
    rf"\b(?:{_US_STATES}),?\s+(?P<zip>\d{{5}}(?:-\d{{4}})?)\b"
    # after the word: postcode 10115, zip: 94105, PLZ 80331, CP 28013, kod 00-590
    r"|(?i:\b(?:post\s?code|zip(?:\s?code)?|plz|cp|kod(?:\s+pocztowy)?)\s*:?\s*)"
    r"(?P<keyed>\d{2}-\d{3}|\d{4,5}(?:-\d{4})?|\d{4}\s?[A-Z]{2})\b"
    # before a town: 10115 Berlin, 75001 Paris, 00-590 Warszawa, 1012 AB Amsterdam
    rf"|\b(?P<town>\d{{5}}|\d{{2}}-\d{{3}}|\d{{4}}\s?(?!AM|PM)[A-Z]{{2}}){_CITY}"
)
_OTHER_POSTCODE = re.compile(
    # Canada K1A 0B1; Ireland's Eircode D02 X285 (a letter in the second half)
    r"\b[ABCEGHJ-NPRSTVXY]\d[ABCEGHJ-NPRSTV-Z]\s?\d[ABCEGHJ-NPRSTV-Z]\d\b"
    r"|\b[AC-FHKNPRTV-Y]\d{2}\s?(?=[0-9]*[AC-FHKNPRTV-Y])[AC-FHKNPRTV-Y0-9]{4}\b"
)


def _english_streets(text: str) -> Iterator[Finding]:
    for match in _ENGLISH_STREET.finditer(text):
        words = (match.group("lower") or "").split()
        if any(_NOT_STREET_NAME.match(word) for word in words):
            continue
        yield Finding(match.start(), match.end(), Kind.ADDRESS)
    for match in _NAMED_STREET.finditer(text):
        yield Finding(match.start("street"), match.end("street"), Kind.ADDRESS)


def _continental_streets(text: str) -> Iterator[Finding]:
    for match in _CONTINENTAL_STREET.finditer(text):
        # "rue Lepic" or "Via Roma" without a number is a street, not someone's address.
        if any(character.isdigit() for character in match.group(0)):
            yield Finding(match.start(), match.end(), Kind.ADDRESS)


def _postcodes(text: str) -> Iterator[Finding]:
    for match in _UK_POSTCODE.finditer(text):
        # "M6 3hr" is a motorway and a delay.
        if not match.group(0).lower().endswith("hr"):
            yield Finding(match.start(), match.end(), Kind.ADDRESS)
    for match in _NUMERIC_POSTCODE.finditer(text):
        group = next(name for name in ("zip", "keyed", "town") if match.group(name))
        yield Finding(match.start(group), match.end(group), Kind.ADDRESS)
    for match in _OTHER_POSTCODE.finditer(text):
        yield Finding(match.start(), match.end(), Kind.ADDRESS)
    for match in _PO_BOX.finditer(text):
        yield Finding(match.start(), match.end(), Kind.ADDRESS)


def find_places(text: str) -> Iterator[Finding]:
    """Street addresses, PO boxes and postcodes in a cleaned text."""
    yield from _english_streets(text)
    yield from _continental_streets(text)
    yield from _postcodes(text)
