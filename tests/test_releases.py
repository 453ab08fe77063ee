"""Releases: the usage API's `version` marks one the first time it is seen."""

from __future__ import annotations

from typing import Any

from aiohttp.test_utils import TestClient

from bot.runtime import Runtime
from storage.models import Release
from tests.helpers import rows
from tests.test_usage_api import client, post, report, runtime  # noqa: F401  (fixtures)


async def test_a_new_version_on_the_usage_api_is_a_release_once(
    client: TestClient[Any, Any],  # noqa: F811
    runtime: Runtime,  # noqa: F811
) -> None:
    assert (await post(client, report(version="2.3")))[0] == 202
    assert (await post(client, report(version="2.3", used_at="2026-11-17T13:59:00Z")))[0] == 202
    assert (await post(client, report()))[0] == 202  # no version: nothing to mark
    (release,) = await rows(runtime, Release)
    assert (release.programme_id, release.version) == ("routing", "2.3")
    assert release.origin == "usage_api"
    status, body = await post(client, report(version="2.3; DROP TABLE"))
    assert (status, body["field"]) == (422, "version")
