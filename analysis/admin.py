"""Admin for question sets (questions edited inline) and a read-only view of answer analyses."""

from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest

from analysis.models import AnswerAnalysis, Question, QuestionSet


class QuestionInline(admin.TabularInline):
    model = Question
    extra = 1
    fields = ["order", "text", "competency", "expected_keywords"]
    ordering = ["order", "id"]


@admin.register(QuestionSet)
class QuestionSetAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "language", "owner", "question_count", "created_at"]
    list_filter = ["language"]
    search_fields = ["name", "slug", "questions__text"]
    prepopulated_fields = {"slug": ["name"]}
    inlines = [QuestionInline]

    @admin.display(description="questions")
    def question_count(self, obj: QuestionSet) -> int:
        return obj.questions.count()


@admin.register(AnswerAnalysis)
class AnswerAnalysisAdmin(admin.ModelAdmin):
    """Read-only: analyses are written by the pipeline; editing them would make reports lie."""

    list_display = ["interview", "index", "is_final", "overall", "frozen_at"]
    list_filter = ["is_final"]
    list_select_related = ["interview"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: AnswerAnalysis | None = None) -> bool:
        return False
