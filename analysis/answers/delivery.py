"""How an answer was spoken: rate, pauses, latency, fillers, repetitions, self-corrections, voice.

Speaking rate is measured in the unit each language is usually measured in: Hangul syllables per minute
for Korean (word boundaries in Korean carry particles, so "words" would depend on spacing habits), words
per minute for English. Rates are over the whole answer (first word to last word), pauses included;
``articulation_rate`` excludes pauses of 0.5 s or more.

Fillers are counted as standalone tokens only: "음" inside "음악" or "like" in "I like Python" are not
fillers. Korean "그/저/뭐" are fillers only when Kiwi tags them as interjections (IC), so the determiner
in "그 당시" (at that time) is left alone.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from analysis.answers.prosody import SAMPLE_RATE, VocalFeatures, vocal_features
from analysis.answers.text import (
    clean_token,
    english_syllables,
    english_words,
    hangul_syllables,
    morphs,
    normalize_for_match,
    normalize_language,
)

PAUSE_MIN_S = 0.5

KO_FILLERS_ALWAYS = frozenset({"음", "어", "으", "엄", "아", "에", "흠", "으음", "어어", "음음", "에이"})
KO_FILLERS_DISCOURSE = frozenset({"약간", "이제", "그러니까", "그니까", "막", "아무튼", "뭔가", "그냥", "어쨌든", "있잖아요"})
KO_FILLERS_IF_INTERJECTION = frozenset({"그", "저", "뭐", "이"})

EN_FILLERS_SINGLE = frozenset({"um", "umm", "uh", "uhm", "erm", "er", "ah", "hmm", "mm", "basically", "actually", "literally"})
EN_FILLERS_MULTI: tuple[tuple[str, ...], ...] = (("you", "know"), ("i", "mean"), ("sort", "of"), ("kind", "of"), ("you", "see"))
# "what kind of", "a sort of": a real noun phrase, not hedging.
_EN_KIND_OF_BLOCKERS = frozenset(
    {"what", "this", "that", "a", "the", "any", "some", "every", "one", "which", "these", "those", "same", "different", "all", "each", "no"}
)
# "do you know", "you know how": a real question or clause, not a filler.
_EN_YOU_KNOW_BLOCKERS_BEFORE = frozenset({"do", "did", "don't", "didn't", "if", "would", "will", "can", "could", "as"})
_EN_YOU_KNOW_BLOCKERS_AFTER = frozenset({"that", "what", "how", "who", "where", "why", "if", "the", "a", "about", "whether", "when"})
# "like" preceded by these is almost always the discourse marker ("and like", "it was like").
_EN_LIKE_FILLER_BEFORE = frozenset({"and", "but", "so", "was", "were", "is", "it's", "just", "um", "uh", "like", "really", "or", "then"})

EN_SELF_CORRECTIONS = (
    r"(?<!what )(?<!that )\bi mean\b",
    r"\bi meant\b",
    r"\bsorry\b",
    r"\bor rather\b",
    r"\blet me rephrase\b",
    r"\blet me correct\b",
    r"\bno wait\b",
    r"\bscratch that\b",
    r"\bactually no\b",
)
KO_SELF_CORRECTIONS = (
    r"그게 아니라",
    r"그게 아니고",
    r"그건 아니고",
    r"다시 말하면",
    r"다시 말해",
    r"정정",
    r"잘못 말",
    r"죄송합니다",
    r"죄송해요",
)


@dataclass
class DeliveryMetrics:
    """Delivery of one answer; voice fields are None when no audio was given (live updates)."""

    duration_s: float
    speech_s: float
    word_count: int
    syllable_count: int
    rate: float
    rate_unit: str
    articulation_rate: float
    pause_count: int
    pause_total_s: float
    longest_pause_s: float
    response_latency_s: float | None
    filler_count: int
    filler_per_min: float
    fillers: dict[str, int] = field(default_factory=dict)
    repetitions: int = 0
    self_corrections: int = 0
    loudness_db_mean: float | None = None
    loudness_db_std: float | None = None
    pitch_hz_median: float | None = None
    pitch_std_semitones: float | None = None
    stt_confidence: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _words(segments: Sequence[Mapping[str, Any]]) -> list[tuple[float, float, float | None]]:
    """(start, end, probability) per word, in time order; segment bounds stand in for missing words."""
    out: list[tuple[float, float, float | None]] = []
    for seg in segments:
        words = seg.get("words") or []
        if words:
            for w in words:
                if str(w.get("w", w.get("word", ""))).strip():
                    p = w.get("p", w.get("probability"))
                    out.append((float(w["start"]), float(w["end"]), None if p is None else float(p)))
        else:
            out.append((float(seg["start"]), float(seg["end"]), None))
    out.sort()
    return out


def count_fillers(text: str, language: str) -> Counter[str]:
    """Standalone filler tokens in ``text`` (see the module docstring for the rules)."""
    lang = normalize_language(language)
    return _ko_fillers(text) if lang == "ko" else _en_fillers(text)


def _ko_fillers(text: str) -> Counter[str]:
    found: Counter[str] = Counter()
    interjections: set[int] | None = None
    for match in re.finditer(r"\S+", text):
        tok = clean_token(match.group())
        if tok in KO_FILLERS_ALWAYS or tok in KO_FILLERS_DISCOURSE:
            found[tok] += 1
        elif tok in KO_FILLERS_IF_INTERJECTION:
            if interjections is None:
                interjections = {m.start for m in morphs(text) if m.tag == "IC"}
            # The cleaned token may have lost leading punctuation: look at where the word itself starts.
            offset = match.start() + match.group().find(tok)
            if offset in interjections:
                found[tok] += 1
    return found


def _en_tokens(text: str) -> list[str]:
    return re.findall(r"[a-z][a-z'’]*|[,.;:!?]", text.lower().replace("’", "'"))


def _en_fillers(text: str) -> Counter[str]:
    toks = _en_tokens(text)
    found: Counter[str] = Counter()
    i = 0
    while i < len(toks):
        tok = toks[i]
        prev = toks[i - 1] if i > 0 else None
        nxt = toks[i + 1] if i + 1 < len(toks) else None
        pair = (tok, nxt) if nxt is not None else None
        if pair in EN_FILLERS_MULTI:
            after = toks[i + 2] if i + 2 < len(toks) else None
            blocked = False
            if pair in (("kind", "of"), ("sort", "of")):
                blocked = prev in _EN_KIND_OF_BLOCKERS
            elif pair == ("you", "know"):
                blocked = prev in _EN_YOU_KNOW_BLOCKERS_BEFORE or after in _EN_YOU_KNOW_BLOCKERS_AFTER
            elif pair == ("i", "mean"):
                blocked = prev in ("what", "that", "if", "do", "don't")
            elif pair == ("you", "see"):
                blocked = after not in (None, ",", ".", ";", "!", "?")
            if not blocked:
                found[" ".join(pair)] += 1
                i += 2
                continue
        if tok in EN_FILLERS_SINGLE:
            found[tok] += 1
        elif tok == "like" and (prev is None or prev in ",.;:!?" or nxt == "," or prev in _EN_LIKE_FILLER_BEFORE):
            found[tok] += 1
        i += 1
    return found


def count_repetitions(text: str, language: str) -> int:
    """Immediate repeats of the same word ("the the", "저는 저는"); repeated fillers are fillers, not repeats."""
    lang = normalize_language(language)
    toks = [clean_token(t) for t in text.split()]
    toks = [t for t in toks if t]
    fillers = KO_FILLERS_ALWAYS | KO_FILLERS_DISCOURSE if lang == "ko" else EN_FILLERS_SINGLE | {"like"}
    return sum(1 for a, b in zip(toks, toks[1:]) if a == b and a not in fillers)


def count_self_corrections(text: str, language: str) -> int:
    """Explicit repairs: "I mean", "sorry", "그게 아니라", a standalone "아니" (interjection "no,")."""
    lang = normalize_language(language)
    norm = normalize_for_match(text)
    patterns = KO_SELF_CORRECTIONS if lang == "ko" else EN_SELF_CORRECTIONS
    count = sum(len(re.findall(p, norm)) for p in patterns)
    if lang == "ko":
        count += sum(1 for t in text.split() if clean_token(t) == "아니")
    return count


def _pauses(words: Sequence[tuple[float, float, float | None]]) -> list[float]:
    gaps = []
    last_end: float | None = None
    for start, end, _ in words:
        if last_end is not None and start - last_end >= PAUSE_MIN_S:
            gaps.append(start - last_end)
        last_end = end if last_end is None else max(last_end, end)
    return gaps


def speech_audio(
    segments: Iterable[Mapping[str, Any]],
    audio: np.ndarray,
    *,
    audio_start: float,
    sample_rate: int = SAMPLE_RATE,
) -> np.ndarray:
    """The candidate's segments cut out of session audio and joined (interviewer backchannels left out)."""
    pieces = []
    for seg in segments:
        a = max(0, int(round((float(seg["start"]) - audio_start) * sample_rate)))
        b = min(audio.shape[0], int(round((float(seg["end"]) - audio_start) * sample_rate)))
        if b > a:
            pieces.append(audio[a:b])
    return np.concatenate(pieces).astype(np.float32) if pieces else np.zeros(0, dtype=np.float32)


def _text_metrics(
    segments: Sequence[Mapping[str, Any]],
    *,
    language: str,
    question_end: float | None,
) -> DeliveryMetrics:
    lang = normalize_language(language)
    text = " ".join(str(s.get("text", "")).strip() for s in segments)
    words = _words(segments)
    if words:
        start = min(w[0] for w in words)
        end = max(w[1] for w in words)
    else:
        start = end = 0.0
    duration = max(0.0, end - start)
    gaps = _pauses(words)
    pause_total = float(sum(gaps))
    if any(seg.get("words") for seg in segments):
        speech_s = float(sum(max(0.0, e - s) for s, e, _ in words))
    else:
        speech_s = max(0.0, duration - pause_total)
    syllables = hangul_syllables(text) if lang == "ko" else sum(english_syllables(w) for w in english_words(text))
    word_count = len(text.split()) if lang == "ko" else len(english_words(text))
    units = syllables if lang == "ko" else word_count
    minutes = duration / 60.0
    speaking_minutes = max(0.0, duration - pause_total) / 60.0
    fillers = count_fillers(text, lang)
    filler_count = int(sum(fillers.values()))
    probs = [p for _, _, p in words if p is not None]
    latency = None
    if question_end is not None and words:
        latency = max(0.0, start - question_end)
    return DeliveryMetrics(
        duration_s=round(duration, 3),
        speech_s=round(speech_s, 3),
        word_count=word_count,
        syllable_count=syllables,
        rate=round(units / minutes, 1) if minutes > 0 else 0.0,
        rate_unit="spm" if lang == "ko" else "wpm",
        articulation_rate=round(units / speaking_minutes, 1) if speaking_minutes > 0 else 0.0,
        pause_count=len(gaps),
        pause_total_s=round(pause_total, 3),
        longest_pause_s=round(max(gaps), 3) if gaps else 0.0,
        response_latency_s=None if latency is None else round(latency, 3),
        filler_count=filler_count,
        filler_per_min=round(filler_count / minutes, 2) if minutes > 0 else 0.0,
        fillers=dict(fillers.most_common()),
        repetitions=count_repetitions(text, lang),
        self_corrections=count_self_corrections(text, lang),
        stt_confidence=round(float(np.mean(probs)), 3) if probs else None,
    )


def delivery_metrics(
    segments: Sequence[Mapping[str, Any]],
    *,
    language: str,
    question_end: float | None = None,
    audio: np.ndarray | None = None,
    audio_start: float = 0.0,
    sample_rate: int = SAMPLE_RATE,
    vocal: VocalFeatures | None = None,
) -> DeliveryMetrics:
    """Full delivery metrics of a finished answer.

    ``audio`` is 16 kHz mono session audio whose first sample is at ``audio_start`` seconds; only the
    candidate's segments are measured. Pass ``vocal`` when the features were already computed (the
    affect analysis uses the same ones) to avoid a second pitch track.
    """
    metrics = _text_metrics(segments, language=language, question_end=question_end)
    if vocal is None and audio is not None:
        vocal = vocal_features(speech_audio(segments, audio, audio_start=audio_start, sample_rate=sample_rate), sample_rate=sample_rate)
    if vocal is not None:
        metrics.loudness_db_mean = _round(vocal.loudness_db_mean, 2)
        metrics.loudness_db_std = _round(vocal.loudness_db_std, 2)
        metrics.pitch_hz_median = _round(vocal.pitch_hz_median, 1)
        metrics.pitch_std_semitones = _round(vocal.pitch_std_semitones, 2)
    return metrics


def live_delivery(
    segments: Sequence[Mapping[str, Any]],
    *,
    language: str,
    question_end: float | None = None,
) -> DeliveryMetrics:
    """Cheap running metrics while the answer is still going: text and word timings only, no audio.

    Costs a few milliseconds (Kiwi is only consulted for standalone "그/저/뭐/이"), so the pipeline can call
    it on every committed segment.
    """
    return _text_metrics(segments, language=language, question_end=question_end)


def _round(value: float | None, digits: int) -> float | None:
    return None if value is None else round(float(value), digits)
