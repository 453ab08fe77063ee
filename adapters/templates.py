"""The Jinja2 environment of an adapter's server-rendered pages (autoescaped)."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, select_autoescape


def page_templates(adapter: str) -> Environment:
    """The templates in `adapters/<adapter>/templates/`, every value escaped."""
    folder = Path(str(resources.files("adapters") / adapter / "templates"))
    return Environment(
        loader=FileSystemLoader(folder),
        autoescape=select_autoescape(default=True, default_for_string=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
