"""The staff monitoring page: live sessions with their lag, last chunk age, stage timings, node and worker.

For operators without Prometheus (docs/operations.md). The page is one template that polls ``live.json``
every two seconds; both need a staff login (the admin's).
"""

from __future__ import annotations

import time

from django.contrib.admin.views.decorators import staff_member_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render

from celery_app import app as celery_app
from interview_project import metrics
from sessions import monitor

REFRESH_MS = 2000


@staff_member_required
def live_page(request: HttpRequest) -> HttpResponse:
    response = render(request, "ops/live.html", {"refresh_ms": REFRESH_MS, "stages": metrics.STAGES})
    response["Cache-Control"] = "no-store"
    return response


@staff_member_required
def live_json(request: HttpRequest) -> JsonResponse:
    try:
        depths = monitor.queue_depths(celery_app, metrics.QUEUES)
    except Exception as exc:  # the page still lists sessions when the broker is away
        depths = {"error": type(exc).__name__}
    sessions = [s.as_dict() for s in monitor.live_sessions()]
    response = JsonResponse({"now": time.time(), "sessions": sessions, "queues": depths, "node": monitor.node_name()})
    response["Cache-Control"] = "no-store"
    return response
