from __future__ import annotations

from django.urls import path

from sessions import console, views

urlpatterns = [
    path("favicon.ico", views.favicon, name="favicon"),
    # the browser console (docs/console.md)
    path("", console.start, name="console-start"),
    path("interviews/live/", console.live, name="console-live"),
    path("interviews/<uuid:interview_id>/report/", console.report, name="console-report"),
    path("static/console/<path:path>", console.console_static, name="console-static"),
]
