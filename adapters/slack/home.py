"""What a person's App Home tab shows, read from storage: status, roles and stored data."""

from __future__ import annotations

from adapters.slack.blocks import HomeContent
from bot.events import Actor
from bot.mydata import render_mydata, status_text
from bot.runtime import Runtime
from bot.turn import person_timezone
from storage.people import person_data

DIGEST_ROLES = frozenset({"lead", "owner", "admin"})


async def home_content(runtime: Runtime, actor: Actor) -> HomeContent:
    """The person's status, everything stored about them and whether they get a digest.

    Args:
        runtime: the running lastmile.
        actor: the person, with the profile users.info gave.

    Returns:
        The content of their Home tab.
    """
    now = runtime.clock()
    directory = runtime.engine.directory
    async with runtime.db.session() as session:
        person = await directory.person_for(session, actor, now)
        data = await person_data(session, person)
    zone = person_timezone(person, runtime.config)
    roles = directory.roles_for(actor.identity, person.email)
    return HomeContent(
        status=status_text(data, runtime.wording, zone),
        stored=render_mydata(data, runtime.wording, zone),
        active=person.status == "active",
        can_digest=any(role in DIGEST_ROLES for role, _scope in roles),
    )
