"""`lastmile teams package`: the Teams app zip an admin uploads."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from lastmile.cli import main

APP_ID = "3B4E7D21-5C9A-4F0E-8A61-2D7F9C0B1E55"


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ("MICROSOFT_APP_ID", "MICROSOFT_APP_PASSWORD", "LASTMILE_CONFIG"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)  # no stray .env


def build(tmp_path: Path, *args: str) -> tuple[dict[str, Any], zipfile.ZipFile]:
    out = tmp_path / "out" / "lastmile.zip"
    assert main(["teams", "package", "--out", str(out), *args]) == 0
    archive = zipfile.ZipFile(out)
    return json.loads(archive.read("manifest.json")), archive


def test_the_package_has_a_manifest_for_the_bot_and_both_icons(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    manifest, archive = build(tmp_path, "--app-id", APP_ID, "--app-version", "1.2.0")
    assert sorted(archive.namelist()) == ["color.png", "manifest.json", "outline.png"]
    assert manifest["manifestVersion"] == "1.16" and "v1.16" in manifest["$schema"]
    assert manifest["id"] == APP_ID.lower() and manifest["version"] == "1.2.0"
    [bot] = manifest["bots"]
    assert bot["botId"] == APP_ID.lower()
    assert bot["scopes"] == ["personal", "team", "groupChat"]
    personal, groups = bot["commandLists"]
    assert [c["title"] for c in personal["commands"]] == [
        "help",
        "pause",
        "resume",
        "stop",
        "mydata",
        "forget",
        "digest",
        "trends",
    ]
    assert groups["scopes"] == ["team", "groupChat"]
    assert all(0 < len(c["description"]) <= 128 for c in personal["commands"])
    assert len(manifest["description"]["short"]) <= 80
    assert len(manifest["description"]["full"]) <= 4000
    assert manifest["icons"] == {"color": "color.png", "outline": "outline.png"}
    assert all(url.startswith("https://") for url in manifest["developer"].values() if "//" in url)
    assert "wrote" in capsys.readouterr().out


def test_the_icons_are_what_teams_accepts(tmp_path: Path) -> None:
    _manifest, archive = build(tmp_path, "--app-id", APP_ID)
    color = Image.open(io.BytesIO(archive.read("color.png")))
    outline = Image.open(io.BytesIO(archive.read("outline.png"))).convert("RGBA")
    assert color.size == (192, 192) and color.format == "PNG"
    assert outline.size == (32, 32)
    # The outline icon is white on transparent, nothing else.
    raw = outline.tobytes()
    pixels = [tuple(raw[i : i + 4]) for i in range(0, len(raw), 4)]
    assert {pixel[:3] for pixel in pixels if pixel[3] > 0} == {(255, 255, 255)}
    assert any(pixel[3] == 0 for pixel in pixels)


def test_the_bot_id_comes_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MICROSOFT_APP_ID", APP_ID)
    manifest, _ = build(tmp_path, "--website-url", "https://pilots.contoso.example")
    assert manifest["bots"][0]["botId"] == APP_ID.lower()
    assert manifest["developer"]["privacyUrl"] == "https://pilots.contoso.example/privacy"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((), "set MICROSOFT_APP_ID or pass --app-id"),
        (("--app-id", "lastmile-bot"), "is not a Microsoft app id"),
    ],
)
def test_without_a_valid_bot_id_nothing_is_written(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: tuple[str, ...], message: str
) -> None:
    out = tmp_path / "lastmile.zip"
    assert main(["teams", "package", "--out", str(out), *args]) == 2
    assert message in capsys.readouterr().err
    assert not out.exists()
