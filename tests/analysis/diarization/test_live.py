from __future__ import annotations

import json

import numpy as np
import pytest

from analysis.diarization.live import (
    MAX_WINDOWS_PER_SPEAKER,
    LiveDiarizer,
    SegmentIn,
    channel_turns,
)
from analysis.diarization.roles import Hint
from analysis.diarization.simulate import PSEUDO_WORD_S, role_accuracy, simulate_live, vad_segments


@pytest.mark.models
@pytest.mark.parametrize("name", ["mock_interview_en", "mock_interview_ko"])
def test_streaming_roles_on_mock_interviews(interviews, name: str) -> None:
    audio, turns = interviews[name]
    run = simulate_live(audio, chunk_s=2.0)
    assert role_accuracy(run.segments, turns) >= 0.95
    # one label per real voice: the interviewer's voice is not split early in the session
    assert len({s.speaker for s in run.segments}) == 2
    assert run.segments[0].speaker == "S1" and run.segments[0].role == "interviewer"


@pytest.mark.models
def test_hints_override_who_spoke_first(interviews) -> None:
    audio, turns = interviews["mock_interview_en"]
    candidate_turn = next(t for t in turns if t["role"] == "candidate")
    # a client that says the first voice is the candidate and the second the interviewer
    hints = [Hint(at=turns[0]["start"] + 2, speaker="candidate"), Hint(at=candidate_turn["start"] + 2, speaker="interviewer")]
    run = simulate_live(audio, hints=hints)
    late = [s for s in run.segments if s.start > candidate_turn["end"]]
    assert late and all(
        (s.role == "candidate") == (s.speaker == run.segments[0].speaker) for s in late
    )
    assert max(s.role_confidence for s in late) > 0.95


@pytest.mark.models
def test_segment_spanning_a_speaker_change_is_split_on_words(interviews) -> None:
    audio, turns = interviews["mock_interview_en"]
    segs = vad_segments(audio)
    live = LiveDiarizer()
    first = [s for s in segs if s.end <= turns[0]["end"] + 0.2]
    live.label(first, audio[: int(first[-1].end * 16000)], 0.0)
    # glue the candidate's first utterance onto the interviewer's second turn, as STT might
    change = turns[2]["start"]
    a = [s for s in segs if s.start >= turns[1]["start"] and s.end <= turns[1]["end"] + 0.2][-1]
    b = next(s for s in segs if s.start >= change - 0.3)
    words = a.words + b.words
    glued = SegmentIn(a.start, b.end, "", words)
    out = live.label([glued], audio, 0.0)
    assert [s.speaker for s in out] == ["S2", "S1"]
    assert abs(out[0].end - turns[1]["end"]) < 1.0 + PSEUDO_WORD_S
    assert out[1].words[0]["start"] >= turns[1]["end"] - 0.5


@pytest.mark.models
def test_state_round_trips_through_json_and_stays_bounded(interviews) -> None:
    audio, _ = interviews["mock_interview_ko"]
    segs = vad_segments(audio)
    live = LiveDiarizer()
    sizes = []
    for _ in range(4):  # replay the session four times: ~200 s of speech
        for seg in segs:
            state = json.loads(json.dumps(live.to_state()))
            live = LiveDiarizer(state)
            live.label([seg], audio, 0.0)
            sizes.append(len(json.dumps(live.to_state())))
    # the buffer reached its per-voice cap and the stored state stopped growing
    assert sorted(live.buf_labels.count(s) for s in set(live.buf_labels)) == [MAX_WINDOWS_PER_SPEAKER] * 2
    last_quarter = sizes[-len(sizes) // 4 :]
    assert max(last_quarter) - min(last_quarter) < 0.05 * max(last_quarter)
    assert max(sizes) < 100_000


@pytest.mark.models
def test_two_channel_file_is_separated_by_channel(stereo: np.ndarray) -> None:
    # per-channel utterances stand in for what STT commits; both people talk at once at the start
    per_channel = {ch: [t for t in channel_turns(stereo) if t.speaker == f"S{ch + 1}"] for ch in (0, 1)}
    segs = [SegmentIn(t.start, t.end, "", []) for ts in per_channel.values() for t in ts]
    out = LiveDiarizer(channels=2).label(segs, stereo.mean(axis=1), 0.0, channel_audio=stereo)
    by_time = {(round(s.start, 3), round(s.end, 3)): s for s in out}
    for ch, ts in per_channel.items():
        for t in ts:
            seg = by_time[(round(t.start, 3), round(t.end, 3))]
            assert seg.speaker == f"S{ch + 1}"
            assert seg.role == ("interviewer", "candidate")[ch] and seg.role_confidence > 0.9


@pytest.mark.models
def test_two_channel_sequential_speech_in_one_segment_is_split(stereo: np.ndarray) -> None:
    # make a turn-taking recording: channel 1's speech, then channel 0's, no overlap
    left, right = stereo[:, 0], stereo[:, 1]
    n = 16000 * 3
    two = np.zeros((2 * n, 2), dtype=np.float32)
    two[:n, 1] = right[:n]
    two[n:, 0] = left[16000 * 2 : 16000 * 2 + n]
    words = [{"w": " x", "start": t, "end": t + 0.25, "p": 1.0} for t in np.arange(0.3, 5.7, 0.25)]
    out = LiveDiarizer(channels=2).label([SegmentIn(0.3, 5.95, "", words)], two.mean(axis=1), 0.0, channel_audio=two)
    assert [s.speaker for s in out] == ["S2", "S1"]
    assert abs(out[0].end - 3.0) < 0.6


def test_two_channel_session_refuses_mono_audio() -> None:
    with pytest.raises(ValueError):
        LiveDiarizer(channels=2).label([SegmentIn(0.0, 1.0, "", [])], np.zeros(16000, np.float32), 0.0)


def test_no_segments_is_a_no_op() -> None:
    live = LiveDiarizer()
    assert live.label([], np.zeros(0, np.float32), 0.0) == []
    assert json.loads(json.dumps(live.to_state()))["next_id"] == 1
