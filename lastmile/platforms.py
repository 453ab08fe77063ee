"""The platforms lastmile speaks: one plugin each, one line each. A new platform is a folder
under `adapters/` exporting a `plugin`, and a line here."""

from __future__ import annotations

from adapters import local, slack, teams, web
from bot.platform import PlatformPlugin
from bot.runtime import PlatformFacts

PLATFORMS: dict[str, PlatformPlugin] = {
    "slack": slack.plugin,
    "teams": teams.plugin,
    "local": local.plugin,
    "web": web.plugin,
}


def facts(plugins: dict[str, PlatformPlugin] | None = None) -> PlatformFacts:
    """What start-up checks need of the platforms: names for the config, wording keys."""
    table = PLATFORMS if plugins is None else plugins
    keys = tuple(key for plugin in table.values() for key in plugin.wording_keys)
    scopes = {
        name: tuple(dict.fromkeys(limit.scope for limit in plugin.limits))
        for name, plugin in table.items()
    }
    return PlatformFacts(names=tuple(table), wording_keys=keys, rate_scopes=scopes)
