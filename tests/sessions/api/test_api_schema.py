"""The OpenAPI schema validates, the docs page is served without a CDN, and a bounded schemathesis run
against the in-process WSGI app (authenticated as a regular user) finds no 5xx on any operation.
"""

from __future__ import annotations

import pytest
import schemathesis
from _api_fixtures import client_for
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, given, settings as hsettings
from rest_framework.authtoken.models import Token

pytestmark = pytest.mark.django_db
MAX_EXAMPLES = 12  # per operation; bounded so the folder stays fast on two cores


def test_schema_lists_every_route(client):
    response = client.get("/api/schema/?format=json")
    assert response.status_code == 200
    paths = set(response.json()["paths"])
    assert {
        "/api/interviews/", "/api/interviews/{id}/", "/api/interviews/{id}/transcript.{fmt}",
        "/api/interviews/{id}/diarization.rttm", "/api/interviews/{id}/report.json",
        "/api/interviews/{id}/report.html", "/api/interviews/{id}/audio", "/api/question-sets/",
        "/api/question-sets/{id}/", "/api/ws-tickets/",
    } <= paths  # fmt: skip


def test_docs_page_loads_assets_locally(client):
    html = client.get("/api/docs/").content.decode()
    assert "swagger-ui" in html and "cdn.jsdelivr" not in html and "unpkg" not in html
    assert "/static/drf_spectacular_sidecar/" in html


@pytest.fixture
def wsgi_app():
    # As Django's test client does: keep the test's transaction open across in-process requests.
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield get_wsgi_application()
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


def test_fuzzing_finds_no_server_errors(users, interviews, wsgi_app):
    token = Token.objects.create(user=users["owner"]).key
    schema = schemathesis.openapi.from_wsgi("/api/schema/?format=json", wsgi_app)
    headers = {"Authorization": f"Token {token}"}
    failures: list[str] = []
    statuses: set[int] = set()
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 15

    for operation in operations:

        @hsettings(max_examples=MAX_EXAMPLES, deadline=None, derandomize=True, database=None,
                   suppress_health_check=list(HealthCheck))  # fmt: skip
        @given(case=operation.as_strategy())
        def run(case):
            response = case.call(headers=headers)
            statuses.add(response.status_code)
            if response.status_code >= 500:
                failures.append(f"{case.method} {case.formatted_path} -> {response.status_code}")

        run()
    assert failures == []
    assert {200, 201, 400, 404} <= statuses  # the run reached handlers, not just the auth wall
    # The fuzzing never reached another user's data: the other interview is intact.
    assert client_for(users["other"]).get(f"/api/interviews/{interviews['other'].pk}/").status_code == 200
