"""Who is who: people's cohorts and roles, read from the config file."""

from __future__ import annotations

import logging
from collections import defaultdict
from datetime import datetime

from sqlmodel.ext.asyncio.session import AsyncSession

from bot.config import LastmileConfig
from bot.events import Actor
from storage.db import Database
from storage.models import Cohort, Person, Programme
from storage.people import (
    enrolments,
    ensure_people,
    ensure_person,
    find_person,
    replace_people_roles,
    replace_roles,
    roles_of,
    roles_of_people,
    set_cohorts,
)
from storage.programmes import save_cohorts, save_programmes

logger = logging.getLogger(__name__)

RoleSet = frozenset[tuple[str, str]]


def _key(identity: str) -> str:
    # Platform ids are case-sensitive (Slack's U0123); e-mail addresses are not.
    return identity if ":" in identity else identity.lower()


class Directory:
    """Maps identities (`slack:U0123`, `local:ana`, e-mail) to cohorts and roles."""

    def __init__(self, config: LastmileConfig) -> None:
        self.config = config
        self._cohort: dict[str, str] = {}
        self._roles: dict[str, set[tuple[str, str]]] = defaultdict(set)
        for cohort_id, cohort in config.cohorts.items():
            for member in cohort.members:
                self._cohort[_key(member)] = cohort_id
            for lead in cohort.leads:
                self._roles[_key(lead)].add(("lead", cohort_id))
                self._cohort.setdefault(_key(lead), cohort_id)
        for programme_id, programme in config.programmes.items():
            for owner in programme.owners:
                self._roles[_key(owner)].add(("owner", programme_id))
        for admin in config.settings.admins:
            self._roles[_key(admin)].add(("admin", ""))

    def _keys(self, identity: str, email: str) -> list[str]:
        return [_key(key) for key in (identity, email) if key]

    def cohort_for(self, identity: str, email: str = "") -> str | None:
        """The cohort a person belongs to, by identity or e-mail."""
        for key in self._keys(identity, email):
            if key in self._cohort:
                return self._cohort[key]
        return None

    def roles_for(self, identity: str, email: str = "") -> RoleSet:
        """The (role, scope) pairs a person holds."""
        found: set[tuple[str, str]] = set()
        for key in self._keys(identity, email):
            found |= self._roles.get(key, set())
        return frozenset(found)

    def known_identities(self) -> list[str]:
        """Every platform identity named in the config (e-mails are resolved on contact)."""
        return sorted(name for name in set(self._cohort) | set(self._roles) if ":" in name)

    def knows(self, identity: str, email: str = "") -> bool:
        """True when the config puts this person in a cohort or gives them a role."""
        return self.cohort_for(identity, email) is not None or bool(self.roles_for(identity, email))

    async def person_for(self, session: AsyncSession, actor: Actor, now: datetime) -> Person | None:
        """The stored person for an actor, kept in step with their profile and the config.

        Someone the config names is stored on first contact; someone it does not name,
        and who was never stored, is not stored now (None): lastmile keeps nothing about
        people outside its pilots.
        """
        person = await find_person(session, actor.platform, actor.user_id)
        changed = False
        if person is None:
            if not self.knows(actor.identity, actor.email):
                return None
            person = await ensure_person(session, actor.platform, actor.user_id, now)
            changed = True  # its roles are to be written
        for field, value in (
            ("display_name", actor.display_name),
            ("email", actor.email),
            ("timezone", actor.timezone),
            ("locale", actor.locale),
        ):
            if value and getattr(person, field) != value:
                setattr(person, field, value)
                changed = True
        # The first workspace (or tenant) seen stays: no later request moves a person.
        if actor.workspace_id and not person.workspace_id:
            person.workspace_id = actor.workspace_id
            changed = True
        cohort = self.cohort_for(actor.identity, person.email)
        if person.cohort_id != cohort:
            person.cohort_id = cohort
            changed = True
        if changed:
            # Roles follow the config (mirrored at start-up) and the e-mail, so they are
            # looked at again only when something about the person changed.
            session.add(person)
            await session.flush()
            await self._sync_roles(session, person)
        return person

    async def _sync_roles(self, session: AsyncSession, person: Person) -> None:
        assert person.id is not None
        wanted = self.roles_for(f"{person.platform}:{person.platform_user_id}", person.email)
        have = {(role.role, role.scope) for role in await roles_of(session, person.id)}
        if have != wanted:
            await replace_roles(session, person.id, wanted)

    async def sync(self, db: Database, now: datetime) -> None:
        """Mirror programmes, cohorts, members and roles from the config into storage.

        Set-based, so start-up costs the same eight statements or fewer for ten
        people or ten thousand: people are created, moved between cohorts and given
        their roles in one statement each, and only where something changed. People
        the config no longer names leave their cohort and roles.
        """
        config = self.config
        async with db.session() as session:
            await save_programmes(
                session,
                [
                    Programme(
                        id=programme_id,
                        name=programme.name,
                        tool=programme.tool,
                        timezone=programme.timezone,
                        digest_destination=programme.digest_destination,
                        api_key_hash=programme.api_key_sha256,
                    )
                    for programme_id, programme in config.programmes.items()
                ],
            )
            await save_cohorts(
                session,
                [
                    Cohort(
                        id=cohort_id,
                        programme_id=cohort.programme,
                        name=cohort.name or cohort_id,
                        timezone=config.cohort_timezone(cohort_id),
                    )
                    for cohort_id, cohort in config.cohorts.items()
                ],
            )
            identities = [
                (platform, user_id)
                for platform, _, user_id in (
                    name.partition(":") for name in self.known_identities()
                )
            ]
            await ensure_people(session, identities, now)
            # Everyone in a cohort or with a role too: someone taken out of the config
            # leaves their cohort and roles now, not at their next message.
            people = await enrolments(session, identities)
            moves: dict[int, str | None] = {}
            roles: dict[int, RoleSet] = {}
            held = await roles_of_people(session, [person.person_id for person in people])
            for person in people:
                identity = f"{person.platform}:{person.platform_user_id}"
                cohort = self.cohort_for(identity, person.email)
                if person.cohort_id != cohort:
                    moves[person.person_id] = cohort
                wanted = self.roles_for(identity, person.email)
                if held.get(person.person_id, set()) != wanted:
                    roles[person.person_id] = wanted
            await set_cohorts(session, moves)
            await replace_people_roles(session, roles)
        logger.info(
            "config mirrored: %d programme(s), %d cohort(s), %d people "
            "(%d changed cohort, %d changed roles)",
            len(config.programmes),
            len(config.cohorts),
            len(people),
            len(moves),
            len(roles),
        )
