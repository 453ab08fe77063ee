"""The people a digest must not name: everyone stored, and everyone the config file names."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from bot.config import LastmileConfig
from bot.digest.scrub import Scrubber
from bot.digest.scrub_names import KnownNames
from storage.people import PersonName
from storage.reports import FreeText


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


def scrubbed(
    texts: Sequence[FreeText], people: Sequence[PersonName], config: LastmileConfig
) -> list[FreeText]:
    """The texts with every known person's name and every identifier replaced.

    Done before themes are grouped, so no quote, theme label or slug can carry a
    name the bot knows.
    """
    scrubber = Scrubber(known_names(people, config_identities(config)))
    return [replace(item, text=scrubber.scrub(item.text)) for item in texts]
