"""The OpenAPI 3.1 description of the gateway, served at ``/openapi.json`` and rendered at ``/docs``."""

from __future__ import annotations

from typing import Any

from contracts.batches import STATUSES

_REF = "#/components/schemas/"
_REASONS = {400: "Malformed request (invalid_parameter, missing_file(s), invalid_zip, unsafe_zip, "
                 "invalid_multipart: a part without a readable file name)",
            401: "Missing or invalid API key",
            404: "No such batch (or another key's: with keys, a batch belongs to the key that created it)",
            409: "The batch has already finished",
            413: "Too large (request_too_large, file_too_large, too_many_files, zip_bomb, image_too_large)",
            415: "Not multipart/form-data, or not an image", 422: "The image could not be read",
            429: "Over the rate limit (rate_limited): retry after Retry-After seconds",
            503: "The model is unavailable", 504: "No worker answered in time"}
# Answers that carry headers of their own.
_HEADERS = {429: {"Retry-After": {"description": "Seconds to wait before sending again",
                                  "schema": {"type": "integer", "minimum": 0}}}}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": _REF + name}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _errors(*statuses: int) -> dict[str, Any]:
    return {str(status): {"$ref": f"#/components/responses/E{status}"} for status in statuses}


def _param(name: str, where: str, schema: dict[str, Any], description: str, required: bool = False) -> dict:
    return {"name": name, "in": where, "required": required, "schema": schema, "description": description}


_BATCH_ID = _param("batch_id", "path", {"type": "string"}, "The batch id from POST /v1/batches", required=True)
_FLAG = {"type": "boolean", "default": False}
_NULLABLE_NUMBER = {"type": ["number", "null"]}

_SCHEMAS: dict[str, Any] = {
    "Error": {
        "type": "object", "required": ["error"],
        "properties": {"error": {"type": "object", "required": ["code", "message"], "properties": {
            "code": {"type": "string", "examples": ["invalid_image"]}, "message": {"type": "string"}}}},
    },
    "Digit": {
        "type": "object", "required": ["digit", "confidence", "box", "probabilities"],
        "properties": {
            "digit": {"type": "integer", "minimum": 0, "maximum": 9},
            "confidence": {"type": "number", "description": "Calibrated probability of this digit"},
            "box": {"type": "array", "items": {"type": "integer"}, "minItems": 4, "maxItems": 4,
                    "description": "[x, y, width, height] in the scan's pixels"},
            "probabilities": {"type": "array", "items": {"type": "number"}, "minItems": 10, "maxItems": 10},
            "input_png": {"type": "string", "contentEncoding": "base64",
                          "description": "The 28x28 input the model saw (with include_inputs)"},
        },
    },
    "Reading": {
        "type": "object", "required": ["digits", "confidence", "needs_review", "per_digit", "error"],
        "properties": {
            "file": {"type": "string", "description": "The file name (a relative path) as uploaded"},
            "index": {"type": "integer", "description": "Position in the batch (batch rows only)"},
            "digits": {"type": ["string", "null"], "description": "The digits, left to right"},
            "confidence": {**_NULLABLE_NUMBER, "description": "Chance that the whole string is right"},
            "needs_review": {"type": "boolean"},
            "per_digit": {"type": "array", "items": _ref("Digit")},
            "model_version": {"type": "integer", "description": "The version of the model that answered"},
            "reader": {"type": "string", "enum": ["digits", "string", "both"],
                       "description": "Which model answered: the digit model (digit by digit), the string "
                                      "model (the whole string at once), or both alike"},
            "error": {"oneOf": [{"type": "null"}, {"type": "object", "required": ["code", "message"],
                                                     "properties": {"code": {"type": "string"},
                                                                    "message": {"type": "string"}}}]},
        },
    },
    "Batch": {
        "type": "object",
        "required": ["id", "status", "total", "queued", "running", "done", "failed", "cancelled", "processed"],
        "properties": {
            "id": {"type": "string"},
            "status": {"type": "string", "enum": list(STATUSES)},
            **{key: {"type": "integer", "minimum": 0} for key in
               ("total", "queued", "running", "done", "failed", "cancelled", "processed")},
            "error": {"type": ["string", "null"], "description": "The system error that failed the batch"},
            "created_at": {"type": "number"}, "updated_at": {"type": "number"},
            "started_at": _NULLABLE_NUMBER, "finished_at": _NULLABLE_NUMBER,
            "links": {"type": "object", "properties": {"self": {"type": "string"}, "results": {"type": "string"}}},
        },
    },
    "BatchPage": {
        "type": "object", "required": ["batches", "next"],
        "properties": {"batches": {"type": "array", "items": _ref("Batch")}, "next": {"type": ["string", "null"]}},
    },
    "Results": {
        "type": "object", "required": ["batch", "results", "next"],
        "properties": {"batch": _ref("Batch"), "next": {"type": ["string", "null"]},
                       "results": {"type": "array", "items": _ref("Reading")}},
    },
    "Model": {
        "type": "object", "required": ["name", "reader", "versions"],
        "properties": {
            "name": {"type": "string"},
            "reader": {"type": "string", "enum": ["digits", "string"]},
            "serving_error": {"type": ["string", "null"]},
            "versions": {"type": "array", "items": {"type": "object", "properties": {
                "version": {"type": "integer"},
                "state": {"type": "string", "examples": ["AVAILABLE"]},
                "metrics": {"type": ["object", "null"]}}}},
        },
    },
    "Models": {
        "type": "object", "required": ["models"],
        "properties": {"models": {"type": "array", "items": _ref("Model")}},
    },
    "Health": {"type": "object", "required": ["status"], "properties": {
        "status": {"type": "string"}, "checks": {"type": "object", "additionalProperties": {"type": "string"}}}},
}


def _upload_body(field: str, many: bool) -> dict[str, Any]:
    binary = {"type": "string", "format": "binary"}
    schema = {"type": "array", "items": binary, "minItems": 1} if many else binary
    return {"required": True, "content": {"multipart/form-data": {
        "schema": {"type": "object", "required": [field], "properties": {field: schema}}}}}


def _paths() -> dict[str, Any]:
    secured = [{"ApiKey": []}, {"Bearer": []}]
    return {
        "/v1/predict": {"post": {
            "summary": "Read one image", "operationId": "predict", "security": secured,
            "parameters": [_param("include_inputs", "query", _FLAG, "Add each digit's 28x28 model input")],
            "requestBody": _upload_body("file", many=False),
            "responses": {"200": _json(_ref("Reading"), "The digits read"),
                          **_errors(400, 401, 413, 415, 422, 429, 503, 504)},
        }},
        "/v1/batches": {
            "post": {
                "summary": "Queue a batch of images and/or zip archives", "operationId": "createBatch",
                "security": secured,
                "parameters": [_param("include_inputs", "query", _FLAG, "Keep each digit's 28x28 model input")],
                "requestBody": _upload_body("files", many=True),
                "responses": {"202": {**_json(_ref("Batch"), "Queued"),
                                      "headers": {"Location": {"schema": {"type": "string"}}}},
                              **_errors(400, 401, 413, 415, 429)},
            },
            "get": {
                "summary": "List batches, newest first", "operationId": "listBatches", "security": secured,
                "parameters": [_param("limit", "query", {"type": "integer", "minimum": 1, "maximum": 200,
                                                         "default": 20}, "Batches per page"),
                               _param("cursor", "query", {"type": "integer", "minimum": 0},
                                      "From the previous page's next link")],
                "responses": {"200": _json(_ref("BatchPage"), "One page"), **_errors(400, 401, 429)},
            },
        },
        "/v1/batches/{batch_id}": {
            "parameters": [_BATCH_ID],
            "get": {"summary": "One batch's status and counts", "operationId": "getBatch", "security": secured,
                    "responses": {"200": _json(_ref("Batch"), "The batch"), **_errors(401, 404, 429)}},
            "delete": {"summary": "Cancel a batch; chunks not yet run are not run", "operationId": "cancelBatch",
                       "security": secured,
                       "responses": {"200": _json(_ref("Batch"), "Cancelled"), **_errors(401, 404, 409, 429)}},
        },
        "/v1/batches/{batch_id}/results": {"get": {
            "summary": "Result rows in upload order, streamed", "operationId": "getResults", "security": secured,
            "parameters": [
                _BATCH_ID,
                _param("format", "query", {"type": "string", "enum": ["json", "jsonl", "csv"], "default": "json"},
                       "json (default), jsonl or csv"),
                _param("offset", "query", {"type": "integer", "minimum": 0, "default": 0}, "First image index"),
                _param("limit", "query", {"type": "integer", "minimum": 1, "maximum": 10000},
                       "Images per page (default: all, streamed)"),
            ],
            "responses": {"200": {"description": "The rows", "content": {
                "application/json": {"schema": _ref("Results")},
                "application/x-ndjson": {"schema": {"type": "string"}},
                "text/csv": {"schema": {"type": "string"}}}}, **_errors(400, 401, 404, 429)},
        }},
        "/v1/models": {"get": {
            "summary": "Model versions, serving state and metrics", "operationId": "listModels", "security": secured,
            "responses": {"200": _json(_ref("Models"), "The versions"), **_errors(401, 429)},
        }},
        "/healthz": {"get": {"summary": "Liveness", "operationId": "healthz", "security": [],
                             "responses": {"200": _json(_ref("Health"), "Up")}}},
        "/readyz": {"get": {"summary": "Readiness: Redis answers and the model is AVAILABLE", "operationId": "readyz",
                            "security": [], "responses": {"200": _json(_ref("Health"), "Ready"),
                                                          "503": _json(_ref("Health"), "Not ready")}}},
        "/metrics": {"get": {"summary": "Prometheus metrics", "operationId": "metrics", "security": [],
                             "responses": {"200": {"description": "Text exposition format",
                                                   "content": {"text/plain": {"schema": {"type": "string"}}}}}}},
    }


def build_spec(version: str) -> dict[str, Any]:
    """The whole document; ``version`` is the package version."""
    responses = {f"E{status}": {**_json(_ref("Error"), reason), **({"headers": _HEADERS[status]} if status in _HEADERS
                                                                   else {})}
                 for status, reason in _REASONS.items()}
    return {
        "openapi": "3.1.0",
        "info": {"title": "digits", "version": version,
                 "description": "Reads handwritten digits from scans: one image, or whole folders in batch. "
                                "With API keys, a batch belongs to the key that created it; another key gets 404 "
                                "for it. With DIGITS_RATE_LIMIT, each key (or address) gets 429 beyond it.",
                 "license": {"name": "Apache-2.0", "identifier": "Apache-2.0"}},
        "paths": _paths(),
        "components": {
            "schemas": _SCHEMAS,
            "responses": responses,
            "securitySchemes": {"ApiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key"},
                                "Bearer": {"type": "http", "scheme": "bearer"}},
        },
    }

