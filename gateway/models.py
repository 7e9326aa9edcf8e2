"""``GET /v1/models``: both models' versions, their serving state and their test metrics.

The state comes from the model server's REST status endpoint (TF Serving's, or ours, which
answers the same), the metrics from each version's ``metrics.json`` in the model folder.
Either source may be unconfigured; the answer then says so instead of guessing.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from flask import Blueprint, jsonify

from contracts.models import METRICS_FILE, existing_versions
from core.serving_status import model_states
from gateway import deps

bp = Blueprint("models", __name__, url_prefix="/v1")

# The figures of metrics.json that help someone choose or trust a version.
_SUMMARY = ("accuracy", "ece", "errors", "count")


@bp.get("/models")
def list_models():
    """Each model (the digit model, the string model) with its versions, newest first:
    ``state`` from Serving, ``metrics`` from the model folder."""
    settings = deps.settings()
    models = [_model(settings.model_name, "digits", settings.serving_rest_url, settings.model_base),
              _model(settings.string_model_name, "string", settings.serving_rest_url, settings.model_base)]
    return jsonify({"models": models})


def _model(name: str, reader: str, rest_url: str | None, model_base: Path | None) -> dict[str, Any]:
    states, serving_error = model_states(rest_url, name)
    metrics = version_metrics(model_base, name) if model_base else {}
    versions = [{"version": version, "state": states.get(version, "UNKNOWN"), "metrics": metrics.get(version)}
                for version in sorted(set(states) | set(metrics), reverse=True)]
    return {"name": name, "reader": reader, "versions": versions, "serving_error": serving_error}


def version_metrics(model_base: Path, name: str) -> dict[int, dict[str, Any]]:
    """{version: summary of metrics.json} for each exported version folder."""
    found = {}
    for version in existing_versions(model_base, name):
        try:
            data = json.loads((model_base / name / str(version) / METRICS_FILE).read_text())
        except (OSError, ValueError):
            continue
        found[version] = _summary(data)
    return found


def _summary(data: dict[str, Any]) -> dict[str, Any]:
    test = data.get("test", {})
    training = data.get("training", {})
    return {
        "test": {key: test[key] for key in _SUMMARY if key in test},
        "scans": {kind: entry.get("accuracy") for kind, entry in data.get("scans", {}).items()
                  if isinstance(entry, dict)},
        # The string model's exact-match accuracy on real handwriting, per source, when measured.
        "real": {source: entry.get("exact") for source, entry in data.get("real", {}).items()
                 if isinstance(entry, dict)},
        "temperature": data.get("calibration", {}).get("temperature"),
        "training_seconds": training.get("seconds"),
        "epochs": training.get("epochs"),
        "data": data.get("data", {}).get("source"),
    }
