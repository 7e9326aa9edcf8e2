"""Checks of the Docker deployment that need no Docker engine."""

import os
import re
import shutil
import subprocess
import tomllib
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import pytest
import yaml
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from core.settings import env_name
from digits.cli import COMMANDS
from digits.stack import StackSettings
from gateway.settings import GatewaySettings
from serving.settings import ServingSettings
from trainer.settings import TrainerEnv
from worker.settings import WorkerSettings

ROOT = Path(__file__).resolve().parent.parent
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
DOCKERFILES = sorted(ROOT.glob("*/Dockerfile"))


def test_compose_file_validates_with_docker_compose():
    binary = shutil.which("docker-compose")
    if binary is None:
        if os.environ.get("CI"):
            pytest.fail("docker-compose is missing; .ci/run installs it")
        pytest.skip("docker-compose (Debian package) not installed")
    env = {**os.environ, "DIGITS_WORKERS": "3", "DIGITS_API_KEY": "a-key-of-my-own"}
    result = subprocess.run([binary, "-f", str(ROOT / "docker-compose.yml"), "config", "-q"],
                            capture_output=True, text=True, cwd=ROOT, env=env)
    assert result.returncode == 0, result.stderr
    # Without a key of the user's own, compose refuses to start at all.
    env.pop("DIGITS_API_KEY")
    result = subprocess.run([binary, "-f", str(ROOT / "docker-compose.yml"), "config", "-q"],
                            capture_output=True, text=True, cwd=ROOT, env=env)
    assert result.returncode != 0 and "set DIGITS_API_KEY" in result.stderr


def test_every_path_in_compose_exists():
    for name, service in COMPOSE["services"].items():
        build = service.get("build")
        if build:
            assert (ROOT / build["context"]).is_dir(), name
            assert (ROOT / build["context"] / build["dockerfile"]).is_file(), name
        for volume in service.get("volumes", []):
            source = volume["source"] if isinstance(volume, dict) else volume.split(":")[0]
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
    # Settings objects name their variables by their fields.
    for settings in (GatewaySettings, WorkerSettings, ServingSettings, StackSettings, TrainerEnv):
        used |= {env_name(name, field) for name, field in settings.model_fields.items()}
    missing = sorted(v for v in used if f"`{v}`" not in readme)
    assert not missing, f"README's configuration table lacks {missing}"


def _locked() -> dict[str, str]:
    """{package: version} of requirements.lock, for this Python and platform."""
    pins = {}
    for line in (ROOT / "requirements.lock").read_text().splitlines():
        spec = line.split("#", 1)[0].strip()
        if spec:
            requirement = Requirement(spec)
            if requirement.marker is None or requirement.marker.evaluate():
                pins[canonicalize_name(requirement.name)] = str(requirement.specifier).removeprefix("==")
    return pins


def test_the_lock_pins_every_dependency_within_pyproject_ranges():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = [*project["dependencies"], *(r for extra in project["optional-dependencies"].values() for r in extra)]
    pins = _locked()
    for text in wanted:
        requirement = Requirement(text)
        if canonicalize_name(requirement.name) == "digits":
            continue
        if requirement.marker is not None and not requirement.marker.evaluate():
            continue
        pinned = pins.get(canonicalize_name(requirement.name))
        assert pinned is not None, f"{requirement.name} is not in requirements.lock: refresh it (README, Tests)"
        assert requirement.specifier.contains(pinned, prereleases=True), f"lock has {requirement.name}=={pinned}"


def test_installed_packages_are_the_locked_versions():
    """What this environment runs is what the lock says (CI installs with -c requirements.lock)."""
    different = {}
    for name, pinned in _locked().items():
        try:
            installed = version(name)
        except PackageNotFoundError:
            continue  # another extra's, not installed here
        if installed != pinned:
            different[name] = (installed, pinned)
    assert not different, f"installed vs locked: {different}"


def _minor(version: str) -> str:
    return ".".join(version.split(".")[:2])


def test_tf_serving_runs_the_tensorflow_minor_version_the_trainer_exports_with():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    pins = {Requirement(r).name: str(Requirement(r).specifier).removeprefix("==")
            for extra in project["optional-dependencies"].values() for r in extra
            if Requirement(r).name in ("tensorflow", "tensorflow-serving-api")}
    image, tag = COMPOSE["services"]["serving"]["image"].split(":")
    assert image == "tensorflow/serving"
    assert _minor(tag) == _minor(pins["tensorflow"]) == _minor(pins["tensorflow-serving-api"]), (tag, pins)
    assert _locked()["tensorflow"] == pins["tensorflow"]


def test_readers_of_the_models_volume_never_copy_their_image_into_it():
    """An empty named volume takes the owner of the first container's /models; only the
    trainer's (uid 10001) may give it, or the trainer cannot write (README: compose)."""
    for name, service in COMPOSE["services"].items():
        for volume in service.get("volumes", []):
            if isinstance(volume, dict) and volume.get("source") == "models":
                assert name == "trainer" or (volume["read_only"] and volume["volume"]["nocopy"]), name
            elif isinstance(volume, str) and volume.startswith("models:"):
                assert name == "trainer", f"{name} mounts the models volume without nocopy"
    trainer = (ROOT / "trainer" / "Dockerfile").read_text()
    assert "chown digits:digits /models" in trainer


def test_what_has_no_login_listens_on_this_machine_only():
    services = COMPOSE["services"]
    assert all(port.startswith("127.0.0.1:") for port in services["rq-dashboard"]["ports"])
    assert all(port.startswith("127.0.0.1:") for port in services["serving"]["ports"])
    assert services["worker"]["environment"]["DIGITS_MODEL_LABEL"] == "stable"
