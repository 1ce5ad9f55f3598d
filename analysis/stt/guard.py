"""Hallucination guard: reject Whisper output that is not speech.

Whisper invents text on silence, noise and very short clips (subtitle credits, "thank you for watching",
endless repetitions). Each rule here is cheap and explainable; the caller logs the reason of every
suppression (never the text itself: transcripts are personal data).
"""

from __future__ import annotations

import re
import unicodedata
import zlib

# Phrases Whisper is known to produce on silence or music (from its subtitle-heavy training data).
SILENCE_PHRASES = {
    "ko": [
        "시청해주셔서 감사합니다",
        "시청해 주셔서 감사합니다",
        "구독과 좋아요",
        "구독 좋아요",
        "좋아요와 구독",
        "mbc 뉴스",
        "kbs 뉴스",
        "다음 영상에서 만나요",
        "감사합니다 다음 시간에",
        "자막 제공",
        "한국어 자막",
    ],
    "en": [
        "thank you for watching",
        "thanks for watching",
        "please subscribe",
        "subtitles by",
        "transcribed by",
        "translated by",
        "see you in the next video",
        "like and subscribe",
    ],
}

MAX_COMPRESSION_RATIO = 2.4
MIN_AVG_LOGPROB = -1.0
NO_SPEECH_PROB = 0.6
MAX_UNITS_PER_SECOND = {"ko": 14.0, "en": 6.5, "other": 14.0}


def normalize(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).lower()
    text = re.sub(r"[^\w\s]", " ", text)
    return re.sub(r"\s+", " ", text).strip()


def compression_ratio(text: str) -> float:
    data = text.encode("utf-8")
    return len(data) / max(1, len(zlib.compress(data)))


def _has_repetition(norm: str) -> bool:
    if re.search(r"(.)\1{9,}", norm.replace(" ", "")):
        return True  # one character repeated 10+ times
    words = norm.split()
    for n in (1, 2, 3, 4):
        if len(words) < n * 4:
            continue
        grams = [tuple(words[i : i + n]) for i in range(len(words) - n + 1)]
        # the same n-gram back to back 4+ times
        run = 1
        for i in range(n, len(grams), n):
            run = run + 1 if grams[i] == grams[i - n] else 1
            if run >= 4:
                return True
    return False


def _speech_units(norm: str, language: str) -> int:
    if language == "ko":
        return sum(1 for ch in norm if "\uac00" <= ch <= "\ud7a3") or len(norm.split())
    return len(norm.split())


def rejection_reason(
    text: str,
    *,
    duration_s: float,
    language: str,
    avg_logprob: float,
    no_speech_prob: float,
) -> str | None:
    """Why ``text`` should not be committed, or None when it looks like real speech."""
    norm = normalize(text)
    if not norm:
        return "empty"
    for phrase in SILENCE_PHRASES.get(language, []) + SILENCE_PHRASES["en"]:
        if phrase in norm and len(norm) <= len(phrase) + 12:
            return "silence_phrase"
    if len(norm) > 24 and compression_ratio(norm) > MAX_COMPRESSION_RATIO:
        return "compression_ratio"
    if _has_repetition(norm):
        return "repetition"
    if no_speech_prob > NO_SPEECH_PROB and avg_logprob < MIN_AVG_LOGPROB:
        return "no_speech"
    if avg_logprob < -1.6:
        return "low_logprob"
    rate = _speech_units(norm, language) / max(duration_s, 0.3)
    if rate > MAX_UNITS_PER_SECOND.get(language, MAX_UNITS_PER_SECOND["other"]) and duration_s < 20:
        return "too_fast"
    return None


def token_cap(duration_s: float) -> int:
    """New-token budget for a clip: generous for fast Korean speech, far below a runaway loop."""
    return int(min(440, 12 + 14 * duration_s))
