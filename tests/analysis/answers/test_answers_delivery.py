from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from analysis.answers.delivery import (
    count_fillers,
    count_repetitions,
    count_self_corrections,
    delivery_metrics,
    live_delivery,
)
from analysis.answers.prosody import vocal_features, yin_pitch

from _answers_data import load_audio_16k, read_manifest


def words_segment(words: list[tuple[str, float, float]], p: float = 0.9) -> dict[str, Any]:
    return {
        "start": words[0][1],
        "end": words[-1][2],
        "text": " ".join(w for w, _, _ in words),
        "words": [{"w": w, "start": s, "end": e, "p": p} for w, s, e in words],
        "speaker": "B",
        "role": "candidate",
    }


@pytest.fixture(scope="module")
def picovoice_ko(data_dir: Path) -> dict[str, Any]:
    """The Korean clip with human word timings: a real answer-sized stretch with real word boundaries."""
    folder = data_dir / "ko"
    entry = next(m for m in read_manifest(folder) if m.get("words"))
    words = [(w["word"], w["start_sec"], w["end_sec"]) for w in entry["words"]]
    return {"entry": entry, "segment": words_segment(words), "audio": load_audio_16k(folder / entry["path"])}


def test_korean_rate_pauses_and_voice_on_real_word_timings(picovoice_ko: dict[str, Any]) -> None:
    seg = picovoice_ko["segment"]
    words = seg["words"]
    m = delivery_metrics([seg], language="ko", question_end=0.2, audio=picovoice_ko["audio"], audio_start=0.0)
    syllables = sum(1 for ch in picovoice_ko["entry"]["text"] if "\uac00" <= ch <= "\ud7a3")
    assert m.syllable_count == syllables == 19  # 그는 이리저리 피하면서 길 한 옆으로 걸어갔다
    assert m.word_count == len(words)
    assert m.rate_unit == "spm"
    duration = words[-1]["end"] - words[0]["start"]
    assert m.duration_s == pytest.approx(duration, abs=1e-3)
    assert m.rate == pytest.approx(syllables / duration * 60, rel=1e-3)
    gaps = [b["start"] - a["end"] for a, b in zip(words, words[1:])]
    long_gaps = [g for g in gaps if g >= 0.5]
    assert m.pause_count == len(long_gaps)
    assert m.longest_pause_s == pytest.approx(max(long_gaps, default=0.0), abs=1e-3)
    assert m.response_latency_s == pytest.approx(words[0]["start"] - 0.2, abs=1e-3)
    assert m.filler_count == 0 and m.repetitions == 0 and m.self_corrections == 0
    assert m.stt_confidence == pytest.approx(0.9)
    # A real voice: level well above silence, pitch inside the human speaking range, some intonation.
    assert m.loudness_db_mean is not None and -45.0 < m.loudness_db_mean < -3.0
    assert m.pitch_hz_median is not None and 70.0 < m.pitch_hz_median < 400.0
    assert m.pitch_std_semitones is not None and 0.5 < m.pitch_std_semitones < 8.0


def test_pauses_between_words_are_counted_from_half_a_second() -> None:
    seg = words_segment([("I", 1.0, 1.2), ("built", 1.3, 1.6), ("the", 2.1, 2.2), ("service", 4.2, 4.8), ("fast", 4.9, 5.3)])
    m = live_delivery([seg], language="en", question_end=0.4)
    assert (m.pause_count, m.pause_total_s, m.longest_pause_s) == (2, 2.5, 2.0)
    assert m.word_count == 5 and m.rate_unit == "wpm"
    assert m.rate == pytest.approx(5 / (4.3 / 60), rel=1e-3)
    assert m.articulation_rate > m.rate
    assert m.response_latency_s == pytest.approx(0.6)
    assert m.loudness_db_mean is None and m.pitch_hz_median is None


def test_korean_fillers_are_standalone_tokens_and_respect_kiwi_tags() -> None:
    text = "음 저는 그 당시에, 그 저 뭐 약간 이제 음악을 했는데 어 그러니까 막 아무튼"
    found = count_fillers(text, "ko")
    assert found == {"음": 1, "그": 1, "저": 1, "뭐": 1, "약간": 1, "이제": 1, "어": 1, "그러니까": 1, "막": 1, "아무튼": 1}
    # "그 당시" (determiner), "저는" (pronoun), "음악" (music) are not fillers.
    assert count_fillers("그 당시 저는 음악을 좋아했습니다", "ko") == {}


def test_english_fillers_skip_real_uses_of_like_and_kind_of() -> None:
    text = "Um, so I was like, you know, kind of the lead. What kind of role? I like Python. Basically uh yes, I mean it."
    found = count_fillers(text, "en")
    assert found == {"um": 1, "like": 1, "you know": 1, "kind of": 1, "basically": 1, "uh": 1, "i mean": 1}
    assert count_fillers("Do you know what I mean? I would like a kind of tea.", "en") == {}


def test_repetitions_and_self_corrections() -> None:
    assert count_repetitions("I I think the the team um um did well", "en") == 2
    assert count_repetitions("저는 저는 그 프로젝트를", "ko") == 1
    assert count_self_corrections("We shipped in May, sorry, I mean June. Or rather early June.", "en") == 3
    assert count_self_corrections("세 명이, 아니 네 명이었고 그게 아니라 다섯 달", "ko") == 2
    # "뿐만 아니라" (not only ... but also) is not a correction.
    assert count_self_corrections("속도뿐만 아니라 비용도 줄였습니다", "ko") == 0


def test_fillers_per_minute_on_a_live_answer() -> None:
    seg = {"start": 0.0, "end": 30.0, "text": "음 저는 음 어 그러니까 데이터 분석을 했습니다", "words": [], "speaker": "B", "role": "candidate"}
    m = live_delivery([seg], language="ko")
    assert m.filler_count == 4 and m.fillers["음"] == 2
    assert m.filler_per_min == pytest.approx(8.0)
    assert m.response_latency_s is None and m.stt_confidence is None


def test_yin_recovers_a_known_pitch_and_rejects_noise() -> None:
    sr = 16_000
    t = np.arange(sr) / sr
    tone = (0.3 * np.sin(2 * np.pi * 180.0 * t) + 0.1 * np.sin(2 * np.pi * 360.0 * t)).astype(np.float32)
    f0, voiced = yin_pitch(tone)
    assert voiced.mean() > 0.9
    assert np.nanmedian(f0) == pytest.approx(180.0, rel=0.01)
    noise = np.random.default_rng(0).normal(0, 0.1, sr).astype(np.float32)
    _, voiced_noise = yin_pitch(noise)
    assert voiced_noise.mean() < 0.1
    assert vocal_features(noise).pitch_hz_median is None


def test_pitch_tracks_speaker_differences_on_real_speech(emotion_clips: list[dict[str, Any]]) -> None:
    neutral = {c["labels"]["speaker"]: vocal_features(c["audio"]) for c in emotion_clips if c["labels"]["emotion"] == "neutral"}
    assert set(neutral) == {"ema", "emf"}
    # ema speaks about an octave above emf in these recordings (pYIN agrees: ~219 Hz vs ~123 Hz).
    assert 190 < (neutral["ema"].pitch_hz_median or 0) < 250
    assert 105 < (neutral["emf"].pitch_hz_median or 0) < 145
