"""``digits promote MODEL VERSION``: point a label (``stable`` by default) of models.config at a version.

The model servers (TF Serving under compose, or ours) serve the versions models.config
names, and read it again every poll. A label can only move to a version that is already
loaded (TF Serving refuses the whole file otherwise), so a promotion takes three writes, each
awaited on the servers' REST status:

1. add the version to the model's ``specific`` versions and wait until it is AVAILABLE;
2. move the label and wait until the label answers with the version;
3. drop the versions that no label names any more.

Each write replaces the file atomically (a temporary file renamed over it), keeping its
leading comment.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

from google.protobuf import text_format
from tensorflow_serving.config import model_server_config_pb2

from contracts.models import AVAILABLE


class PromotionError(RuntimeError):
    """The promotion could not be done; the message says what was left as it was."""


def promote(config_path: Path, model: str, version: int, label: str, rest_url: str,
            timeout: float = 300.0, say: Callable[[str], None] = print) -> None:
    """Point ``label`` of ``model`` at ``version`` in ``config_path``, step by step."""
    config = _read(config_path)
    entry = _entry(config, model, config_path)
    if dict(entry.version_labels).get(label) == version:
        say(f"{model}: {label} is already version {version}")
        return
    versions = sorted(set(_policy_versions(entry)) | {version})
    _set_versions(entry, versions)
    _write(config_path, config)
    say(f"{model}: serving versions {versions}; waiting for version {version} to be AVAILABLE...")
    _wait(lambda: _state(rest_url, model, version) == AVAILABLE, f"{model} version {version} to load", timeout)

    entry.version_labels[label] = version
    _write(config_path, config)
    say(f"{model}: {label} -> version {version}; waiting for the servers to take it...")
    _wait(lambda: _label_version(rest_url, model, label) == version, f"{label} to name version {version}", timeout)

    labelled = sorted(set(entry.version_labels.values()))
    if labelled != versions:
        _set_versions(entry, labelled)
        _write(config_path, config)
        say(f"{model}: serving versions {labelled}; the others are unloaded")


def _read(path: Path) -> model_server_config_pb2.ModelServerConfig:
    try:
        return text_format.Parse(path.read_text(), model_server_config_pb2.ModelServerConfig())
    except (OSError, text_format.ParseError) as exc:
        raise PromotionError(f"{path}: {exc}") from exc


def _entry(config, model: str, path: Path):
    for entry in config.model_config_list.config:
        if entry.name == model:
            return entry
    raise PromotionError(f"{path} has no model named {model!r}")


def _policy_versions(entry) -> list[int]:
    policy = entry.model_version_policy
    if policy.WhichOneof("policy_choice") == "specific":
        return list(policy.specific.versions)
    # A latest/all policy becomes a specific one, starting from the versions labels name.
    return sorted(set(entry.version_labels.values()))


def _set_versions(entry, versions: list[int]) -> None:
    entry.model_version_policy.Clear()
    entry.model_version_policy.specific.versions.extend(versions)


def _write(path: Path, config) -> None:
    preamble = "".join(line for line in path.read_text().splitlines(keepends=True) if line.startswith("#"))
    body = text_format.MessageToString(config)
    fd, tmp = tempfile.mkstemp(prefix=".models.config.", dir=path.parent)
    with os.fdopen(fd, "w") as handle:
        handle.write(preamble + body)
    os.chmod(tmp, 0o644)
    os.replace(tmp, path)


def _status(rest_url: str, path: str) -> dict | None:
    try:
        with urllib.request.urlopen(f"{rest_url.rstrip('/')}{path}", timeout=5) as response:  # noqa: S310
            return json.loads(response.read())
    except (urllib.error.URLError, OSError, ValueError):
        return None


def _state(rest_url: str, model: str, version: int) -> str | None:
    body = _status(rest_url, f"/v1/models/{model}/versions/{version}")
    entries = (body or {}).get("model_version_status", [])
    return entries[0].get("state") if entries else None


def _label_version(rest_url: str, model: str, label: str) -> int | None:
    body = _status(rest_url, f"/v1/models/{model}/labels/{label}")
    entries = (body or {}).get("model_version_status", [])
    return int(entries[0]["version"]) if entries else None


def _wait(check: Callable[[], bool], what: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.5)
    raise PromotionError(f"timed out after {timeout:.0f} s waiting for {what}; models.config keeps the last "
                         "step written (the labels still name versions that answer)")
