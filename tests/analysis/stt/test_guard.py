from __future__ import annotations

from analysis.stt.guard import rejection_reason, token_cap


def reason(text: str, *, duration: float = 3.0, language: str = "en", logprob: float = -0.3, no_speech: float = 0.05):
    return rejection_reason(text, duration_s=duration, language=language, avg_logprob=logprob, no_speech_prob=no_speech)


def test_real_speech_passes():
    assert reason("He hoped there would be stew for dinner.") is None
    assert reason("오월 십칠일 기준 홍수로 인해 최소 이십명이 사망했습니다", language="ko") is None


def test_known_silence_phrases_are_suppressed():
    assert reason("시청해주셔서 감사합니다.", language="ko") == "silence_phrase"
    assert reason("Thank you for watching!") == "silence_phrase"


def test_repetition_loops_are_suppressed():
    assert reason("the the the the the the the the the") in {"repetition", "compression_ratio"}
    assert reason("Soss. Soss. Soss. Soss. Soss. Soss.") in {"repetition", "compression_ratio"}
    assert reason("아아아아아아아아아아아아", language="ko") == "repetition"


def test_low_confidence_silence_is_suppressed():
    assert reason("you", logprob=-1.2, no_speech=0.8) == "no_speech"


def test_impossible_speaking_rate_is_suppressed():
    assert reason("one two three four five six seven eight nine ten", duration=0.5) == "too_fast"


def test_token_cap_grows_with_duration_and_is_bounded():
    assert token_cap(1.0) < token_cap(10.0) <= 440
    assert token_cap(100.0) == 440
