"""Reads of the live interview's rows, shared by the pipeline, the reports and the end of a session."""

from __future__ import annotations

from typing import Any

from sessions.models import Note, Segment


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
