"""The OpenAPI document is valid 3.1, and the API honours it under generated requests."""

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from openapi_spec_validator import validate
from schemathesis import checks

from gateway import create_app
from gateway.settings import GatewaySettings

KEY = "schema-test-key"


@pytest.fixture(scope="module")
def app(redis_url, model_rest_url, model_base, gateway_url):
    # The session's stack (worker, model server) listens on this Redis, so queued work is real.
    settings = GatewaySettings(redis_url=redis_url, serving_rest_url=model_rest_url, model_base=model_base,
                               api_keys=(KEY,), max_files=50, max_file_bytes=200_000, predict_timeout=10)
    return create_app(settings)


@pytest.fixture(scope="module")
def api_schema(app):
    return schemathesis.openapi.from_wsgi("/openapi.json", app)


def test_the_document_is_valid_openapi_3_1(app):
    spec = app.test_client().get("/openapi.json").json
    validate(spec)
    assert spec["openapi"] == "3.1.0"
    assert {"/v1/predict", "/v1/batches", "/v1/batches/{batch_id}", "/v1/batches/{batch_id}/results",
            "/v1/models", "/healthz", "/readyz", "/metrics"} <= set(spec["paths"])


def test_docs_render_the_document_without_a_cdn(app):
    client = app.test_client()
    page = client.get("/docs").data.decode()
    assert "/openapi.json" in page and "https://" not in page
    assert client.get("/docs/static/swagger-ui-bundle.js").status_code == 200


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
def test_generated_requests_get_documented_answers(case):
    # Every other check stays on. A schema-valid PNG can still hold no digit, and 422
    # no_digit_found is then the right answer, so "valid data is accepted" does not apply.
    case.call_and_validate(headers={"X-API-Key": KEY}, excluded_checks=[checks.positive_data_acceptance])
