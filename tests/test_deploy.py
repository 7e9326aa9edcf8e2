"""Checks of the Docker deployment that need no Docker engine."""

import os
import re
import shutil
import subprocess
import tomllib
from pathlib import Path

import pytest
import yaml

from digits.cli import COMMANDS

ROOT = Path(__file__).resolve().parent.parent
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
DOCKERFILES = sorted(ROOT.glob("*/Dockerfile"))


def test_compose_file_validates_with_docker_compose():
    binary = shutil.which("docker-compose")
    if binary is None:
        if os.environ.get("CI"):
            pytest.fail("docker-compose is missing; .ci/run installs it")
        pytest.skip("docker-compose (Debian package) not installed")
    result = subprocess.run([binary, "-f", str(ROOT / "docker-compose.yml"), "config", "-q"],
                            capture_output=True, text=True, cwd=ROOT, env={**os.environ, "DIGITS_WORKERS": "3"})
    assert result.returncode == 0, result.stderr


def test_every_path_in_compose_exists():
    for name, service in COMPOSE["services"].items():
        build = service.get("build")
        if build:
            assert (ROOT / build["context"]).is_dir(), name
            assert (ROOT / build["context"] / build["dockerfile"]).is_file(), name
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("."):
                assert (ROOT / source).exists(), f"{name}: {source}"
        for arg in service.get("command", []):
            match = re.match(r"--\w+_file=/config/(\S+)", str(arg))
            if match:
                assert (ROOT / "serving" / "config" / match.group(1)).is_file(), arg


def test_every_compose_command_is_a_package_entry_point():
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert scripts["digits"] == "digits.cli:main"
    ours = {n: s for n, s in COMPOSE["services"].items() if "build" in s}
    assert set(ours) == {"trainer", "worker", "gateway"}
    for name, service in ours.items():
        command = service["command"]
        assert command[0] == "digits" and command[1] in COMMANDS, name


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: p.parent.name)
def test_dockerfiles_are_multi_stage_non_root_and_copy_existing_paths(dockerfile):
    text = dockerfile.read_text()
    assert len(re.findall(r"^FROM ", text, re.M)) >= 2
    users = re.findall(r"^USER (\S+)", text, re.M)
    assert users and users[-1] not in ("root", "0")
    for line in re.findall(r"^COPY (?!--from)(.+)$", text, re.M):
        for source in line.split()[:-1]:
            assert (ROOT / source).exists(), f"{dockerfile}: {source}"
    cmd = re.search(r'^CMD \["digits", "(\w+)"', text, re.M)
    assert cmd and cmd.group(1) in COMMANDS


def test_services_that_serve_have_healthchecks():
    for name in ("redis", "serving", "gateway"):
        assert "healthcheck" in COMPOSE["services"][name], name
    assert COMPOSE["services"]["serving"]["depends_on"]["trainer"]["condition"] == "service_completed_successfully"
    assert "--appendonly" in COMPOSE["services"]["redis"]["command"]


def test_readme_lists_every_environment_variable():
    readme = (ROOT / "README.md").read_text()
    sources = [*ROOT.glob("*/*.py"), ROOT / "docker-compose.yml", ROOT / ".env.example", *DOCKERFILES]
    used = set()
    for path in sources:
        used |= set(re.findall(r"DIGITS_[A-Z_]+[A-Z]", path.read_text()))
    missing = sorted(v for v in used if f"`{v}`" not in readme)
    assert not missing, f"README's configuration table lacks {missing}"
