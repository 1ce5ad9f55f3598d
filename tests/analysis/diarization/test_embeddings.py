from __future__ import annotations

import numpy as np
import pytest

from analysis.diarization import embeddings
from analysis.diarization.embeddings import embed_windows, sliding_windows, speech_regions


def test_sliding_windows_cover_regions_without_shifting_times() -> None:
    wins = sliding_windows([(10.0, 13.2), (20.0, 20.3), (30.0, 31.0)], window=1.5, hop=0.75)
    assert wins[0] == (10.0, 11.5)
    assert wins[-2][1] == pytest.approx(13.2)  # last window of a region ends at the region end
    assert (20.0, 20.3) not in wins  # shorter than MIN_WINDOW_S
    assert wins[-1] == (30.0, 31.0)


def test_ecapa_backend_fails_clearly_without_a_model(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("SPEAKER_MODEL", str(tmp_path))
    with pytest.raises(embeddings.SpeakerModelUnavailable):
        embeddings.get_encoder()


@pytest.mark.models
def test_same_voice_is_closer_than_the_other_voice(interviews) -> None:
    audio, turns = interviews["mock_interview_en"]
    first, second = turns[0], turns[1]  # interviewer, candidate
    wins = [(first["start"] + 1, first["start"] + 2.5), (first["start"] + 4, first["start"] + 5.5),
            (second["start"] + 1, second["start"] + 2.5)]
    emb = embed_windows(audio, wins)
    sim = emb.vectors @ emb.vectors.T
    assert sim[0, 1] > sim[0, 2] + 0.15
    np.testing.assert_allclose(emb.starts, [w[0] for w in wins], atol=1e-3)


@pytest.mark.models
def test_window_times_follow_audio_start_offset(interviews) -> None:
    audio, _ = interviews["mock_interview_en"]
    piece = audio[16000 * 5 : 16000 * 9]
    shifted = embed_windows(piece, [(6.0, 7.5)], audio_start=5.0)
    direct = embed_windows(audio, [(6.0, 7.5)])
    assert shifted.starts[0] == pytest.approx(6.0)
    assert float(shifted.vectors[0] @ direct.vectors[0]) > 0.999


@pytest.mark.models
def test_vad_finds_the_turns_of_the_mock_interview(interviews) -> None:
    audio, turns = interviews["mock_interview_en"]
    regions = speech_regions(audio)
    for t in turns:
        covered = sum(max(0.0, min(e, t["end"]) - max(s, t["start"])) for s, e in regions)
        assert covered > 0.8 * (t["end"] - t["start"])
