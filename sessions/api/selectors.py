"""Reads behind the API and the admin: who sees which rows, which transcript to export, the full export.

Isolation lives here, not in each view: every interview query of the API starts from
``interviews_visible_to``, so a view cannot forget the owner filter. Who sees everything is decided by model
permissions (the reviewer and admin roles, ``sessions.access.roles``), never by ``is_staff`` alone.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db.models import F, QuerySet

from scoring.selectors import report_for
from sessions.access.roles import PERM_READ_ALL_INTERVIEWS
from sessions.api.exports import TranscriptSegment, normalize_segments
from sessions.models import Interview, Note, Segment
from sessions.selectors import question_set_usable, question_sets_visible_to

# question_sets_visible_to and question_set_usable live in sessions.selectors (the WebSocket service uses them too)
__all__ = ["interviews_visible_to", "question_set_usable", "question_sets_visible_to"]


def _has_perm(user: AbstractBaseUser | AnonymousUser, permission: str) -> bool:
    """Model permission of an active user (superusers hold them all; inactive users none)."""
    return bool(getattr(user, "is_active", False) and user.has_perm(permission))


def interviews_visible_to(*, user: AbstractBaseUser | AnonymousUser) -> QuerySet[Interview]:
    """The user's own interviews (all of them for reviewers and admins), with the report's overall score."""
    queryset = Interview.objects.select_related("question_set").annotate(overall_score=F("report__overall"))
    if not getattr(user, "is_authenticated", False):
        return queryset.none()
    if _has_perm(user, PERM_READ_ALL_INTERVIEWS):
        return queryset
    return queryset.filter(owner=user)


def _live_segment_dicts(interview: Interview) -> list[dict[str, Any]]:
    return list(
        Segment.objects.filter(interview=interview)
        .order_by("index")
        .values("index", "start", "end", "text", "speaker", "role", "confidence")
    )


def interview_transcript(*, interview: Interview) -> tuple[list[TranscriptSegment], str]:
    """The final pass's transcript when it stored one (re-transcribed, re-diarized), else the live one."""
    if interview.final_segments:
        final = normalize_segments(interview.final_segments)
        if final:
            return final, "final"
    return normalize_segments(_live_segment_dicts(interview)), "live"


def interview_report_dict(*, interview: Interview) -> dict[str, Any] | None:
    """The stored report JSON, or None while the final pass has not produced one."""
    return report_for(interview)


def interview_export(*, interview: Interview) -> dict[str, Any]:
    """Everything stored about one interview as JSON (data portability; the admin's export action)."""
    answers = [
        {
            "index": a.index, "is_final": a.is_final, "question": a.question_text, "start": a.start, "end": a.end,
            "answer": a.answer_text, "overall": a.overall, "scores": a.scores, "feedback": a.feedback,
            "analysis": a.analysis,
        }
        for a in interview.answers.order_by("is_final", "index")
    ]  # fmt: skip
    notes = list(Note.objects.filter(interview=interview).values("at", "kind", "speaker", "text"))
    return {
        "id": str(interview.pk),
        "owner": interview.owner_id,
        "candidate_name": interview.candidate_name,
        "status": interview.status,
        "language": interview.language,
        "detected_language": interview.detected_language,
        "started_at": interview.started_at.isoformat() if interview.started_at else None,
        "ended_at": interview.ended_at.isoformat() if interview.ended_at else None,
        "duration_s": interview.duration_s,
        "consent": interview.consent,
        "analysis_affect": interview.analysis_affect,
        "question_set": interview.question_set.slug if interview.question_set else None,
        "segments": _live_segment_dicts(interview),
        "final_segments": interview.final_segments,
        "notes": notes,
        "answers": answers,
        "report": interview_report_dict(interview=interview),
    }
