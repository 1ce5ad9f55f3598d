"""Helpers of the API tests: an interview built from the shared mock interview (real turn times,
speakers, roles and text), its real audio, notes, answers and a report; API clients per user.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

REPO = Path(__file__).resolve().parents[3]


def shared_data_dir() -> Path:
    return Path(os.environ.get("SHARED_DATA_DIR", REPO.parent / "shared" / "data"))


MOCK_EN = shared_data_dir() / "interviews" / "mock_interview_en.wav"
needs_data = pytest.mark.skipif(not MOCK_EN.exists(), reason="shared data not available")


def mock_turns(language: str = "en") -> list[dict[str, Any]]:
    path = shared_data_dir() / "interviews" / f"mock_interview_{language}.turns.json"
    return json.loads(path.read_text(encoding="utf-8"))


def client_for(user: Any | None, *, token: bool = True) -> APIClient:
    client = APIClient()
    if user is not None:
        if token:
            client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.get_or_create(user=user)[0].key}")
        else:
            client.force_login(user)
    return client


def make_interview(owner: Any, *, language: str = "en", with_audio: bool = True, with_report: bool = True) -> Any:
    """A completed interview stored the way the pipeline stores one, from the shared mock interview."""
    from django.core.files.base import ContentFile

    from analysis.models import AnswerAnalysis
    from scoring.models import InterviewReport
    from scoring.report import build_report
    from scoring.rubric import score_session
    from sessions.models import Interview, Note, Segment

    turns = mock_turns(language)
    interview = Interview.objects.create(
        owner=owner, candidate_name=f"candidate of {owner.username}", language=language, detected_language=language,
        status=Interview.Status.COMPLETED, duration_s=turns[-1]["end"], consent=True, last_seq=10,
    )  # fmt: skip
    segments = []
    for i, t in enumerate(turns):
        segments.append(dict(index=i, start=t["start"], end=t["end"], text=t["text"], speaker=t["speaker"],
                             role=t["role"], confidence=0.9, seq=i))  # fmt: skip
    Segment.objects.bulk_create([Segment(interview=interview, **s) for s in segments])
    Note.objects.create(interview=interview, at=12.0, text="asked for clarification", kind="note")
    AnswerAnalysis.objects.create(
        interview=interview, index=0, is_final=True, question_text=turns[0]["text"], answer_text=turns[1]["text"],
        start=turns[1]["start"], end=turns[1]["end"], overall=71.0, scores={"relevance": 70.0},
        feedback=[{"kind": "delivery.pace", "severity": "info", "message": "Pace was comfortable."}],
    )  # fmt: skip
    if with_audio:
        interview.audio.save(f"{interview.pk}.wav", ContentFile(MOCK_EN.read_bytes()), save=True)
    if with_report:
        report = build_report(
            interview={"id": str(interview.pk), "language": language, "duration_s": interview.duration_s,
                       "status": "completed", "candidate_name": interview.candidate_name,
                       "started_at": interview.started_at.isoformat()},
            segments=[{**s, "words": []} for s in segments], answers=[], answer_scores=[],
            session=score_session([], stt_confidence=0.85), notes=[],
        )  # fmt: skip
        InterviewReport.objects.create(interview=interview, overall=report["overall"]["score"], report=report)
    return interview
