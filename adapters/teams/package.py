"""Builds the Teams app package: manifest.json (v1.16) and the two icons, zipped for upload."""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import re
import sys
import zipfile
from dataclasses import dataclass
from importlib import metadata, resources
from pathlib import Path
from typing import Any

from adapters.teams.settings import TeamsSettings
from bot.config import Settings
from bot.wording import Wording

MANIFEST_VERSION = "1.16"
MANIFEST_SCHEMA = (
    "https://developer.microsoft.com/en-us/json-schemas/teams/v1.16/MicrosoftTeams.schema.json"
)
ICONS = {"color": "color.png", "outline": "outline.png"}
ACCENT_COLOR = "#2F6F5E"
EXAMPLE_URL = "https://www.example.com/lastmile"
PERSONAL_COMMANDS = ("help", "pause", "resume", "stop", "mydata", "forget", "digest", "trends")
GROUP_COMMANDS = ("help", "digest", "trends")
_GUID = re.compile(r"^[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$")

WORDING_KEYS = (
    "teams.app_short_description",
    "teams.app_full_description",
    *(f"teams.commands.{name}" for name in PERSONAL_COMMANDS),
)
"""The wording the app package shows in Teams' store and command menu."""


@dataclass(frozen=True)
class Publisher:
    """Who publishes the app, as Teams shows it on the app's details page."""

    name: str = "lastmile"
    website_url: str = EXAMPLE_URL
    privacy_url: str = f"{EXAMPLE_URL}/privacy"
    terms_url: str = f"{EXAMPLE_URL}/terms"


def check_app_id(app_id: str) -> str:
    """The Microsoft app id (a GUID), lower-cased.

    Raises:
        ValueError: naming what is wrong.
    """
    if not app_id:
        raise ValueError("no bot id: set MICROSOFT_APP_ID or pass --app-id")
    if not _GUID.match(app_id):
        raise ValueError(f"{app_id!r} is not a Microsoft app id (a GUID like 3b4e7d21-…)")
    return app_id.lower()


def _commands(names: tuple[str, ...], w: Wording) -> list[dict[str, str]]:
    return [{"title": name, "description": w(f"teams.commands.{name}")} for name in names]


def build_manifest(
    app_id: str, w: Wording, *, version: str, publisher: Publisher = Publisher()
) -> dict[str, Any]:
    """The manifest.json of the lastmile bot.

    Args:
        app_id: the bot's Microsoft app id; also used as the Teams app id.
        w: the wording (descriptions and command help).
        version: the app version (Teams wants it raised for every update).
        publisher: developer name and URLs.
    """
    bot_id = check_app_id(app_id)
    return {
        "$schema": MANIFEST_SCHEMA,
        "manifestVersion": MANIFEST_VERSION,
        "version": version,
        "id": bot_id,
        "developer": {
            "name": publisher.name,
            "websiteUrl": publisher.website_url,
            "privacyUrl": publisher.privacy_url,
            "termsOfUseUrl": publisher.terms_url,
        },
        "name": {"short": "lastmile", "full": "lastmile"},
        "description": {
            "short": w("teams.app_short_description"),
            "full": w("teams.app_full_description"),
        },
        "icons": dict(ICONS),
        "accentColor": ACCENT_COLOR,
        "bots": [
            {
                "botId": bot_id,
                "scopes": ["personal", "team", "groupChat"],
                "supportsFiles": False,
                "isNotificationOnly": False,
                "commandLists": [
                    {"scopes": ["personal"], "commands": _commands(PERSONAL_COMMANDS, w)},
                    {"scopes": ["team", "groupChat"], "commands": _commands(GROUP_COMMANDS, w)},
                ],
            }
        ],
        "permissions": ["identity", "messageTeamMembers"],
        "validDomains": [],
    }


def icon_bytes(name: str) -> bytes:
    """One of the shipped icons (color.png 192x192, outline.png 32x32)."""
    return (resources.files("adapters") / "teams" / "appmanifest" / name).read_bytes()


def build_package(manifest: dict[str, Any]) -> bytes:
    """The zip Teams accepts: manifest.json and both icons at the root."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("manifest.json", json.dumps(manifest, indent=2, ensure_ascii=False))
        for file_name in ICONS.values():
            archive.writestr(file_name, icon_bytes(file_name))
    return buffer.getvalue()


def _app_version() -> str:
    try:
        return metadata.version("lastmile")
    except metadata.PackageNotFoundError:
        return "0.1.0"


def _write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


async def package_command(args: argparse.Namespace, settings: Settings) -> int:
    """`lastmile teams package`: write the app package zip and say where it is."""
    from bot.runtime import load_checked

    _path, _config, wordings = load_checked(settings)
    wording = wordings.default
    publisher = Publisher(
        name=args.developer,
        website_url=args.website_url,
        privacy_url=args.privacy_url or f"{args.website_url}/privacy",
        terms_url=args.terms_url or f"{args.website_url}/terms",
    )
    try:
        manifest = build_manifest(
            args.app_id or TeamsSettings().id or "",
            wording,
            version=args.app_version or _app_version(),
            publisher=publisher,
        )
    except ValueError as error:
        print(f"lastmile: {error}", file=sys.stderr)
        return 2
    out = Path(args.out)
    await asyncio.to_thread(_write, out, build_package(manifest))
    print(f"wrote {out} (bot {manifest['id']}, app version {manifest['version']})")
    if publisher.website_url.startswith(EXAMPLE_URL):
        print(
            "note: the developer links point at example.com; pass --website-url "
            "(and --privacy-url, --terms-url) before publishing to your organisation"
        )
    return 0
