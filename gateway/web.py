"""The web page at ``/``, the OpenAPI document and its rendered docs at ``/docs``."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from flask import Blueprint, jsonify, render_template, send_from_directory

from gateway.openapi import build_spec

bp = Blueprint("web", __name__)


def _swagger_static() -> Path:
    import swagger_ui  # swagger-ui-py vendors Swagger UI 5, which renders OpenAPI 3.1

    return Path(swagger_ui.__file__).parent / "static"


def package_version() -> str:
    try:
        return version("digits")
    except PackageNotFoundError:
        return "0.0.0"


@bp.get("/")
def index():
    """Draw a digit, or drop a folder of scans and follow the batch."""
    return render_template("index.html")


@bp.get("/openapi.json")
def openapi():
    """The OpenAPI 3.1 description of this API."""
    return jsonify(build_spec(package_version()))


@bp.get("/docs")
def docs():
    """The OpenAPI document rendered by Swagger UI (served from the package, not a CDN)."""
    return render_template("docs.html")


@bp.get("/docs/static/<path:name>")
def docs_static(name: str):
    return send_from_directory(_swagger_static(), name, max_age=86400)
