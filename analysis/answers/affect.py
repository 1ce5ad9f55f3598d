"""Affect of an answer: text sentiment (valence) and vocal arousal, reduced to a small label set.

Why it can be switched off: inferring emotions from a person's voice in a hiring context is restricted
in some jurisdictions (the EU AI Act prohibits emotion recognition in the workplace, with narrow
exceptions), and a deployment may not want it at all. The caller passes ``affect=False`` (driven by the
``ANALYSIS_AFFECT`` setting, see :func:`affect_enabled_from_env`) and gets ``None``; nothing here runs.

Arousal is relative to the speaker. Absolute pitch says more about who speaks than about how they feel
(the two Korean actors in the test data differ by an octave), so arousal compares an answer with the same
speaker's baseline (median pitch, loudness, pitch spread over their earlier speech): raised pitch and
level mean higher arousal. On the acted Korean emotion set the pitch shift alone orders
happy > angry > neutral > sad for both speakers. Without a baseline only within-answer variability is
available, which is a much weaker cue, so the confidence is scaled down.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

from analysis.answers.prosody import VocalFeatures
from analysis.answers.text import english_words, morphs, normalize_language

LABELS = ("calm", "engaged", "tense", "flat")

# Weights of the baseline-relative cues (per semitone, per dB, per semitone of spread). Pitch carries most
# of the signal in acted and spontaneous speech alike; level is discounted because microphones move.
_W_PITCH = 0.35
_W_LOUD = 0.12
_W_SPREAD = 0.30
_NO_BASELINE_RELIABILITY = 0.5

KO_POSITIVE = frozenset(
    """좋 기쁘 즐겁 행복 성공 만족 뿌듯 보람 감사 재미있 흥미 자신감 성장 향상 개선 해결 극복 칭찬 인정 효과적
    훌륭 최고 원활 협력 성취 달성 성과 기회 열정 즐기 고맙 다행 안정 신뢰 유익 좋아하 배려 도움""".split()
)
KO_NEGATIVE = frozenset(
    """나쁘 싫 어렵 힘들 실패 문제 갈등 불만 걱정 불안 스트레스 실수 지연 오류 버그 장애 화나 슬프 포기 부족
    손실 충돌 늦 비판 사망 피해 사고 재난 답답 아쉽 후회 위기 불편 고생 피곤 부담 지치 억울 무시 실망 짜증 귀찮 곤란 위험""".split()
)
EN_POSITIVE = frozenset(
    """good great excellent happy glad enjoy enjoyed enjoying love loved success successful succeeded proud
    satisfied improve improved improvement solved resolve resolved achieve achieved win won benefit helpful
    effective efficient grateful thankful excited exciting opportunity growth learned confident smooth
    positive best better strong stronger trust appreciated praise recognized rewarding fun interesting""".split()
)
EN_NEGATIVE = frozenset(
    """bad poor terrible awful hard difficult difficulty fail failed failure problem problems issue issues
    conflict conflicts frustrated frustrating angry upset sad worried worry anxious stress stressful mistake
    mistakes error errors bug bugs outage delay delayed late slow broken lost loss blame blamed struggle
    struggled tired annoying disappointed disappointing unfortunately worse worst weak risk crisis complain
    complained painful hate hated boring""".split()
)
EN_NEGATORS = frozenset({"not", "no", "never", "hardly", "without", "nothing", "nobody", "neither", "nor", "barely"})
_EN_NEGATION_SCOPE = 3


@dataclass(frozen=True)
class VocalBaseline:
    """A speaker's usual voice: what "raised" pitch or level is measured against.

    Plain floats so the pipeline can keep it between answers in Redis or a model field
    (:meth:`to_dict`/:meth:`from_dict`).
    """

    pitch_hz_median: float
    loudness_db_mean: float
    pitch_std_semitones: float
    count: int = 1

    @classmethod
    def from_features(cls, features: Iterable[VocalFeatures]) -> VocalBaseline | None:
        """Baseline from earlier stretches of the same speaker (median pitch, mean level and spread)."""
        usable = [f for f in features if f.pitch_hz_median and f.loudness_db_mean is not None]
        if not usable:
            return None
        log_pitch = [math.log2(f.pitch_hz_median or 1.0) for f in usable]
        log_pitch.sort()
        mid = len(log_pitch) // 2
        median_log = log_pitch[mid] if len(log_pitch) % 2 else 0.5 * (log_pitch[mid - 1] + log_pitch[mid])
        return cls(
            pitch_hz_median=2.0**median_log,
            loudness_db_mean=sum(f.loudness_db_mean or 0.0 for f in usable) / len(usable),
            pitch_std_semitones=sum(f.pitch_std_semitones or 0.0 for f in usable) / len(usable),
            count=len(usable),
        )

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> VocalBaseline:
        return cls(
            pitch_hz_median=float(data["pitch_hz_median"]),
            loudness_db_mean=float(data["loudness_db_mean"]),
            pitch_std_semitones=float(data["pitch_std_semitones"]),
            count=int(data.get("count", 1)),
        )

    def to_dict(self) -> dict[str, float | int]:
        return asdict(self)

    def updated(self, features: VocalFeatures) -> VocalBaseline:
        """Running update with one more answer (log-pitch and level averaged, weighted by count)."""
        if not features.pitch_hz_median or features.loudness_db_mean is None:
            return self
        n = self.count
        log_pitch = (math.log2(self.pitch_hz_median) * n + math.log2(features.pitch_hz_median)) / (n + 1)
        return VocalBaseline(
            pitch_hz_median=2.0**log_pitch,
            loudness_db_mean=(self.loudness_db_mean * n + features.loudness_db_mean) / (n + 1),
            pitch_std_semitones=(self.pitch_std_semitones * n + (features.pitch_std_semitones or 0.0)) / (n + 1),
            count=n + 1,
        )


@dataclass
class AffectResult:
    """Affect of one answer. ``scores`` sum to 1 over :data:`LABELS`."""

    label: str
    confidence: float
    arousal: float
    valence: float
    scores: dict[str, float]
    text_valence: float
    vocal_arousal: float | None
    baseline_used: bool

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def affect_enabled_from_env(environ: Mapping[str, str] | None = None) -> bool:
    """``ANALYSIS_AFFECT`` (default on): "0", "false", "no" or "off" switch affect analysis off."""
    value = (environ if environ is not None else os.environ).get("ANALYSIS_AFFECT", "1")
    return value.strip().lower() not in ("0", "false", "no", "off", "")


def _squash(hits_pos: float, hits_neg: float) -> float:
    """Net polarity in -1..1 that grows with evidence: one word gives ±0.33, three give ±0.6."""
    return round((hits_pos - hits_neg) / (hits_pos + hits_neg + 2.0), 3)


def _ko_sentiment(text: str) -> tuple[float, float]:
    ms = morphs(text)
    pos = neg = 0.0
    for i, m in enumerate(ms):
        if m.tag not in ("NNG", "VV", "VA", "XR", "MAG") or m.form in ("안", "못"):
            continue
        polarity = 1 if m.form in KO_POSITIVE else -1 if m.form in KO_NEGATIVE else 0
        if polarity == 0:
            continue
        before = ms[i - 1] if i > 0 else None
        window = ms[i + 1 : i + 6]
        negated = before is not None and before.tag == "MAG" and before.form in ("안", "못")
        # "좋지 않다", "하지 못했다": predicate + 지 + 않/못하.
        for k, nxt in enumerate(window):
            if nxt.tag in ("SF", "SP", "EF"):
                break
            if nxt.form in ("않", "못하") and nxt.tag.startswith("V") and k > 0 and window[k - 1].form == "지":
                negated = True
                break
        # "문제가 없었다", "실패가 아니었다": a noun denied by 없다 / 아니다.
        if m.tag == "NNG":
            for nxt in window[:3]:
                if (nxt.form == "없" and nxt.tag == "VA") or nxt.tag == "VCN":
                    negated = True
                    break
                if not nxt.tag.startswith("J"):
                    break
        if negated:
            polarity = -polarity
        if polarity > 0:
            pos += 1
        else:
            neg += 1
    return pos, neg


def _en_sentiment(text: str) -> tuple[float, float]:
    pos = neg = 0.0
    for clause in re.split(r"[,.;:!?]|\bbut\b", text.lower()):
        words = english_words(clause)
        negate_until = -1
        for i, w in enumerate(words):
            if w in EN_NEGATORS or w.endswith("n't"):
                negate_until = i + _EN_NEGATION_SCOPE
                continue
            polarity = 1 if w in EN_POSITIVE else -1 if w in EN_NEGATIVE else 0
            if polarity == 0:
                continue
            if i <= negate_until:
                polarity = -polarity
            if polarity > 0:
                pos += 1
            else:
                neg += 1
    return pos, neg


def text_valence(text: str, language: str) -> float:
    """Lexicon sentiment of ``text`` in -1..1 with negation ("not good", "문제가 없었다", "좋지 않았다")."""
    if normalize_language(language) == "ko":
        return _squash(*_ko_sentiment(text))
    return _squash(*_en_sentiment(text))


def vocal_arousal(features: VocalFeatures, baseline: VocalBaseline | None = None) -> float | None:
    """Arousal 0..1 from pitch level, loudness and pitch spread relative to the speaker's baseline.

    0.5 means "as usual for this speaker". Without a baseline, only the within-answer pitch spread and
    level variation are used against typical conversational values (3 semitones, 8 dB).
    """
    if features.pitch_hz_median is None or features.loudness_db_mean is None:
        return None
    spread = features.pitch_std_semitones or 0.0
    if baseline is not None:
        d_pitch = 12.0 * math.log2(features.pitch_hz_median / baseline.pitch_hz_median)
        d_loud = features.loudness_db_mean - baseline.loudness_db_mean
        d_spread = spread - baseline.pitch_std_semitones
        x = _W_PITCH * d_pitch + _W_LOUD * d_loud + _W_SPREAD * d_spread
    else:
        x = 0.5 * (spread - 3.0) + 0.1 * ((features.loudness_db_std or 8.0) - 8.0)
    return round(1.0 / (1.0 + math.exp(-x)), 3)


def affect_from(
    text: str,
    *,
    language: str,
    features: VocalFeatures | None,
    baseline: VocalBaseline | None = None,
) -> AffectResult:
    """Combine text valence and vocal arousal into label scores.

    Arousal splits high (engaged / tense) from low (calm / flat); valence splits engaged from tense
    (tense needs negative wording), pitch spread splits calm (varied intonation) from flat (monotone).
    Without audio, arousal stays at 0.5 and confidence is low.
    """
    valence = text_valence(text, language)
    arousal = vocal_arousal(features, baseline) if features is not None else None
    a = 0.5 if arousal is None else arousal
    spread = (features.pitch_std_semitones if features is not None else None) or 2.5
    variation = min(1.0, max(0.0, (spread - 1.0) / 2.5))
    # High arousal is shared between engaged and tense by valence (tense needs negative wording); low
    # arousal between calm and flat by intonation (monotone speech is flat). Each pair's shares sum to 1,
    # so the scores sum to 1 and the low and high pairs trade places at arousal 0.5.
    tense_share = min(1.0, max(0.0, 0.25 - 0.5 * valence))
    raw = {
        "engaged": a * (1.0 - tense_share),
        "tense": a * tense_share,
        "calm": (1.0 - a) * variation,
        "flat": (1.0 - a) * (1.0 - variation),
    }
    total = sum(raw.values()) or 1.0
    scores = {k: round(v / total, 3) for k, v in raw.items()}
    # Arousal picks the pair, the pair's split picks the label: a high-arousal answer is never "calm"
    # just because its score was split between engaged and tense.
    pair = ("engaged", "tense") if a >= 0.5 else ("calm", "flat")
    label = max(pair, key=lambda k: scores[k])
    reliability = 1.0 if baseline is not None and arousal is not None else _NO_BASELINE_RELIABILITY
    if features is None or arousal is None:
        reliability = 0.3
    elif features.speech_s < 5.0:
        reliability *= max(0.3, features.speech_s / 5.0)
    return AffectResult(
        label=label,
        confidence=round(scores[label] * reliability, 3),
        arousal=round(a, 3),
        valence=valence,
        scores=scores,
        text_valence=valence,
        vocal_arousal=arousal,
        baseline_used=baseline is not None and arousal is not None,
    )
