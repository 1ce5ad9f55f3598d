"""Read-only admin for stored reports, linking to the rendered HTML through the permission-checked API."""

from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html

from scoring.models import InterviewReport


@admin.register(InterviewReport)
class InterviewReportAdmin(admin.ModelAdmin):
    list_display = ["interview", "overall", "band_low", "band_high", "updated_at", "html"]
    list_select_related = ["interview"]
    readonly_fields = ["interview", "overall", "band_low", "band_high", "scores", "report", "live_vs_final",
                       "created_at", "updated_at", "html"]  # fmt: skip

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    @admin.display(description="report")
    def html(self, obj: InterviewReport) -> str:
        url = reverse("interview-report-html", kwargs={"pk": obj.interview_id})
        return format_html('<a href="{}">open</a>', url)
