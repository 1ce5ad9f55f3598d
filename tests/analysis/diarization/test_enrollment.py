"""Interviewer enrollment: the first ``enroll_s`` seconds of a session are the interviewer's voice.

The enrollment seeds the interviewer's cluster (its windows are that voice whatever clustering says) and is
strong role evidence, so clicks and question-like text of another voice never take the role from it.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from analysis.diarization.final_labels import final_labels
from analysis.diarization.live import ENROLLED_SPEAKER, LiveDiarizer
from analysis.diarization.offline import assign_turn_roles
from analysis.diarization.roles import W_ENROLLED, Hint, RoleEvidence, assign_roles
from analysis.diarization.rttm import Turn
from analysis.diarization.simulate import role_accuracy, simulate_live


def _voice(seed: int, dim: int = 32) -> np.ndarray:
    v = np.random.default_rng(seed).normal(size=dim)
    return v / np.linalg.norm(v)


def _windows(center: np.ndarray, n: int, seed: int, noise: float = 0.15) -> np.ndarray:
    rng = np.random.default_rng(seed)
    out = center[None, :] + noise * rng.normal(size=(n, center.size)) / np.sqrt(center.size)
    return (out / np.linalg.norm(out, axis=1, keepdims=True)).astype(np.float32)


def test_enrollment_windows_seed_the_interviewer_voice() -> None:
    interviewer, candidate = _voice(1), _voice(2)
    live = LiveDiarizer(enroll_until=6.0)
    # the enrollment windows are pinned even when they are a mix (a cough, a second voice in the room)
    enroll = np.vstack([_windows(interviewer, 5, 3), _windows(candidate, 1, 4)])
    labels = live._assign(enroll, np.arange(6, dtype=float) + 0.75)
    assert labels == [ENROLLED_SPEAKER] * 6 and live.enrolled_windows == 6
    assert live.buf_labels == [ENROLLED_SPEAKER] * 6 and ENROLLED_SPEAKER in live.centroids
    # after the enrollment: the interviewer's voice goes to the seeded cluster, a new voice gets a new label
    later = np.vstack([_windows(candidate, 4, 5), _windows(interviewer, 3, 6)])
    labels = live._assign(later, np.arange(7, dtype=float) + 10.0)
    assert labels[:4] == ["S2"] * 4 and labels[4:] == [ENROLLED_SPEAKER] * 3


def test_a_call_straddling_the_enrollment_end_pins_only_the_windows_inside() -> None:
    interviewer, candidate = _voice(7), _voice(8)
    live = LiveDiarizer(enroll_until=3.0)
    vecs = np.vstack([_windows(interviewer, 3, 9), _windows(candidate, 3, 10)])
    labels = live._assign(vecs, np.array([0.75, 1.75, 2.75, 3.75, 4.75, 5.75]))
    assert labels[:3] == [ENROLLED_SPEAKER] * 3 and set(labels[3:]) == {"S2"}
    assert live.enrolled_windows == 3


def test_enrollment_survives_the_state_round_trip() -> None:
    live = LiveDiarizer(enroll_until=8.0)
    live._assign(_windows(_voice(11), 4, 12), np.arange(4, dtype=float) + 0.75)
    again = LiveDiarizer(json.loads(json.dumps(live.to_state())), enroll_until=0.0)  # the state decides
    assert again.enroll_until == 8.0 and again.enrolled_windows == 4
    assert again.buf_labels == [ENROLLED_SPEAKER] * 4
    assert LiveDiarizer(enroll_until=99.0).enroll_until == 30.0  # bounded like the socket parameter


def test_the_enrolled_voice_keeps_the_interviewer_role_against_clicks_and_questions() -> None:
    enrolled = RoleEvidence(first=True, enrolled=True, speech_s=8)
    candidate = RoleEvidence(question_hints=3, question_text=5, speech_s=30)  # answering shown questions
    roles = assign_roles({"S1": enrolled, "S2": candidate})
    assert roles["S1"].role == "interviewer" and roles["S2"].role == "candidate"
    assert roles["S1"].confidence > 0.99
    # without the enrollment the same evidence makes the candidate the interviewer
    assert assign_roles({"S1": RoleEvidence(first=True, speech_s=8), "S2": candidate})["S2"].role == "interviewer"
    # a lone enrolled voice followed by question notes is still the interviewer (not "a lone voice answering")
    alone = assign_roles({"S1": RoleEvidence(enrolled=True, question_hints=3, speech_s=20)})
    assert alone["S1"].role == "interviewer"
    # only a speaker note for the other voice and every other cue together come close
    assert W_ENROLLED > 2 * 4.0


def test_offline_roles_pin_the_speaker_of_the_enrollment() -> None:
    turns = [Turn(0.0, 1.0, "A"), Turn(1.2, 7.5, "B"), Turn(8.0, 20.0, "A"), Turn(20.5, 30.0, "B")]
    hints = [Hint(at=7.8, kind="question"), Hint(at=20.3, kind="question")]
    assert assign_turn_roles(turns, hints=hints)["B"].role == "candidate"  # A spoke first (a cough), B gets no clicks...
    roles = assign_turn_roles(turns, hints=hints, enroll_until=7.5)
    assert roles["B"].role == "interviewer" and roles["A"].role == "candidate"  # ... but B read the enrollment


@pytest.mark.models
@pytest.mark.parametrize("name", ["mock_interview_ko", "mock_interview_en"])
def test_enrollment_fixes_roles_when_questions_are_shown_to_the_candidate(interviews, name: str) -> None:
    """The questions are shown on screen: each note is followed by the candidate answering, never by the
    interviewer. Three such notes outweigh "spoke first" and the candidate becomes the interviewer (live on
    the Korean interview, in the final pass on both); the interviewer's enrollment (their first turn, read
    before the candidate joins) keeps every role right, live and final, with no correction needed."""
    audio, turns = interviews[name]
    enroll = turns[0]["end"] + 0.3
    shown = [Hint(at=t["start"] - 0.3, kind="question") for t in turns if t["role"] == "candidate"]

    plain = simulate_live(audio, hints=shown)
    plain_final = final_labels(audio, plain.corrected, hints=shown).label(plain.corrected)
    assert min(role_accuracy(plain.corrected, turns), role_accuracy(plain_final, turns)) < 0.5

    run = simulate_live(audio, hints=shown, enroll_until=enroll)
    assert not run.corrections
    assert {s.speaker for s in run.segments} == {"S1", "S2"}
    first = [s for s in run.segments if s.end <= enroll]
    assert first and all((s.speaker, s.role) == (ENROLLED_SPEAKER, "interviewer") for s in first)
    assert all(s.role_confidence >= 0.99 for s in first)
    assert role_accuracy(run.segments, turns) >= 0.98
    final = final_labels(audio, run.corrected, hints=shown, enroll_until=enroll)
    assert role_accuracy(final.label(run.corrected), turns) >= 0.98
    assert final.changed(run.corrected) == 0
