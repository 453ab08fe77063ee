"""The people a digest must not name: everyone stored, and everyone the config file names."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import TypeVar

from sqlmodel.ext.asyncio.session import AsyncSession

from bot.config import LastmileConfig
from bot.digest.scrub import Scrubber
from bot.digest.scrub_names import KnownNames
from storage.people import PersonName, people_names
from storage.reports import FreeText
from storage.themes import PoolText


def config_identities(config: LastmileConfig) -> list[str]:
    """Every identity in the config: members, leads, owners and admins."""
    found = set(config.settings.admins)
    for cohort in config.cohorts.values():
        found |= set(cohort.members) | set(cohort.leads)
    for programme in config.programmes.values():
        found |= set(programme.owners)
    return sorted(found)


def known_names(people: Sequence[PersonName], identities: Sequence[str]) -> KnownNames:
    """Names, e-mail addresses and platform ids from profiles and from config identities.

    Args:
        people: stored people (display names and e-mail addresses from their platforms).
        identities: config identities, `platform:id` or an e-mail address.

    Returns:
        What a `Scrubber` should know; building it is CPU work (keep it off the loop).
    """
    emails = [person.email for person in people if person.email]
    emails += [identity for identity in identities if ":" not in identity]
    user_ids = [person.platform_user_id for person in people]
    user_ids += [identity.split(":", 1)[1] for identity in identities if ":" in identity]
    return KnownNames.of([person.display_name for person in people], emails, user_ids)


Written = TypeVar("Written", FreeText, PoolText)


@dataclass(frozen=True)
class KnownScrubber:
    """A `Scrubber` that knows everyone stored and everyone the config names."""

    scrubber: Scrubber

    def texts(self, texts: Sequence[Written]) -> list[Written]:
        """The texts with every known person's name and every identifier replaced.

        Done before themes are grouped or labelled, so no quote, theme label or slug
        can carry a name the bot knows.
        """
        return [replace(item, text=self.scrubber.scrub(item.text)) for item in texts]


_BUILT: dict[int, KnownScrubber] = {}
"""The last scrubber built, by what it was built from: building it is CPU work (about half
a second for 2,000 people), and the minute job asks for it every minute."""


async def scrubber_for(session: AsyncSession, config: LastmileConfig) -> KnownScrubber:
    """The scrubber for the people stored now and the config's identities."""
    people = await people_names(session)
    identities = config_identities(config)
    key = hash((tuple(people), tuple(identities)))
    found = _BUILT.get(key)
    if found is None:
        names = await asyncio.to_thread(known_names, people, identities)
        found = KnownScrubber(Scrubber(names))
        _BUILT.clear()
        _BUILT[key] = found
    return found
