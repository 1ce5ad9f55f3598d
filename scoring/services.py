"""Score writes and report storage: the rubric's results onto answer rows, the built report into its row."""

from __future__ import annotations

import logging
from statistics import fmean
from typing import Any

from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings

from analysis.models import AnswerAnalysis
from analysis.selectors import interview_get, rubric_for, scored_answers
from scoring.feedback import feedback_for_scores
from scoring.models import InterviewReport
from scoring.report import build_report
from scoring.rubric import Rubric, score_answer, score_session
from scoring.types import AnswerScore, SessionScore
from sessions import selectors as session_selectors
from sessions.models import Interview

logger = logging.getLogger(__name__)

MAX_FEEDBACK_ITEMS = 6


def _merge_feedback(analysis_items: list[dict[str, str]], score_items: list[dict[str, str]]) -> list[dict[str, str]]:
    seen: set[str] = set()
    out: list[dict[str, str]] = []
    for item in score_items + analysis_items:
        if item["message"] in seen:
            continue
        seen.add(item["message"])
        out.append(item)
    return out[:MAX_FEEDBACK_ITEMS]


def answer_score(*, row: AnswerAnalysis, rubric: Rubric) -> AnswerScore:
    """Score one analysed answer and store scores, evidence and the merged feedback on its row."""
    score = score_answer(row.analysis, rubric)
    row.scores = score.scores
    row.overall = score.overall
    row.evidence = score.evidence
    row.feedback = _merge_feedback(row.analysis.get("feedback", []), feedback_for_scores(score))
    row.save(update_fields=["scores", "overall", "evidence", "feedback"])
    return score


def session_score(interview: Interview, *, is_final: bool) -> SessionScore | None:
    """The session's score from its scored answers of one record (None before the first answer)."""
    rubric = rubric_for(interview)
    rows = scored_answers(interview, is_final=is_final)
    if not rows:
        return None
    scores = [score_answer(r.analysis, rubric) for r in rows]
    confidences = session_selectors.segment_confidences(str(interview.pk))
    return score_session(scores, stt_confidence=fmean(confidences) if confidences else 0.5)


def _interview_dict(interview: Interview) -> dict[str, Any]:
    return {
        "id": str(interview.pk),
        "language": interview.detected_language or interview.language,
        "started_at": interview.started_at.isoformat() if interview.started_at else None,
        "duration_s": interview.duration_s,
        "candidate_name": interview.candidate_name,
        "status": interview.status,
        "end_reason": interview.end_reason,
    }


def report_store(*, session_id: str, stage: str, segments: list[dict[str, Any]] | None = None,
                 live_vs_final: dict[str, Any] | None = None) -> InterviewReport | None:
    """Build the report (docs/report.schema.json) from the stored answers of ``stage`` and keep it."""
    interview = interview_get(session_id)
    is_final = stage == "final"
    if segments is None:
        segments = session_selectors.segment_payloads(session_id)
    rubric = rubric_for(interview)
    rows = scored_answers(interview, is_final=is_final)
    scores = [score_answer(r.analysis, rubric) for r in rows]
    total = session_score(interview, is_final=is_final) or score_session([], stt_confidence=0.5)
    try:
        report = build_report(
            interview=_interview_dict(interview), segments=segments, answers=[r.analysis for r in rows],
            answer_scores=scores, session=total, notes=session_selectors.note_payloads(session_id), rubric=rubric,
        )
    except SoftTimeLimitExceeded:
        raise
    except Exception:
        logger.exception("building the %s report of %s failed", stage, session_id)
        return None
    report["stage"] = stage
    report["final_pass"] = "done" if is_final else ("pending" if settings.FINAL_PASS else "off")
    defaults: dict[str, Any] = {
        "overall": total.overall, "band_low": total.band[0], "band_high": total.band[1], "scores": total.scores,
        "report": report,
    }
    if live_vs_final is not None:
        defaults["live_vs_final"] = live_vs_final
        if "speaker_labels" in live_vs_final:
            labels = live_vs_final["speaker_labels"]
            report["speaker_labels"] = {k: labels[k] for k in (
                "changed", "speaker_changes_applied", "kept_live", "reasons", "role_changes", "live_speakers",
                "final_speakers", "bound")}
    stored, _ = InterviewReport.objects.update_or_create(interview=interview, defaults=defaults)
    return stored
