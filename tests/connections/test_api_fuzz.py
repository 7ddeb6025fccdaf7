"""The order API fuzzed from its own OpenAPI schema (its /api/v1/
operations, through the lean /api/ stack): no input gives a 5xx, and every
error is JSON."""

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error

from connections.services.api_keys import channel_api_key_create
from oms.wsgi import application

schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", application).include(
    path_regex=r"^/api/v1/"
)


@pytest.fixture(autouse=True)
def _keep_the_test_connection():
    """Call the WSGI app as Django's test client does: without closing the
    database connection (the test's transaction) at the end of each request."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def auth(channel, product, stock):
    stock(product, 1000)
    return {"Authorization": f"Bearer {channel_api_key_create(channel=channel)[1]}"}


@schema.parametrize()
@settings(
    max_examples=40,
    deadline=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
)
def test_api_never_answers_5xx(case, auth):
    # Each test gets its own key, so 40 examples stay within its rate limit.
    response = case.call(headers=auth)
    assert response.status_code < 500, (
        f"{case.method} {case.formatted_path} → {response.status_code}: "
        f"{response.text[:500]}"
    )
    case.validate_response(response, checks=[not_a_server_error])
    if response.status_code >= 400:
        (content_type,) = {k.lower(): v for k, v in response.headers.items()}[
            "content-type"
        ]
        assert content_type == "application/json", response.text[:500]
        assert response.json()["detail"]
