"""Routes under ``/api/`` (docs/api.md). Export routes end in a file extension, without a trailing slash."""

from __future__ import annotations

from django.urls import path, re_path
from rest_framework.routers import SimpleRouter

from sessions.api import views

router = SimpleRouter()
router.register("interviews", views.InterviewViewSet, basename="interview")
router.register("question-sets", views.QuestionSetViewSet, basename="question-set")

INTERVIEW = rf"^interviews/(?P<pk>{views.UUID_RE})"

urlpatterns = [
    re_path(rf"{INTERVIEW}/transcript\.(?P<fmt>json|srt|vtt|txt)$", views.TranscriptView.as_view(), name="interview-transcript"),
    re_path(rf"{INTERVIEW}/diarization\.rttm$", views.DiarizationRttmView.as_view(), name="interview-rttm"),
    re_path(rf"{INTERVIEW}/report\.json$", views.ReportJsonView.as_view(), name="interview-report-json"),
    re_path(rf"{INTERVIEW}/report\.html$", views.ReportHtmlView.as_view(), name="interview-report-html"),
    re_path(rf"{INTERVIEW}/audio$", views.AudioView.as_view(), name="interview-audio"),
    path("ws-tickets/", views.WsTicketView.as_view(), name="ws-ticket"),
    *router.urls,
]
