"""Which domain words an interview's decodes are biased towards (docs/stt.md, "Domain words").

A question set's expected keywords (product names, technical terms) and the interview's own custom terms,
as the hotword prompt of ``analysis.stt.hotwords``; empty when ``STT_HOTWORDS`` is off.
"""

from __future__ import annotations

from django.conf import settings

from analysis.models import Question
from analysis.stt.hotwords import hotword_prompt
from sessions.models import Interview


def interview_hotwords(*, question_set_id: int | None, custom_terms: list[str]) -> str:
    """Custom terms first (the interviewer chose them for this candidate), then the set's keywords."""
    if not settings.STT_HOTWORDS:
        return ""
    keywords: list[str] = []
    if question_set_id is not None:
        for row in Question.objects.filter(question_set_id=question_set_id).order_by("order", "id"):
            keywords += [str(k) for k in row.expected_keywords or []]
    return hotword_prompt([*custom_terms, *keywords])


def hotwords_of(interview: Interview) -> str:
    return interview_hotwords(question_set_id=interview.question_set_id, custom_terms=list(interview.custom_terms or []))
