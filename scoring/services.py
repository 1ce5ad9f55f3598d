"""Reading the stored report for pages and the API."""

from __future__ import annotations

from typing import Any

from scoring.models import InterviewReport
from scoring.report import render_report_html
from sessions.models import Interview


def report_for(interview: Interview) -> dict[str, Any] | None:
    stored = InterviewReport.objects.filter(interview=interview).first()
    return stored.report if stored is not None else None


def report_html(interview: Interview) -> str | None:
    report = report_for(interview)
    return render_report_html(report) if report is not None else None
