"""The optional LLM judgement of a live answer, off the ordered live chain.

Why: the judgement is an HTTP call (10 s timeout plus one retry). Inside the ordered per-chunk chain it held
the session's every later ``audio_processed`` for up to ~20 s whenever an answer ended. Now the live chain
stores the answer's local analysis and only *asks* for the judgement: a task on the ``interviews_slow``
queue (``interview.answer_judge``) calls the LLM, stores the judgement with the answer
(``AnswerAnalysis.analysis["llm"]``) and pushes it as its own ``real_time_feedback`` (``"source": "llm"``).

Idempotent: the judgement is claimed with a Redis ``SET NX`` per (session, answer) and a row that already
holds one is left alone, so a redelivered task neither calls the LLM twice nor publishes twice.
"""

from __future__ import annotations

import logging
from typing import Any

from celery import current_app
from django.db import transaction

from analysis.answers.llm import LlmConfig, llm_judge
from analysis.answers.questions import Question as PureQuestion
from analysis.answers.questions import QuestionSet as PureQuestionSet
from analysis.answers.questions import match_question
from analysis.models import AnswerAnalysis, QuestionSet
from sessions import events, state
from sessions.state import Keys

logger = logging.getLogger(__name__)

TASK_NAME = "interview.answer_judge"
SLOW_QUEUE = "interviews_slow"
CLAIM_TTL_S = 120  # longer than two attempts of the LLM call; a crashed claim lets a redelivery try again


def llm_config() -> LlmConfig | None:
    config = LlmConfig.from_env()
    return config if config.api_key else None


def answer_judge_request(*, session_id: str, index: int) -> bool:
    """Queue the judgement of live answer ``index`` after the current transaction commits (False: no LLM)."""
    if llm_config() is None:
        return False
    transaction.on_commit(lambda: current_app.send_task(TASK_NAME, args=[session_id, index], queue=SLOW_QUEUE))
    return True


def _claim(session_id: str, index: int) -> bool:
    return bool(state.sync_client().set(Keys(session_id).lock(f"judge:{index}"), "1", nx=True, ex=CLAIM_TTL_S))


def _release(session_id: str, index: int) -> None:
    state.sync_client().delete(Keys(session_id).lock(f"judge:{index}"))


def _expected_keywords(question_set: QuestionSet | None, question_text: str) -> list[str] | None:
    if question_set is None or not question_text:
        return None
    pure = PureQuestionSet(
        name=question_set.name,
        language=question_set.language,
        questions=tuple(
            PureQuestion(q.text, q.competency, tuple(q.expected_keywords)) for q in question_set.questions.all()
        ),
    )
    matched = match_question(question_text, pure)
    return list(matched.expected_keywords) if matched is not None else None


def feedback_items(judgement: dict[str, Any]) -> list[dict[str, str]]:
    """The judgement as feedback items, in the local feedback's {kind, severity, message} shape."""
    items = [{"kind": "llm_strength", "severity": "info", "message": s} for s in judgement.get("strengths", [])]
    items += [{"kind": "llm_improvement", "severity": "warn", "message": s} for s in judgement.get("improvements", [])]
    return items


def answer_judge(*, session_id: str, index: int) -> list[events.Event]:
    """Judge live answer ``index`` of ``session_id``, store it with the answer; the events to publish."""
    config = llm_config()
    row = AnswerAnalysis.objects.filter(interview_id=session_id, index=index, is_final=False).first()
    if config is None or row is None or row.analysis.get("llm") is not None:
        return []
    if not _claim(session_id, index):
        return []  # another delivery of this task is on it
    try:
        interview = row.interview
        expected = _expected_keywords(interview.question_set, row.question_text)
        language = row.analysis.get("language") or interview.detected_language or interview.language
        judgement, notes = llm_judge(
            question=row.question_text, answer=row.answer_text, language=language, config=config,
            expected_keywords=expected,
        )
        with transaction.atomic():
            locked = AnswerAnalysis.objects.select_for_update().get(pk=row.pk)
            analysis = dict(locked.analysis)
            if analysis.get("llm") is not None:
                return []
            analysis["llm"] = None if judgement is None else judgement.to_dict()
            analysis["notes"] = list(analysis.get("notes", [])) + notes
            analysis["llm_status"] = "done" if judgement is not None else "failed"
            locked.analysis = analysis
            locked.save(update_fields=["analysis"])
    except Exception:
        _release(session_id, index)
        raise
    if judgement is None:
        logger.info("LLM judgement of answer %s of %s failed: %s", index, session_id, "; ".join(notes))
        return []
    return [events.llm_feedback(answer_id=index, question=row.question_text,
                                items=feedback_items(judgement.to_dict()), judgement=judgement.to_dict())]
