"""Wires optional features (digests, trends, updates, themes) into a runtime's engine."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bot.runtime import Runtime


def register_wording() -> None:
    """Import every feature module, so the keys they `require()` are checked at start-up."""
    import bot.digest.chart
    import bot.digest.commands
    import bot.digest.report
    import bot.digest.updates
    import bot.reports.charts
    import bot.reports.commands
    import bot.themes.commands  # noqa: F401


def install_features(runtime: Runtime) -> None:
    """Register the commands and jobs that features add to the engine."""
    from bot.digest.commands import install as install_digest_commands
    from bot.themes.commands import release_command, theme_command

    install_digest_commands(runtime)
    runtime.engine.add_command("theme", theme_command)
    runtime.engine.add_command("release", release_command)
    from bot.reports.commands import install as install_report_command

    install_report_command(runtime)
