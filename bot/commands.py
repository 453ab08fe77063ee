"""The commands people type (or send with /lastmile): a table from word to handler."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from datetime import date, datetime, time, timedelta

from bot.checkin_runner import begin, open_checkin
from bot.mydata import render_mydata, retention_of
from bot.replies import Confirm, Option, Reply, Text
from bot.turn import Turn
from storage.checkins import set_checkin_status
from storage.people import clear_state, person_data

Command = Callable[[Turn, str], Awaitable[list[Reply]]]

_DURATION = re.compile(r"^(\d{1,2})\s*([dw])$")


async def help_command(turn: Turn, _args: str) -> list[Reply]:
    """What the person can type; leads and owners see their extra commands."""
    parts = [turn.w("commands.help")]
    if turn.has_role("owner") or turn.has_role("admin"):
        parts.append(turn.w("commands.help_owner"))
    elif turn.has_role("lead"):
        parts.append(turn.w("commands.help_lead"))
    return [Text("\n\n".join(part.strip() for part in parts))]


def parse_pause(args: str, today: date) -> date | None:
    """Read `1w`, `2w`, `3d` or `until 2026-12-24`; the date check-ins resume on."""
    args = args.strip().lower()
    if args.startswith("until"):
        try:
            return date.fromisoformat(args.removeprefix("until").strip())
        except ValueError:
            return None
    match = _DURATION.match(args)
    if not match:
        return None
    count, unit = int(match[1]), match[2]
    if count == 0:
        return None
    return today + timedelta(days=count * (7 if unit == "w" else 1))


async def pause_command(turn: Turn, args: str) -> list[Reply]:
    """Pause check-ins until a date (the person's local midnight)."""
    zone = turn.timezone
    today = turn.now.astimezone(zone).date()
    resume_on = parse_pause(args, today)
    if resume_on is None:
        return [Text(turn.w("commands.pause_usage"))]
    if resume_on <= today:
        example = (today + timedelta(days=14)).isoformat()
        return [Text(turn.w("commands.pause_past", example=example))]
    turn.person.status = "paused"
    turn.person.paused_until = datetime.combine(resume_on, time(0, 0), tzinfo=zone)
    turn.session.add(turn.person)
    return [Text(turn.w("commands.paused", until=resume_on.strftime("%a %d %b %Y")))]


async def resume_command(turn: Turn, _args: str) -> list[Reply]:
    """Start check-ins again."""
    turn.person.status = "active"
    turn.person.paused_until = None
    turn.session.add(turn.person)
    return [Text(turn.w("commands.resumed"))]


async def stop_command(turn: Turn, _args: str) -> list[Reply]:
    """No more check-ins; the current one, if any, is dropped."""
    turn.person.status = "stopped"
    turn.person.paused_until = None
    turn.session.add(turn.person)
    await clear_state(turn.session, turn.person_id)
    return [Text(turn.w("commands.stopped"))]


async def mydata_command(turn: Turn, _args: str) -> list[Reply]:
    """Everything stored about the person."""
    await turn.session.flush()
    data = await person_data(turn.session, turn.person)
    kept = retention_of(turn.config, turn.person.cohort_id)
    return [Text(render_mydata(data, turn.w, turn.timezone, kept))]


async def forget_command(turn: Turn, _args: str) -> list[Reply]:
    """Ask before erasing everything stored about the person."""
    return [
        Confirm(
            text=turn.w("commands.forget_confirm"),
            token=f"forget:{turn.person_id}:confirm",
            yes=Option("yes", turn.w("commands.forget_yes")),
            no=Option("no", turn.w("commands.forget_no")),
        )
    ]


async def checkin_command(turn: Turn, _args: str) -> list[Reply]:
    """A check-in the person asked for themselves."""
    checkin = await open_checkin(
        turn.session,
        turn.person,
        turn.config,
        kind="triggered",
        slot=f"self:{turn.now.isoformat()}",
        now=turn.now,
    )
    if checkin is None:
        return [Text(turn.w("commands.not_enrolled"))]
    assert checkin.id is not None
    await set_checkin_status(turn.session, checkin.id, "sent", sent_at=turn.now)
    return list(await begin(turn.session, checkin, turn.config, turn.w, turn.now, turn.timezone))


BASE_COMMANDS: dict[str, Command] = {
    "help": help_command,
    "pause": pause_command,
    "resume": resume_command,
    "stop": stop_command,
    "mydata": mydata_command,
    "forget": forget_command,
    "checkin": checkin_command,
}
