"""Question sets and per-answer analyses."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class QuestionSet(models.Model):
    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=80, unique=True)
    language = models.CharField(max_length=8, choices=[("ko", "Korean"), ("en", "English")])
    rubric = models.JSONField(default=dict, blank=True, help_text="Rubric override: {'weights': {...}, ...}")
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE, related_name="question_sets"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["language", "name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.language})"


class Question(models.Model):
    question_set = models.ForeignKey(QuestionSet, on_delete=models.CASCADE, related_name="questions")
    order = models.PositiveIntegerField(default=0)
    text = models.TextField()
    competency = models.CharField(max_length=64, blank=True)
    expected_keywords = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ["question_set", "order", "id"]

    def __str__(self) -> str:
        return self.text[:80]


class AnswerAnalysis(models.Model):
    """One answer of an interview, analysed and scored; ``is_final`` rows come from the final pass."""

    interview = models.ForeignKey("interview_sessions.Interview", on_delete=models.CASCADE, related_name="answers")
    index = models.PositiveIntegerField()
    is_final = models.BooleanField(default=False)
    question_text = models.TextField(blank=True)
    question = models.ForeignKey(Question, null=True, blank=True, on_delete=models.SET_NULL)
    start = models.FloatField(null=True, blank=True)
    end = models.FloatField(null=True, blank=True)
    answer_text = models.TextField(blank=True)
    analysis = models.JSONField(default=dict, help_text="analysis.answers.AnswerAnalysis.to_dict()")
    scores = models.JSONField(default=dict, blank=True)
    evidence = models.JSONField(default=dict, blank=True)
    overall = models.FloatField(null=True, blank=True)
    feedback = models.JSONField(default=list, blank=True)
    frozen_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["interview", "is_final", "index"]
        constraints = [
            models.UniqueConstraint(fields=["interview", "index", "is_final"], name="answer_unique_per_pass")
        ]

    def __str__(self) -> str:
        return f"Answer {self.index} ({'final' if self.is_final else 'live'})"
