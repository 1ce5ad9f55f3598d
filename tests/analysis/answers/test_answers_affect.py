from __future__ import annotations

from typing import Any

import pytest

from analysis.answers.affect import (
    LABELS,
    VocalBaseline,
    affect_enabled_from_env,
    affect_from,
    text_valence,
    vocal_arousal,
)
from analysis.answers.prosody import vocal_features


@pytest.fixture(scope="module")
def emotion_features(emotion_clips: list[dict[str, Any]]) -> dict[tuple[str, str], Any]:
    return {(c["labels"]["speaker"], c["labels"]["emotion"]): vocal_features(c["audio"]) for c in emotion_clips}


@pytest.mark.parametrize("speaker", ["ema", "emf"])
def test_angry_and_happy_rank_above_sad_with_a_session_baseline(emotion_features: dict, speaker: str) -> None:
    """Same sentence, same speaker, four acted emotions: the speaker's own average is the baseline."""
    feats = {emo: f for (spk, emo), f in emotion_features.items() if spk == speaker}
    baseline = VocalBaseline.from_features(feats.values())
    arousal = {emo: vocal_arousal(f, baseline) for emo, f in feats.items()}
    assert arousal["angry"] > arousal["sad"] and arousal["happy"] > arousal["sad"]
    assert arousal["sad"] < arousal["neutral"] < arousal["happy"]
    results = {emo: affect_from("", language="ko", features=f, baseline=baseline) for emo, f in feats.items()}
    assert results["sad"].label in ("calm", "flat") and results["happy"].label in ("engaged", "tense")
    assert all(r.baseline_used and set(r.scores) == set(LABELS) for r in results.values())
    assert all(sum(r.scores.values()) == pytest.approx(1.0, abs=0.01) for r in results.values())


@pytest.mark.parametrize("speaker", ["ema", "emf"])
def test_ranking_also_holds_against_the_neutral_take_and_a_running_baseline(emotion_features: dict, speaker: str) -> None:
    neutral = emotion_features[(speaker, "neutral")]
    baseline = VocalBaseline.from_features([neutral])
    assert baseline is not None and vocal_arousal(neutral, baseline) == pytest.approx(0.5)
    sad = vocal_arousal(emotion_features[(speaker, "sad")], baseline)
    assert vocal_arousal(emotion_features[(speaker, "angry")], baseline) > sad
    assert vocal_arousal(emotion_features[(speaker, "happy")], baseline) > sad
    running = baseline.updated(emotion_features[(speaker, "happy")])
    assert running.count == 2 and running.pitch_hz_median > baseline.pitch_hz_median
    assert VocalBaseline.from_dict(running.to_dict()) == running


def test_without_a_baseline_confidence_is_reduced(emotion_features: dict) -> None:
    f = emotion_features[("ema", "happy")]
    with_base = affect_from("", language="ko", features=f, baseline=VocalBaseline.from_features([emotion_features[("ema", "neutral")]]))
    without = affect_from("", language="ko", features=f, baseline=None)
    assert not without.baseline_used and without.confidence < with_base.confidence
    no_audio = affect_from("좋았습니다", language="ko", features=None)
    assert no_audio.arousal == 0.5 and no_audio.vocal_arousal is None and no_audio.confidence <= 0.3


def test_text_valence_with_negation() -> None:
    assert text_valence("프로젝트는 성공했고 팀원들과 협력해서 정말 좋았습니다", "ko") > 0.3
    assert text_valence("일정이 지연되어 힘들었고 실수도 많았습니다", "ko") < -0.3
    assert text_valence("좋지 않았어요", "ko") < 0 < text_valence("문제가 없었습니다", "ko")
    assert text_valence("안 좋았어요", "ko") < 0
    assert text_valence("The launch was a great success and I was proud", "en") > 0.3
    assert text_valence("It was not good", "en") < 0 < text_valence("We had no problems", "en")
    assert text_valence("The project failed, but I learned a lot", "en") == 0.0
    assert text_valence("Ich weiß nicht", "en") == 0.0


def test_tense_needs_negative_words_at_high_arousal(emotion_features: dict) -> None:
    f = emotion_features[("emf", "angry")]
    base = VocalBaseline.from_features([emotion_features[("emf", "neutral")]])
    tense = affect_from("정말 힘들고 답답하고 불안했습니다. 실패할까 걱정했어요", language="ko", features=f, baseline=base)
    engaged = affect_from("정말 즐겁고 보람 있었습니다", language="ko", features=f, baseline=base)
    assert tense.label == "tense" and engaged.label == "engaged"
    assert tense.valence < 0 < engaged.valence


def test_affect_switch_reads_the_environment() -> None:
    assert affect_enabled_from_env({}) is True
    for off in ("0", "false", "OFF", "no"):
        assert affect_enabled_from_env({"ANALYSIS_AFFECT": off}) is False
    assert affect_enabled_from_env({"ANALYSIS_AFFECT": "1"}) is True
