"""Admin for reviewing interviews: list with scores, transcript coloured by role, audio, answers, notes.

Deleting here (the change page's delete or the "delete selected" action) goes through
``sessions.retention.interview_erase``: the audio file and the live Redis state go with the rows.
Audio plays through the API's permission-checked route, never a public media URL.
"""

from __future__ import annotations

import json
from typing import Any

from django.contrib import admin, messages
from django.db.models import F, QuerySet
from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from django.utils.html import format_html, format_html_join

from analysis import tasks
from analysis.models import AnswerAnalysis
from sessions.api.selectors import interview_export
from sessions.models import Interview, Note, Segment
from sessions.retention import interview_erase

ROLE_COLOURS = {"interviewer": "#1f5fa8", "candidate": "#1d7a3a", "unknown": "#666666"}


class NoteInline(admin.TabularInline):
    model = Note
    extra = 0
    fields = ["at", "kind", "speaker", "text"]
    readonly_fields = fields
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class AnswerInline(admin.StackedInline):
    model = AnswerAnalysis
    extra = 0
    fields = ["index", "is_final", "question_text", "answer_text", "overall", "scores_table", "feedback_list"]
    readonly_fields = fields
    can_delete = False
    ordering = ["is_final", "index"]

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.display(description="scores")
    def scores_table(self, obj: AnswerAnalysis) -> str:
        if not obj.scores:
            return "-"
        rows = ((k, v if not isinstance(v, float) else round(v, 1)) for k, v in sorted(obj.scores.items()))
        return format_html("<table>{}</table>", format_html_join("", "<tr><th>{}</th><td>{}</td></tr>", rows))

    @admin.display(description="feedback")
    def feedback_list(self, obj: AnswerAnalysis) -> str:
        items = [f.get("message", "") if isinstance(f, dict) else str(f) for f in obj.feedback or []]
        if not items:
            return "-"
        return format_html("<ul>{}</ul>", format_html_join("", "<li>{}</li>", ((i,) for i in items)))


@admin.register(Interview)
class InterviewAdmin(admin.ModelAdmin):
    list_display = ["candidate", "started_at", "duration", "language", "status", "overall_score"]
    list_filter = ["status", "language", ("started_at", admin.DateFieldListFilter)]
    search_fields = ["candidate_name", "segments__text"]
    date_hierarchy = "started_at"
    list_select_related = ["owner"]
    actions = ["rerun_final_pass", "export_json"]
    inlines = [AnswerInline, NoteInline]
    readonly_fields = [
        "id", "owner", "status", "language", "detected_language", "started_at", "ended_at", "duration_s",
        "sample_rate", "channels", "last_seq", "consent", "analysis_affect", "question_set", "error_message",
        "end_reason", "voice_baseline", "audio_player", "report_links", "transcript",
    ]  # fmt: skip
    fieldsets = [
        (None, {"fields": ["id", "candidate_name", "owner", "status", "end_reason", "language", "detected_language",
                           "question_set", "consent", "analysis_affect", "voice_baseline"]}),  # fmt: skip
        ("Recording", {"fields": ["started_at", "ended_at", "duration_s", "sample_rate", "channels", "last_seq",
                                  "audio_player", "report_links", "error_message"]}),  # fmt: skip
        ("Transcript", {"fields": ["transcript"]}),
    ]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Interview]:
        return super().get_queryset(request).annotate(overall_value=F("report__overall"))

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # interviews come from the WebSocket, not from a form

    @admin.display(description="candidate", ordering="candidate_name")
    def candidate(self, obj: Interview) -> str:
        return obj.candidate_name or "(unnamed)"

    @admin.display(description="duration", ordering="duration_s")
    def duration(self, obj: Interview) -> str:
        minutes, seconds = divmod(int(round(obj.duration_s)), 60)
        return f"{minutes}:{seconds:02d}"

    @admin.display(description="overall", ordering="overall_value")
    def overall_score(self, obj: Interview) -> str:
        value = getattr(obj, "overall_value", None)
        if value is None:
            report = getattr(obj, "report", None) if hasattr(obj, "report") else None
            value = ((report.report or {}).get("overall") or {}).get("score") if report else None
        return "-" if value is None else f"{value:.0f}"

    @admin.display(description="audio")
    def audio_player(self, obj: Interview) -> str:
        if not obj.audio:
            return "-"
        url = reverse("interview-audio", kwargs={"pk": obj.pk})
        return format_html('<audio controls preload="metadata" src="{}"></audio>', url)

    @admin.display(description="exports")
    def report_links(self, obj: Interview) -> str:
        links = [
            (reverse("interview-report-html", kwargs={"pk": obj.pk}), "report (HTML)"),
            (reverse("interview-report-json", kwargs={"pk": obj.pk}), "report (JSON)"),
            (reverse("interview-transcript", kwargs={"pk": obj.pk, "fmt": "vtt"}), "transcript (VTT)"),
            (reverse("interview-rttm", kwargs={"pk": obj.pk}), "speakers (RTTM)"),
        ]
        return format_html_join(" · ", '<a href="{}">{}</a>', links)

    @admin.display(description="transcript")
    def transcript(self, obj: Interview) -> str:
        segments = obj.final_segments or list(
            Segment.objects.filter(interview=obj).order_by("index").values("start", "end", "speaker", "role", "text")
        )
        if not segments:
            return "-"
        rows = (
            (
                ROLE_COLOURS.get(str(s.get("role") or "unknown"), ROLE_COLOURS["unknown"]),
                f"{float(s.get('start') or 0):7.1f}s",
                str(s.get("role") or s.get("speaker") or "unknown"),
                str(s.get("text") or ""),
            )
            for s in segments
            if isinstance(s, dict)
        )
        body = format_html_join(
            "", '<p style="margin:2px 0;color:{}"><code>{}</code> <b>{}</b>: {}</p>', rows
        )
        return format_html('<div class="transcript" style="max-height:32em;overflow:auto">{}</div>', body)

    # --- deletion = erasure everywhere ----------------------------------------------------------------------
    def delete_model(self, request: HttpRequest, obj: Interview) -> None:
        interview_erase(interview=obj)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Interview]) -> None:
        for interview in list(queryset):
            interview_erase(interview=interview)

    def get_actions(self, request: HttpRequest) -> dict[str, Any]:
        actions = super().get_actions(request)
        if "delete_selected" in actions:
            func, name, _ = actions["delete_selected"]
            actions["delete_selected"] = (func, name, "Delete selected interviews everywhere (rows, audio, live state)")
        return actions

    # --- actions ----------------------------------------------------------------------------------------------
    @admin.action(description="Re-run the final pass", permissions=["change"])
    def rerun_final_pass(self, request: HttpRequest, queryset: QuerySet[Interview]) -> None:
        count = 0
        for pk in queryset.values_list("pk", flat=True):
            tasks.enqueue_final_pass(str(pk))
            count += 1
        self.message_user(request, f"Final pass queued for {count} interview(s).", messages.SUCCESS)

    @admin.action(description="Export selected as JSON")
    def export_json(self, request: HttpRequest, queryset: QuerySet[Interview]) -> HttpResponse:
        payload = [interview_export(interview=i) for i in queryset.select_related("question_set")]
        response = HttpResponse(
            json.dumps({"interviews": payload}, ensure_ascii=False, indent=1), content_type="application/json"
        )
        response["Content-Disposition"] = 'attachment; filename="interviews.json"'
        return response
