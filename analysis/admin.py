"""Admin for question sets (questions edited inline) and a read-only view of answer analyses."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.http import HttpRequest

from analysis.models import AnswerAnalysis, Question, QuestionSet
from scoring.rubric_check import rubric_error


class QuestionInline(admin.TabularInline):
    model = Question
    extra = 1
    fields = ["order", "text", "competency", "expected_keywords"]
    ordering = ["order", "id"]


class QuestionSetForm(forms.ModelForm):
    class Meta:
        model = QuestionSet
        fields = "__all__"

    def clean_rubric(self) -> Any:
        value = self.cleaned_data.get("rubric")
        problem = rubric_error(value if value is not None else {})
        if problem:
            raise forms.ValidationError(f"This rubric cannot be used: {problem}")
        return value


@admin.register(QuestionSet)
class QuestionSetAdmin(admin.ModelAdmin):
    form = QuestionSetForm
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
