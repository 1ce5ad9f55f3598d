"""Reads for the analysis of answers: the interview's question set and rubric, its language, its answer rows."""

from __future__ import annotations

import logging
from typing import Any

from django.conf import settings

from analysis.answers.questions import Question as PureQuestion
from analysis.answers.questions import QuestionSet as PureQuestionSet
from analysis.models import AnswerAnalysis, Question, QuestionSet
from analysis.stt.hotwords import hotword_prompt
from scoring.rubric import Rubric
from scoring.rubric_check import RUBRIC_ERRORS
from sessions.models import Interview

logger = logging.getLogger(__name__)


def interview_get(session_id: str) -> Interview:
    return Interview.objects.select_related("question_set").get(pk=session_id)


def question_set_for(interview: Interview) -> tuple[QuestionSet | None, PureQuestionSet | None]:
    qs = interview.question_set
    if qs is None:
        return None, None
    pure = PureQuestionSet(
        name=qs.name,
        language=qs.language,
        questions=tuple(PureQuestion(q.text, q.competency, tuple(q.expected_keywords)) for q in qs.questions.all()),
    )
    return qs, pure


def rubric_for(interview: Interview) -> Rubric:
    qs = interview.question_set
    if qs is not None and qs.rubric:
        try:
            return Rubric.from_dict(qs.rubric)
        except RUBRIC_ERRORS as exc:  # a bad stored rubric never stops a session
            logger.warning("question set %s has an invalid rubric (%s); scoring with the default rubric", qs.pk, exc)
    return Rubric()


def session_language(interview: Interview, segments: list[dict[str, Any]]) -> str:
    lang = interview.detected_language or interview.language
    if lang in ("ko", "en"):
        return lang
    langs = [s.get("language") for s in segments if s.get("language") in ("ko", "en")]
    return max(set(langs), key=langs.count) if langs else "en"


def scored_answers(interview: Interview, *, is_final: bool) -> list[AnswerAnalysis]:
    """The answer rows of one record (live or final) that have a score, in answer order."""
    return list(AnswerAnalysis.objects.filter(interview=interview, is_final=is_final).exclude(overall=None)
                .order_by("index"))


def interview_hotwords(interview: Interview) -> str:
    """Domain words of an interview as a hotword prompt (docs/stt.md): its custom terms first, then its
    question set's expected keywords; "" when ``STT_HOTWORDS`` is off."""
    if not settings.STT_HOTWORDS:
        return ""
    keywords: list[str] = []
    if interview.question_set_id is not None:
        for row in Question.objects.filter(question_set_id=interview.question_set_id).order_by("order", "id"):
            keywords += [str(k) for k in row.expected_keywords or []]
    return hotword_prompt([*(interview.custom_terms or []), *keywords])
