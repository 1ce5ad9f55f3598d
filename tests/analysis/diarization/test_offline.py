from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from pyannote.core import Annotation, Segment, Timeline
from pyannote.metrics.diarization import DiarizationErrorRate

from analysis.diarization.live import LabeledSegment, SegmentIn
from analysis.diarization.offline import assign_turn_roles, diarize_recording, relabel
from analysis.diarization.roles import Hint
from analysis.diarization.rttm import Turn, parse_rttm


def annotation(turns: list[Turn]) -> Annotation:
    ann = Annotation()
    for t in turns:
        ann[Segment(t.start, t.end)] = t.speaker
    return ann


@pytest.mark.models
def test_der_on_the_pyannote_sample(data_dir: Path, pyannote_sample: np.ndarray) -> None:
    audio = pyannote_sample
    ref = parse_rttm((data_dir / "diarization/pyannote_sample/sample.rttm").read_text())
    hyp = diarize_recording(audio)
    der = DiarizationErrorRate(collar=0.25, skip_overlap=False)(
        annotation(ref), annotation(hyp), uem=Timeline([Segment(0, len(audio) / 16000)])
    )
    assert der <= 0.10
    assert len({t.speaker for t in hyp}) == 2


@pytest.mark.models
def test_two_channel_recording_is_split_by_channel(stereo: np.ndarray) -> None:
    turns = diarize_recording(stereo)
    assert {t.speaker for t in turns} == {"S1", "S2"}
    s2 = [t for t in turns if t.speaker == "S2"]
    # channel 1 says one short sentence near the start; channel 0 talks through the whole file
    assert len(s2) == 1 and s2[0].end < 3.0
    assert max(t.end for t in turns if t.speaker == "S1") > 4.5


@pytest.mark.models
def test_mock_interview_turns_and_roles(interviews) -> None:
    audio, ref = interviews["mock_interview_ko"]
    turns = diarize_recording(audio, num_speakers=2)
    roles = assign_turn_roles(turns)
    for r in ref:
        mid = (r["start"] + r["end"]) / 2
        spk = next(t.speaker for t in turns if t.start - 0.5 <= mid <= t.end + 0.5)
        assert roles[spk].role == r["role"]


def test_relabel_maps_offline_speakers_onto_live_labels_and_counts_changes() -> None:
    live = [
        LabeledSegment(0.0, 2.0, "Tell me about yourself?", [], "S1", "interviewer", 0.8),
        LabeledSegment(2.5, 6.0, "I build things.", [], "S2", "candidate", 0.8),
        LabeledSegment(6.5, 8.0, "And then?", [], "S2", "candidate", 0.8),  # live got this one wrong
    ]
    offline = [Turn(0.0, 2.1, "A"), Turn(2.4, 6.1, "B"), Turn(6.4, 8.1, "A")]
    out, changed = relabel(live, offline)
    assert [s.speaker for s in out] == ["S1", "S2", "S1"]
    assert [s.role for s in out] == ["interviewer", "candidate", "interviewer"]
    assert changed == 1


def test_relabel_splits_a_segment_at_an_offline_change_and_uses_hints() -> None:
    words = [{"w": f" w{i}", "start": i * 0.5, "end": i * 0.5 + 0.4, "p": 0.9} for i in range(8)]
    seg = SegmentIn(0.0, 3.9, "w0 ... w7", words)
    offline = [Turn(0.0, 2.0, "A"), Turn(2.0, 4.0, "B")]
    out, changed = relabel([seg], offline, hints=[Hint(at=3.0, speaker="interviewer")])
    assert [s.text for s in out] == ["w0 w1 w2 w3", "w4 w5 w6 w7"]
    assert out[1].role == "interviewer" and out[0].role == "candidate"
    assert changed == 1
