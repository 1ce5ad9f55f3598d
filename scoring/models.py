"""The stored interview report: the final record, and how it differs from the live one."""

from __future__ import annotations

from django.db import models


class InterviewReport(models.Model):
    interview = models.OneToOneField("interview_sessions.Interview", on_delete=models.CASCADE, related_name="report")
    overall = models.FloatField(null=True, blank=True)
    band_low = models.FloatField(null=True, blank=True)
    band_high = models.FloatField(null=True, blank=True)
    scores = models.JSONField(default=dict, blank=True)
    report = models.JSONField(default=dict, help_text="docs/report.schema.json")
    live_vs_final = models.JSONField(
        default=dict, blank=True, help_text="words changed, labels changed, scores moved between live and final"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"Report of {self.interview_id}"
