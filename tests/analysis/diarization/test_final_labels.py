"""The final pass is never worse than live: bounded voices, merged halves, live kept where unsure."""

from __future__ import annotations

import numpy as np
import pytest

from analysis.diarization.final_labels import final_labels
from analysis.diarization.live import LabeledSegment
from analysis.diarization.offline import diarize_recording
from analysis.diarization.rttm import Turn
from analysis.diarization.simulate import role_accuracy, simulate_live


@pytest.mark.models
def test_a_correct_live_labelling_survives_a_final_clustering_that_splits_a_voice(interviews) -> None:
    """The failure seen in the service: the re-clustering found three speakers in a two-person interview."""
    audio, turns = interviews["mock_interview_ko"]
    live = simulate_live(audio).corrected
    assert role_accuracy(live, turns) >= 0.98 and len({s.speaker for s in live}) == 2  # live is right
    split = diarize_recording(audio, num_speakers=3)  # a re-clustering that cuts one voice in two
    assert len({t.speaker for t in split}) == 3
    final = final_labels(audio, live, turns=split)
    assert final.changed(live) == 0
    assert [(s.speaker, s.role) for s in final.label(live)] == [(s.speaker, s.role) for s in live]
    summary = final.summary(live)
    assert summary["changed"] == 0 and summary["reasons"] == {"final cluster merged back: same voice": 1}
    # and unforced, the bound and the merge give the same two voices
    free = final_labels(audio, live)
    assert free.bound == 2 and free.final_speakers == 2 and free.changed(live) == 0


@pytest.mark.models
def test_final_pass_fixes_a_minor_voice_the_live_path_invented(pyannote_sample) -> None:
    audio = pyannote_sample
    live = simulate_live(audio).corrected
    final = final_labels(audio, live)
    assert final.bound == 2 and len({t.speaker for t in final.turns}) == 2
    summary = final.summary(live)
    assert summary["changed"] >= 1 and "minor live voice not found by the final pass" in summary["reasons"]
    assert {t.speaker for t in final.turns} <= {s.speaker for s in live}  # live names are kept


@pytest.mark.models
def test_a_final_clustering_that_hears_one_voice_cannot_merge_two_people(interviews) -> None:
    audio, turns = interviews["mock_interview_en"]
    live = simulate_live(audio).corrected
    final = final_labels(audio, live, turns=[Turn(0.0, len(audio) / 16000, "A")])
    # the voices are far apart (no merge) and the interviewer has no windows the re-clustering agrees on
    assert [s.speaker for s in final.label(live)] == [s.speaker for s in live]
    assert final.changed(live) == 0
    assert set(final.summary(live)["reasons"]) == {"nothing to judge by: kept live"}


def test_practice_makes_every_voice_the_candidate() -> None:
    live = [LabeledSegment(0.0, 2.0, "a", [], "S1", "candidate", 0.99),
            LabeledSegment(3.0, 5.0, "b", [], "S1", "candidate", 0.99)]
    final = final_labels(np.zeros(16000 * 6, np.float32), live, practice=True)
    assert {(s.speaker, s.role) for s in final.label(live)} == {("S1", "candidate")}
    assert final.changed(live) == 0
