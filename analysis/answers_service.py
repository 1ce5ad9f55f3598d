"""Services that turn stored segments and notes into answers, analyses, scores and their events.

Used by the live stages (``analysis.live_stages``) and the final pass (``analysis.final``). The pure work
is in ``analysis.answers`` and ``scoring``; here we read rows, call it, and write rows.
"""

from __future__ import annotations

import logging
from statistics import fmean
from typing import Any

from django.conf import settings
from django.db import transaction

from analysis import pipeline
from analysis.answers import (
    LlmConfig,
    VocalBaseline,
    analyze_answer,
    build_timeline,
    live_delivery,
)
from analysis.answers.questions import Question as PureQuestion
from analysis.answers.questions import QuestionSet as PureQuestionSet
from analysis.answers.questions import match_question
from analysis.models import AnswerAnalysis, QuestionSet
from scoring.feedback import feedback_for_scores
from scoring.rubric import AnswerScore, Rubric, SessionScore, score_answer, score_session
from sessions.models import Interview, Note, Segment
from sessions.state import SessionMeta

logger = logging.getLogger(__name__)

FEEDBACK_MIN_INTERVAL_S = 5.0


# --- reads --------------------------------------------------------------------------------------------------------
def segment_dicts(interview_id: str) -> list[dict[str, Any]]:
    return [
        {"id": s.index, "start": s.start, "end": s.end, "text": s.text, "confidence": s.confidence, "words": s.words,
         "speaker": s.speaker, "role": s.role, "role_confidence": s.role_confidence, "language": s.language}
        for s in Segment.objects.filter(interview_id=interview_id).order_by("index")
    ]


def note_dicts(interview_id: str) -> list[dict[str, Any]]:
    return [
        {"at": n.at, "kind": n.kind, "text": n.text, "speaker": n.speaker}
        for n in Note.objects.filter(interview_id=interview_id).order_by("at", "id")
    ]


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
        except ValueError:
            logger.warning("question set %s has an invalid rubric; using the default", qs.pk)
    return Rubric()


def session_language(interview: Interview, segments: list[dict[str, Any]]) -> str:
    lang = interview.detected_language or interview.language
    if lang in ("ko", "en"):
        return lang
    langs = [s.get("language") for s in segments if s.get("language") in ("ko", "en")]
    return max(set(langs), key=langs.count) if langs else "en"


def affect_on(interview: Interview, meta: SessionMeta | None = None) -> bool:
    if not settings.ANALYSIS_AFFECT or not interview.analysis_affect:
        return False
    if meta is not None:
        from analysis.live_stages import affect_enabled

        return affect_enabled(meta)
    return True


def llm_config() -> LlmConfig | None:
    config = LlmConfig.from_env()
    return config if config.api_key else None


# --- analysis -----------------------------------------------------------------------------------------------------
def analyse_span(
    *,
    interview: Interview,
    span: Any,
    language: str,
    pure_set: PureQuestionSet | None,
    baseline: dict[str, Any] | None,
    affect: bool,
    use_llm: bool,
    audio: Any = None,
    audio_start: float = 0.0,
) -> dict[str, Any]:
    """Analyse one answer span; returns ``AnswerAnalysis.to_dict()`` plus the matched question's keywords."""
    expected: list[str] | None = None
    if pure_set is not None and span.question_text:
        matched = match_question(span.question_text, pure_set)
        if matched is not None:
            expected = list(matched.expected_keywords)
    if audio is None and span.answer_start is not None and span.answer_end is not None:
        audio, audio_start = pipeline.audio_between(str(interview.pk), span.answer_start - 0.2, span.answer_end + 0.2)
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


def _answer_event(row: AnswerAnalysis, score: AnswerScore) -> list[dict[str, Any]]:
    delivery = row.analysis.get("delivery", {})
    metrics = {k: delivery.get(k) for k in ("rate", "rate_unit", "pause_count", "longest_pause_s", "filler_count",
                                            "response_latency_s", "duration_s")}
    metrics["overall"] = score.overall
    return [
        {"type": "real_time_feedback", "answer_id": row.index, "question": row.question_text,
         "items": row.feedback, "metrics": metrics, "final": True},
        {"type": "score_update", "scope": "answer", "answer_id": row.index, "scores": score.scores,
         "overall": score.overall, "band": [score.overall, score.overall]},
    ]


def live_step(*, meta: SessionMeta, stage: dict[str, Any], now_s: float, final: bool) -> list[dict[str, Any]]:
    """Analyse answers that have ended; send cheap delivery feedback for the one going on."""
    interview = Interview.objects.select_related("question_set").get(pk=meta.session_id)
    segments = segment_dicts(meta.session_id)
    if not segments:
        return []
    notes = note_dicts(meta.session_id)
    spans = build_timeline(segments, notes, now=float("inf") if final else now_s)
    language = session_language(interview, segments)
    _qs, pure_set = question_set_for(interview)
    analysed: list[int] = stage.setdefault("analysed", [])
    events: list[dict[str, Any]] = []
    for span in spans:
        if not span.segments:
            continue
        if span.finished and span.index not in analysed:
            analysis = analyse_span(
                interview=interview, span=span, language=language, pure_set=pure_set,
                baseline=stage.get("baseline"), affect=affect_on(interview, meta), use_llm=True,
            )
            vocal = analysis.get("vocal")
            if vocal and vocal.get("pitch_hz_median") and vocal.get("loudness_db_mean") is not None:
                from analysis.answers.prosody import VocalFeatures

                features = VocalFeatures(**vocal)
                base = stage.get("baseline")
                stage["baseline"] = (
                    VocalBaseline.from_dict(base).updated(features) if base else VocalBaseline.from_features([features])
                ).to_dict()  # type: ignore[union-attr]
            AnswerAnalysis.objects.update_or_create(
                interview=interview, index=span.index, is_final=False,
                defaults={"question_text": span.question_text, "start": analysis["start"], "end": analysis["end"],
                          "answer_text": analysis["answer_text"], "analysis": analysis, "overall": None},
            )
            analysed.append(span.index)
        elif not span.finished and span.answer_start is not None:
            last = stage.get("feedback_at", {}).get(str(span.index), -1e9)
            if now_s - last >= FEEDBACK_MIN_INTERVAL_S:
                stage.setdefault("feedback_at", {})[str(span.index)] = now_s
                metrics = live_delivery(span.segments, language=language, question_end=span.question_end).to_dict()
                events.append({"type": "real_time_feedback", "answer_id": span.index, "question": span.question_text,
                               "items": live_items(metrics, language), "metrics": metrics, "final": False})
    return events


def live_items(metrics: dict[str, Any], language: str) -> list[dict[str, str]]:
    """Short delivery nudges while the answer is going on (text and timing only)."""
    ko = language == "ko"
    items: list[dict[str, str]] = []
    rate, unit = metrics.get("rate") or 0.0, metrics.get("rate_unit")
    fast, slow = (420, 220) if unit == "spm" else (185, 100)
    if metrics.get("speech_s", 0) >= 8 and rate > fast:
        items.append({"kind": "pace", "severity": "warn",
                      "message": f"말이 빠릅니다 (분당 {rate:.0f}음절). 조금 천천히 말해 보세요." if ko
                      else f"You are speaking fast ({rate:.0f} wpm); slow down a little."})
    elif metrics.get("speech_s", 0) >= 8 and 0 < rate < slow:
        items.append({"kind": "pace", "severity": "info",
                      "message": f"말이 느린 편입니다 (분당 {rate:.0f}음절)." if ko else f"Your pace is slow ({rate:.0f} wpm)."})
    if (metrics.get("filler_per_min") or 0) > 6 and (metrics.get("filler_count") or 0) >= 3:
        fillers = ", ".join(list((metrics.get("fillers") or {}).keys())[:3])
        items.append({"kind": "fillers", "severity": "warn",
                      "message": f"군말이 잦습니다 ({fillers}). 잠깐 멈추는 편이 낫습니다." if ko
                      else f"Frequent fillers ({fillers}); a short pause works better."})
    if (metrics.get("longest_pause_s") or 0) > 4:
        items.append({"kind": "pause", "severity": "info",
                      "message": "긴 침묵이 있었습니다. 생각을 정리하는 말로 이어가 보세요." if ko
                      else "A long silence; bridge it by saying what you are thinking about."})
    return items


# --- scoring ------------------------------------------------------------------------------------------------------
def _merge_feedback(analysis_items: list[dict[str, str]], score_items: list[dict[str, str]]) -> list[dict[str, str]]:
    seen: set[str] = set()
    out: list[dict[str, str]] = []
    for item in score_items + analysis_items:
        if item["message"] in seen:
            continue
        seen.add(item["message"])
        out.append(item)
    return out[:6]


def score_row(row: AnswerAnalysis, rubric: Rubric) -> AnswerScore:
    score = score_answer(row.analysis, rubric)
    row.scores = score.scores
    row.overall = score.overall
    row.evidence = score.evidence
    row.feedback = _merge_feedback(row.analysis.get("feedback", []), feedback_for_scores(score))
    row.save(update_fields=["scores", "overall", "evidence", "feedback"])
    return score


def session_score(interview: Interview, *, is_final: bool) -> SessionScore | None:
    rubric = rubric_for(interview)
    rows = list(AnswerAnalysis.objects.filter(interview=interview, is_final=is_final).exclude(overall=None))
    if not rows:
        return None
    scores = [score_answer(r.analysis, rubric) for r in rows]
    confidences = list(Segment.objects.filter(interview=interview).values_list("confidence", flat=True))
    return score_session(scores, stt_confidence=fmean(confidences) if confidences else 0.5)


def session_event(score: SessionScore) -> dict[str, Any]:
    return {"type": "score_update", "scope": "session", "scores": score.scores, "overall": score.overall,
            "band": [round(score.band[0], 1), round(score.band[1], 1)], "n_answers": score.n_answers}


def score_pending(*, meta: SessionMeta) -> list[dict[str, Any]]:
    """Score (and freeze) every live answer analysed but not scored yet; announce them and the session score."""
    interview = Interview.objects.select_related("question_set").get(pk=meta.session_id)
    rubric = rubric_for(interview)
    events: list[dict[str, Any]] = []
    with transaction.atomic():
        for row in AnswerAnalysis.objects.filter(interview=interview, is_final=False, overall=None).order_by("index"):
            events.extend(_answer_event(row, score_row(row, rubric)))
    if events:
        total = session_score(interview, is_final=False)
        if total is not None:
            events.append(session_event(total))
    return events


def evaluate(*, session_id: str, scope: str) -> list[dict[str, Any]]:
    """Answer an ``evaluation_request``: the latest answer (provisional if still going on) or the session."""
    interview = Interview.objects.select_related("question_set").get(pk=session_id)
    if scope == "session":
        from analysis.live_stages import load_stage_state

        cached = load_stage_state(session_id, "score").get("session")
        if cached is not None:
            return [cached]
        total = session_score(interview, is_final=False)
        if total is None:
            return [{"type": "score_update", "scope": "session", "scores": {}, "overall": None, "band": [0.0, 100.0],
                     "n_answers": 0}]
        return [session_event(total)]
    segments = segment_dicts(session_id)
    spans = [s for s in build_timeline(segments, note_dicts(session_id)) if s.segments]
    if not spans:
        return [{"type": "score_update", "scope": "answer", "scores": {}, "overall": None, "band": [0.0, 100.0]}]
    span = spans[-1]
    row = AnswerAnalysis.objects.filter(interview=interview, index=span.index, is_final=False).exclude(overall=None).first()
    if row is not None:
        score = score_answer(row.analysis, rubric_for(interview))
    else:
        _qs, pure_set = question_set_for(interview)
        analysis = analyse_span(interview=interview, span=span, language=session_language(interview, segments),
                                pure_set=pure_set, baseline=None, affect=False, use_llm=False)
        score = score_answer(analysis, rubric_for(interview))
    return [{"type": "score_update", "scope": "answer", "answer_id": span.index, "scores": score.scores,
             "overall": score.overall, "band": [score.overall, score.overall], "provisional": row is None}]
