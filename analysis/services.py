"""Answer rows: turn stored segments and notes into analysed answers, and the one affect policy.

Used by the live stages (``analysis.pipeline.analyze`` / ``score``), the final pass and ``evaluate``. The
pure work is in ``analysis.answers`` and ``scoring``; here we read rows, call it, and write rows. Audio comes
in through an ``AudioSource`` the caller passes (the pipeline owns audio access).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import numpy as np
from django.conf import settings
from django.db import transaction

from analysis import judge_service
from analysis.answers import LlmConfig, analyze_answer, baseline_after, build_timeline, live_delivery
from analysis.answers.feedback import live_pace_items
from analysis.answers.questions import QuestionSet as PureQuestionSet
from analysis.answers.questions import match_question
from analysis.models import AnswerAnalysis
from analysis.selectors import interview_get, question_set_for, rubric_for, session_language
from scoring import services as scoring_services
from scoring.rubric import score_answer
from sessions import events, selectors
from sessions.models import Interview
from sessions.state import SessionMeta

logger = logging.getLogger(__name__)

FEEDBACK_MIN_INTERVAL_S = 5.0  # live delivery feedback at most this often per answer (no flicker)

AudioSource = Callable[[float, float], tuple[np.ndarray, float]]  # (start_s, end_s) -> (16 kHz mono, its start)


def affect_on(interview: Interview) -> bool:
    """The one affect switch: the deployment allows it and the interview asked for it (or did not refuse).

    ``Interview.analysis_affect`` records the client's ``analysis_affect`` (the deployment default when it
    sent none), so the live stages, the final pass and ``evaluate`` all decide the same way.
    """
    return bool(settings.ANALYSIS_AFFECT and interview.analysis_affect)


def llm_config() -> LlmConfig | None:
    config = LlmConfig.from_env()
    return config if config.api_key else None


def answer_analyse(
    *,
    interview: Interview,
    span: Any,
    language: str,
    pure_set: PureQuestionSet | None,
    baseline: dict[str, Any] | None,
    affect: bool,
    use_llm: bool,
    audio_source: AudioSource | None = None,
    audio: np.ndarray | None = None,
    audio_start: float = 0.0,
) -> dict[str, Any]:
    """Analyse one answer span; returns ``AnswerAnalysis.to_dict()`` plus the matched question's keywords."""
    expected: list[str] | None = None
    if pure_set is not None and span.question_text:
        matched = match_question(span.question_text, pure_set)
        if matched is not None:
            expected = list(matched.expected_keywords)
    if audio is None and audio_source is not None and span.answer_start is not None and span.answer_end is not None:
        audio, audio_start = audio_source(span.answer_start - 0.2, span.answer_end + 0.2)
    result = analyze_answer(
        span,
        language=language,
        audio=audio if audio is not None and len(audio) else None,
        audio_start=audio_start,
        expected_keywords=expected,
        affect=affect,
        llm=llm_config() if use_llm else None,
        baseline=baseline,
    )
    return result.to_dict()


def answers_live_step(*, meta: SessionMeta, stage: dict[str, Any], now_s: float, final: bool,
                      audio_source: AudioSource) -> list[events.Event]:
    """Analyse answers that have ended; send cheap delivery feedback for the one going on."""
    interview = interview_get(meta.session_id)
    segments = selectors.segment_payloads(meta.session_id)
    if not segments:
        return []
    notes = selectors.note_payloads(meta.session_id)
    spans = build_timeline(segments, notes, now=float("inf") if final else now_s)
    language = session_language(interview, segments)
    _qs, pure_set = question_set_for(interview)
    analysed: list[int] = stage.setdefault("analysed", [])
    out: list[events.Event] = []
    # The candidate's voice so far: Redis stage state, or the interview row if that state was lost. Kept
    # only while affect is on: with it off no voice profile of the candidate is built or stored.
    affect = affect_on(interview)
    baseline = (stage.get("baseline") or interview.voice_baseline) if affect else None
    for span in spans:
        if not span.segments:
            continue
        if span.finished and span.index not in analysed:
            analysis = answer_analyse(
                interview=interview, span=span, language=language, pure_set=pure_set,
                baseline=baseline, affect=affect, use_llm=False, audio_source=audio_source,
            )
            if affect:
                baseline = baseline_after(baseline, analysis)
            AnswerAnalysis.objects.update_or_create(
                interview=interview, index=span.index, is_final=False,
                defaults={"question_text": span.question_text, "start": analysis["start"], "end": analysis["end"],
                          "answer_text": analysis["answer_text"], "analysis": analysis, "overall": None},
            )
            analysed.append(span.index)
            # the LLM judgement is an HTTP call: its own queue, never the ordered live chain
            judge_service.answer_judge_request(session_id=meta.session_id, index=span.index)
        elif not span.finished and span.answer_start is not None:
            last = stage.get("feedback_at", {}).get(str(span.index), -1e9)
            if now_s - last >= FEEDBACK_MIN_INTERVAL_S:
                stage.setdefault("feedback_at", {})[str(span.index)] = now_s
                metrics = live_delivery(span.segments, language=language, question_end=span.question_end).to_dict()
                out.append(events.live_feedback(answer_id=span.index, question=span.question_text,
                                                items=live_pace_items(metrics, language), metrics=metrics))
    if affect and baseline != stage.get("baseline"):
        stage["baseline"] = baseline
        Interview.objects.filter(pk=interview.pk).update(voice_baseline=baseline)
    return out


def answers_score_pending(*, meta: SessionMeta) -> list[events.Event]:
    """Score (and freeze) every live answer analysed but not scored yet; announce them and the session score."""
    interview = interview_get(meta.session_id)
    rubric = rubric_for(interview)
    out: list[events.Event] = []
    with transaction.atomic():
        for row in AnswerAnalysis.objects.filter(interview=interview, is_final=False, overall=None).order_by("index"):
            score = scoring_services.answer_score(row=row, rubric=rubric)
            out.extend(events.answer_scored(answer_id=row.index, question=row.question_text, feedback=row.feedback,
                                            delivery=row.analysis.get("delivery", {}), score=score))
    if out:
        total = scoring_services.session_score(interview, is_final=False)
        if total is not None:
            out.append(events.session_score(total))
    return out


def evaluate(*, session_id: str, scope: str, cached_session: events.ScoreUpdate | None,
             audio_source: AudioSource | None = None) -> list[events.Event]:
    """Answer an ``evaluation_request``: the latest answer (provisional if still going on) or the session."""
    interview = interview_get(session_id)
    if scope == "session":
        if cached_session is not None:
            return [cached_session]
        total = scoring_services.session_score(interview, is_final=False)
        return [events.session_score(total) if total is not None else events.no_score("session")]
    segments = selectors.segment_payloads(session_id)
    spans = [s for s in build_timeline(segments, selectors.note_payloads(session_id)) if s.segments]
    if not spans:
        return [events.no_score("answer")]
    span = spans[-1]
    row = AnswerAnalysis.objects.filter(interview=interview, index=span.index, is_final=False).exclude(overall=None).first()
    if row is not None:
        score = score_answer(row.analysis, rubric_for(interview))
    else:
        _qs, pure_set = question_set_for(interview)
        analysis = answer_analyse(interview=interview, span=span, language=session_language(interview, segments),
                                  pure_set=pure_set, baseline=None, affect=False, use_llm=False,
                                  audio_source=audio_source)
        score = score_answer(analysis, rubric_for(interview))
    return [events.answer_score(answer_id=span.index, score=score, provisional=row is None)]
