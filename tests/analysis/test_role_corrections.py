"""Role corrections reach the stored record: segments take the new role, live answers are rebuilt."""

from __future__ import annotations

import json

import pytest

from analysis import role_corrections
from analysis.diarization.live import RoleCorrection
from analysis.models import AnswerAnalysis
from sessions.models import Interview, Segment

pytestmark = pytest.mark.django_db


def _segment(interview: Interview, index: int, speaker: str, role: str) -> Segment:
    return Segment.objects.create(interview=interview, index=index, start=index * 5.0, end=index * 5.0 + 4.0,
                                  text=f"line {index}", speaker=speaker, role=role, role_confidence=0.8, seq=index)


def test_roles_correct_updates_every_stored_segment_of_the_voice_and_returns_the_event() -> None:
    interview = Interview.objects.create()
    _segment(interview, 0, "S1", "interviewer")
    _segment(interview, 1, "S2", "candidate")
    _segment(interview, 2, "S1", "interviewer")
    _segment(interview, 3, "S2", "interviewer")  # already emitted with the new role
    fixes = [RoleCorrection("S1", "interviewer", "candidate", 0.91, "evidence"),
             RoleCorrection("S2", "candidate", "interviewer", 0.95, "evidence")]
    event = role_corrections.roles_correct(session_id=str(interview.pk), corrections=fixes)
    rows = {s.index: (s.role, s.role_confidence) for s in Segment.objects.filter(interview=interview)}
    assert rows == {0: ("candidate", 0.91), 1: ("interviewer", 0.95), 2: ("candidate", 0.91), 3: ("interviewer", 0.95)}
    assert event["type"] == "role_correction" and event["segment_ids"] == [0, 1, 2]
    assert [s["speaker"] for s in event["speakers"]] == ["S1", "S2"]
    assert json.loads(json.dumps(event)) == event  # travels through the channel layer as JSON


def test_answers_reset_only_when_the_roles_version_moved() -> None:
    interview = Interview.objects.create()
    AnswerAnalysis.objects.create(interview=interview, index=0, is_final=False, analysis={})
    AnswerAnalysis.objects.create(interview=interview, index=0, is_final=True, analysis={})
    stage = {"analysed": [0], "feedback_at": {"0": 3.0}, "roles_version": 1}
    assert not role_corrections.answers_reset(session_id=str(interview.pk), stage=stage, roles_version=1)
    assert stage["analysed"] == [0]
    assert role_corrections.answers_reset(session_id=str(interview.pk), stage=stage, roles_version=2)
    assert stage == {"analysed": [], "roles_version": 2}
    assert list(AnswerAnalysis.objects.filter(interview=interview).values_list("is_final", flat=True)) == [True]


def test_a_voice_merged_into_another_takes_its_name() -> None:
    interview = Interview.objects.create()
    _segment(interview, 0, "S1", "candidate")
    _segment(interview, 1, "S2", "interviewer")
    fixes = [RoleCorrection("S2", "interviewer", "candidate", 0.9, "same voice as S1", merged_into="S1")]
    event = role_corrections.roles_correct(session_id=str(interview.pk), corrections=fixes)
    rows = {s.index: (s.speaker, s.role) for s in Segment.objects.filter(interview=interview)}
    assert rows == {0: ("S1", "candidate"), 1: ("S1", "candidate")}
    assert event["segment_ids"] == [1] and event["speakers"][0]["merged_into"] == "S1"
