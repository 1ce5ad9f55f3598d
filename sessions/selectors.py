"""Reads of the live interview's rows, shared by the pipeline, the reports and the end of a session."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db.models import Q, QuerySet

from sessions.access.roles import PERM_READ_ALL_QUESTION_SETS
from sessions.models import Interview, Note, Segment


def segment_payload(segment: Segment) -> dict[str, Any]:
    """The one serializer of a stored segment (the shape of ``SegmentPayload`` in ``sessions.events``)."""
    return {"id": segment.index, "start": segment.start, "end": segment.end, "text": segment.text,
            "confidence": segment.confidence, "words": segment.words, "language": segment.language,
            "speaker": segment.speaker, "role": segment.role, "role_confidence": segment.role_confidence}


def segment_payloads(session_id: str) -> list[dict[str, Any]]:
    return [segment_payload(s) for s in Segment.objects.filter(interview_id=session_id).order_by("index")]


def note_payloads(session_id: str) -> list[dict[str, Any]]:
    return [
        {"at": n.at, "kind": n.kind, "text": n.text, "speaker": n.speaker}
        for n in Note.objects.filter(interview_id=session_id).order_by("at", "id")
    ]


def segment_confidences(session_id: str) -> list[float]:
    return list(Segment.objects.filter(interview_id=session_id).values_list("confidence", flat=True))


def transcript_stats(session_id: str) -> dict[str, Any]:
    """How much transcript is stored (for ``evaluation_status``): segments, words, seconds covered."""
    segments = list(Segment.objects.filter(interview_id=session_id).values_list("text", "end"))
    words = sum(len(text.split()) for text, _ in segments)
    return {"segments": len(segments), "words": words, "transcribed_s": round(max((e for _, e in segments), default=0.0), 2)}


def _question_sets() -> Any:
    """The question set model's manager, through the interview's foreign key (sessions' models own that
    dependency; this module does not import ``analysis``)."""
    return Interview._meta.get_field("question_set").related_model._default_manager


def question_sets_visible_to(*, user: Any) -> QuerySet[Any]:
    """Shared sets (no owner, e.g. the seeded ones) and the user's own; every set for holders of
    ``view_questionset`` (reviewers, interview admins). Anonymous visitors (DEBUG demos only) get the shared
    sets.

    The one rule for the API, the console's start page and the WebSocket: a private set's questions and
    expected keywords (its answer key) are never shown to, or used by, anybody else.
    """
    queryset = _question_sets().prefetch_related("questions")
    if user is None or not getattr(user, "is_authenticated", False):
        return queryset.filter(owner__isnull=True)
    if getattr(user, "is_active", False) and user.has_perm(PERM_READ_ALL_QUESTION_SETS):
        return queryset
    return queryset.filter(Q(owner=user) | Q(owner__isnull=True))


def question_set_usable(*, slug: str, user_id: int | None) -> Any | None:
    """The set with this slug if the user may see it (``question_sets_visible_to``), else None.

    The WebSocket knows only the owner's id; an unknown slug and somebody else's private set answer the
    same, so a client cannot probe which private sets exist.
    """
    user = get_user_model().objects.filter(pk=user_id, is_active=True).first() if user_id else None
    return question_sets_visible_to(user=user).filter(slug=slug).first()


def interview_domain_terms(interview: Interview) -> list[str]:
    """The interview's custom terms, then its question set's expected keywords (docs/stt.md, "Domain words");
    the transcribe stage turns them into the hotword prompt. None when ``STT_HOTWORDS`` is off."""
    if not settings.STT_HOTWORDS:
        return []
    terms = list(interview.custom_terms or [])
    if interview.question_set is not None:
        for question in interview.question_set.questions.order_by("order", "id"):
            terms += [str(k) for k in question.expected_keywords or []]
    return terms
