from __future__ import annotations

from django.http import HttpRequest, HttpResponse

# The probes (/healthz, /readyz, /metrics) live in interview_project.health.


def favicon(request: HttpRequest) -> HttpResponse:
    """Browsers ask for /favicon.ico on every page without an icon link (the admin, the API docs):
    answer "no icon" instead of a 404 in every log and every asset check."""
    response = HttpResponse(status=204)
    response["Cache-Control"] = "public, max-age=86400"
    return response
