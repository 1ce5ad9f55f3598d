"""Roles in the console's real flow: question clicks at realistic moments, corrections of earlier segments.

The console sends ``{"kind": "question", "speaker": "interviewer"}`` when the interviewer presses "Ask next
question". Interviewers press it just before asking, but also while the candidate is still finishing an
answer; the click is evidence for the voice that speaks next, and one stray click never flips the roles.
"""

from __future__ import annotations

import numpy as np
import pytest

from analysis.answers.timeline import build_timeline
from analysis.diarization.live import LabeledSegment, LiveDiarizer, RoleCorrection, apply_corrections
from analysis.diarization.offline import assign_turn_roles
from analysis.diarization.roles import Hint, RoleEvidence, assign_roles, clicks_answered_alone
from analysis.diarization.rttm import Turn
from analysis.diarization.simulate import role_accuracy, simulate_live, vad_segments


def click(at: float) -> Hint:
    return Hint(at=at, speaker="interviewer", kind="question", text="Q")


@pytest.mark.models
@pytest.mark.parametrize("name", ["mock_interview_ko", "mock_interview_en"])
def test_question_clicks_at_realistic_moments_keep_roles(interviews, name: str) -> None:
    audio, turns = interviews[name]
    asks = [t for t in turns if t["role"] == "interviewer"]
    answers = [t for t in turns if t["role"] == "candidate"]
    hints = [click(asks[0]["start"] - 0.3)]  # before the first question
    hints.append(click(answers[0]["end"] - 1.0))  # while the candidate is still finishing the first answer
    hints += [click(t["start"] + 0.2) for t in asks[2:]]  # a beat after the interviewer started asking
    run = simulate_live(audio, hints=hints)
    assert not run.corrections
    assert role_accuracy(run.segments, turns) >= 0.98
    candidate = {s.speaker for s in run.segments if s.start >= answers[0]["start"] and s.end <= answers[0]["end"] + 0.3}
    assert len(candidate) == 1 and all(s.role == "candidate" for s in run.segments if s.speaker in candidate)


@pytest.mark.models
def test_click_during_the_answer_goes_to_the_next_voice(interviews) -> None:
    audio, turns = interviews["mock_interview_ko"]
    segs = vad_segments(audio)
    live = LiveDiarizer()
    first_answer = turns[1]
    upto = [s for s in segs if s.end <= turns[2]["end"] + 0.2]
    live.hint(at=first_answer["end"] - 1.0, speaker="interviewer", kind="question")
    live.label(upto, audio, 0.0)
    by_role = {s: live.evidence[s] for s in live.evidence}
    interviewer = live.first_speaker
    other = next(s for s in by_role if s != interviewer)
    assert by_role[interviewer].question_hints == 1 and by_role[other].question_hints == 0
    assert by_role[other].speaker_hints == 0  # the click's "speaker" names the asker, not who speaks


def test_a_single_hint_never_overturns_accumulated_evidence() -> None:
    ev = {"S1": RoleEvidence(first=True, question_hints=1, speech_s=10), "S2": RoleEvidence(speech_s=20)}
    assert assign_roles(ev, incumbent="S1")["S1"].role == "interviewer"
    ev["S2"].question_hints += 1  # one stray click for the candidate
    assert assign_roles(ev, incumbent="S1")["S1"].role == "interviewer"
    # even from a tie, one click does not swap an incumbent interviewer
    tie = {"S1": RoleEvidence(first=True, speech_s=10), "S2": RoleEvidence(question_hints=1, speech_s=20)}
    assert assign_roles(tie, incumbent="S1")["S1"].role == "interviewer"
    # agreeing evidence from the rest of the session does
    tie["S2"].question_hints += 2
    roles = assign_roles(tie, incumbent="S1")
    assert roles["S2"].role == "interviewer" and roles["S1"].role == "candidate"


@pytest.mark.models
def test_candidate_speaking_first_is_corrected_on_earlier_segments(interviews) -> None:
    """The candidate says something before the first question: speaking first makes them the interviewer
    until the clicks and questions of the session say otherwise; then the earlier segments are corrected."""
    audio, turns = interviews["mock_interview_ko"]
    cut = turns[1]["start"] - 0.3
    audio = audio[int(cut * 16000):]
    turns = [dict(t, start=t["start"] - cut, end=t["end"] - cut) for t in turns[1:]]
    segs = vad_segments(audio)
    asks = [t for t in turns if t["role"] == "interviewer"]
    for t in asks:  # the interviewer's turns end with a question
        last = max((s for s in segs if t["start"] - 0.3 <= s.start < t["end"]), key=lambda s: s.start)
        last.text = "그 프로젝트에서 어떤 역할을 하셨나요?"
    run = simulate_live(audio, segments=segs, hints=[click(t["start"] - 0.3) for t in asks])
    assert run.segments[0].role == "interviewer"  # the first voice, before any evidence
    assert run.corrections
    first = run.corrections[0]
    assert isinstance(first, RoleCorrection) and first.speaker == run.segments[0].speaker
    assert (first.previous, first.role) == ("interviewer", "candidate")
    assert role_accuracy(run.corrected, turns) >= 0.98
    assert role_accuracy(run.segments, turns) < 0.98  # what was emitted live needed the correction


def test_apply_corrections_uses_the_latest_role_per_speaker() -> None:
    segs = [LabeledSegment(0, 1, "a", [], "S1", "interviewer", 0.8), LabeledSegment(1, 2, "b", [], "S2", "candidate", 0.8)]
    fixes = [RoleCorrection("S1", "interviewer", "candidate", 0.9, "evidence"),
             RoleCorrection("S2", "candidate", "interviewer", 0.9, "evidence")]
    out = apply_corrections(segs, fixes)
    assert [s.role for s in out] == ["candidate", "interviewer"] and out[0].role_confidence == 0.9


def test_corrections_survive_the_state_round_trip() -> None:
    live = LiveDiarizer()
    live.emitted_roles = {"S1": "interviewer", "S2": "candidate"}
    state = live.to_state()
    again = LiveDiarizer(state)
    assert again.emitted_roles == {"S1": "interviewer", "S2": "candidate"} and again.take_corrections() == []
    assert again.roles_version == 0


def test_a_lone_voice_answering_shown_questions_is_the_candidate() -> None:
    one = {"S1": RoleEvidence(first=True, question_hints=1, speech_s=8)}
    assert assign_roles(one)["S1"].role == "interviewer"  # the interviewer asking the first question
    one["S1"].question_hints = 2  # ... but the same voice again after the next question: it is answering
    assert assign_roles(one, incumbent="S1")["S1"].role == "candidate"


@pytest.mark.models
@pytest.mark.parametrize("speaker", ["ema", "emf"])
def test_one_voice_in_four_moods_answering_typed_questions(emotion_ko, speaker: str) -> None:
    """The interviewer types four questions and never speaks; one candidate answers in four moods.

    emf's sad answer first sounds like a second person live; once both have a few windows the two are
    found to be one voice and merged back (a role_correction with ``merged_into``)."""
    audio, starts = emotion_ko[speaker]
    run = simulate_live(audio, hints=[click(t - 1.0) for t in starts])
    assert {s.speaker for s in run.corrected} == {"S1"}
    assert all(s.role == "candidate" for s in run.corrected)
    if len({s.speaker for s in run.segments}) > 1:
        assert any(c.merged_into == "S1" for c in run.corrections)


def test_a_click_is_answered_alone_when_no_other_voice_speaks_before_the_next() -> None:
    turns = [(1.0, 4.0, "A"), (6.0, 9.0, "A"), (11.0, 14.0, "B"), (16.0, 19.0, "A")]
    clicks = [(0.0, "A"), (5.0, "A"), (10.0, "B"), (15.0, "A")]
    assert clicks_answered_alone(clicks, turns, lead_s=0.5) == ["A", "A", "B"]  # the last one is still open
    assert clicks_answered_alone(clicks, turns, lead_s=0.5, end=19.0) == ["A", "A", "B", "A"]
    asked = [(0.0, 3.0, "I"), (3.5, 9.0, "C"), (10.0, 12.0, "I"), (12.5, 18.0, "C")]
    assert clicks_answered_alone([(-0.2, "I"), (9.8, "I")], asked, lead_s=0.5, end=18.0) == []  # somebody answered


def test_two_voices_that_each_answered_shown_questions_alone_are_both_candidates() -> None:
    """What the console saw when one candidate's sad answer was taken for a second person: that voice
    followed a click and nobody answered it, so it is no interviewer; nor is the first voice."""
    ev = {"A": RoleEvidence(first=True, question_hints=3, answered_alone=2, speech_s=12),
          "B": RoleEvidence(question_hints=1, answered_alone=1, speech_s=4)}
    assert {r.role for r in assign_roles(ev, incumbent="B").values()} == {"candidate"}
    turns = [Turn(a, b, spk) for a, b, spk in [(1.0, 4.0, "A"), (6.0, 9.0, "A"), (11.0, 14.0, "B"), (16.0, 19.0, "A")]]
    roles = assign_turn_roles(turns, hints=[click(t) for t in (0.0, 5.0, 10.0, 15.0)])
    assert {r.role for r in roles.values()} == {"candidate"}
    # the interviewer who clicks and then asks is answered every time: still the interviewer
    asked = [Turn(a, b, spk) for a, b, spk in [(0.0, 3.0, "I"), (3.5, 9.0, "C"), (10.0, 12.0, "I"), (12.5, 18.0, "C")]]
    roles = assign_turn_roles(asked, hints=[click(-0.2), click(9.8)])
    assert roles["I"].role == "interviewer" and roles["C"].role == "candidate"
    # ... and one who asks first and clicks after: the click's voice (the candidate) answered it alone
    late = assign_turn_roles([Turn(0.0, 3.0, "I"), Turn(3.5, 9.0, "C"), Turn(9.5, 12.0, "I"), Turn(13.0, 18.0, "C")],
                             hints=[click(3.4), click(12.9)])
    assert late["I"].role == "interviewer" and late["C"].role == "candidate"


@pytest.mark.models
def test_a_second_voice_answering_a_shown_question_alone_is_a_candidate_too(emotion_ko) -> None:
    """Typed questions, and the third answer by another voice (ema): the clustering rightly finds two
    people, and neither is taken for the interviewer because each voice answered its questions alone."""
    f_audio, f_starts = emotion_ko["emf"]
    m_audio, m_starts = emotion_ko["ema"]
    cut = int(f_starts[2] * 16000)
    third = m_audio[int(m_starts[2] * 16000) : int(m_starts[3] * 16000)]
    audio = np.concatenate([f_audio[:cut], third, f_audio[int(f_starts[3] * 16000) :]])
    starts = [*f_starts[:3], f_starts[2] + len(third) / 16000]
    run = simulate_live(audio, hints=[click(t - 1.0) for t in starts])
    assert len({s.speaker for s in run.corrected}) == 2
    assert {s.role for s in run.corrected} == {"candidate"}, [(s.speaker, s.role) for s in run.corrected]


@pytest.mark.models
def test_practice_session_in_four_moods_is_all_candidate_and_four_answers(emotion_ko) -> None:
    """mode=practice: no clustering, every voice the candidate; the question notes cut four answers."""
    audio, starts = emotion_ko["emf"]
    live = LiveDiarizer(practice=True)
    live.hint(at=starts[0] - 1.0, kind="question")
    out = live.label(vad_segments(audio), audio, 0.0)
    assert {(s.speaker, s.role) for s in out} == {("S1", "candidate")} and live.dim == 0  # nothing embedded
    assert live.take_corrections() == []
    segments = [{"start": s.start, "end": s.end, "text": "답변", "role": s.role} for s in out]
    notes = [{"at": t - 1.0, "kind": "question", "text": f"질문 {i + 1}"} for i, t in enumerate(starts)]
    spans = [s for s in build_timeline(segments, notes, now=float("inf")) if s.segments]
    assert [s.question_text for s in spans] == ["질문 1", "질문 2", "질문 3", "질문 4"]
