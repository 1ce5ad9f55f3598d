from __future__ import annotations

import pytest

from analysis.diarization.roles import RoleEvidence, assign_roles, question_score


@pytest.mark.parametrize(
    "text",
    [
        "Could you describe a project you led",
        "Tell me about yourself.",
        "Why do you want this job?",
        "지금까지 어떤 프로젝트를 하셨나요",
        "자기소개 부탁드립니다. 말씀해 주세요",
        "그 결정을 왜 내리셨습니까",
    ],
)
def test_questions_in_both_languages(text: str) -> None:
    assert question_score(text) > 0


@pytest.mark.parametrize(
    "text",
    [
        "I worked on payments for three years.",
        "When I was at Kakao, I learned how to scale a team.",
        "네, 저는 삼 년 동안 결제 시스템을 만들었습니다.",
        "왜냐하면 팀이 작았기 때문입니다.",
        "",
    ],
)
def test_answers_are_not_questions(text: str) -> None:
    assert question_score(text) == 0


def test_first_speaker_is_interviewer_with_modest_confidence() -> None:
    roles = assign_roles({"S1": RoleEvidence(first=True, speech_s=5), "S2": RoleEvidence(speech_s=20)})
    assert roles["S1"].role == "interviewer" and roles["S2"].role == "candidate"
    assert 0.6 < roles["S1"].confidence < 0.9


def test_speaker_hint_beats_first_speaker_and_questions() -> None:
    roles = assign_roles(
        {
            "S1": RoleEvidence(first=True, question_text=3, speaker_hints=-1),
            "S2": RoleEvidence(speaker_hints=1),
        }
    )
    assert roles["S2"].role == "interviewer" and roles["S1"].role == "candidate"
    assert roles["S2"].confidence > 0.95


def test_questions_outweigh_speaking_first() -> None:
    roles = assign_roles({"S1": RoleEvidence(first=True), "S2": RoleEvidence(question_text=5, question_hints=1)})
    assert roles["S2"].role == "interviewer"


def test_minor_third_voice_is_unknown() -> None:
    roles = assign_roles(
        {"S1": RoleEvidence(first=True, speech_s=30), "S2": RoleEvidence(speech_s=60), "S3": RoleEvidence(speech_s=2)}
    )
    assert roles["S3"].role == "unknown"
