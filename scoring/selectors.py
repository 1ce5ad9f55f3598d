"""Reads of the stored report: the one reader for pages, the API and ``session_complete``."""

from __future__ import annotations

from typing import Any

from scoring.models import InterviewReport
from scoring.report import render_report_html
from sessions.events import ReportSummary
from sessions.models import Interview


def report_url(interview_id: str) -> str:
    return f"/interviews/{interview_id}/report/"


def report_for(interview: Interview) -> dict[str, Any] | None:
    stored = InterviewReport.objects.filter(interview=interview).first()
    return (stored.report or None) if stored is not None else None


def report_html(interview: Interview) -> str | None:
    report = report_for(interview)
    return render_report_html(report) if report is not None else None


def report_summary(interview: Interview) -> ReportSummary | None:
    """The report's headline for the ``session_complete`` event."""
    report = report_for(interview)
    if report is None:
        return None
    return {
        "stage": report.get("stage", "live"),
        "overall": report.get("overall", {}),
        "answers": [
            {"question": a.get("question"), "overall": a.get("overall"), "scores": a.get("scores"),
             "feedback": a.get("feedback", [])[:3]}
            for a in report.get("answers", [])
        ],
        "speakers": report.get("speakers", []),
    }
