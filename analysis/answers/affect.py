"""Affect of an answer: text sentiment (valence) and vocal arousal, reduced to a small label set.

Why it can be switched off: inferring emotions from a person's voice in a hiring context is restricted
in some jurisdictions (the EU AI Act prohibits emotion recognition in the workplace, with narrow
exceptions), and a deployment may not want it at all. The caller passes ``affect=False`` (driven by the
``ANALYSIS_AFFECT`` setting, see :func:`affect_enabled_from_env`) and gets ``None``; nothing here runs.

Arousal is relative to the speaker. Absolute pitch, level and spectral tilt say more about who speaks
(and into which microphone) than about how they feel (the two Korean actors in the test data differ by an
octave), so arousal compares an answer with the same speaker's baseline (:class:`VocalBaseline`: pitch
level, loudness, spectral tilt, pitch range, articulation rate over their other speech) through a fixed,
documented set of cues and weights (:data:`CUES`, not fitted to any data set). Without a baseline (the
first answer) only cues that mean something across people are compared with population values, and the
confidence is low enough that no label is stated. Labels below :data:`MIN_STATED_CONFIDENCE` are never
stated. docs/analysis.md has the figures and what this can and cannot tell.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from analysis.answers.prosody import VocalFeatures
from analysis.answers.text import english_words, morphs, normalize_language

LABELS = ("calm", "engaged", "tense", "flat")

# Below this confidence an answer's affect label is not stated (``label`` is None, ``stated`` False): the
# report, the scores and the feedback then say nothing about the candidate's emotion. Confidence is the
# label's share of the scores times a reliability that falls with a thin baseline, the population prior
# and short answers (see ``_reliability``), so a first answer or a 3-second answer never states a label.
MIN_STATED_CONFIDENCE = 0.45


@dataclass(frozen=True)
class Cue:
    """One arousal cue: how its change against the baseline is scaled and weighted (sign: up = more aroused).

    Scales are typical within-speaker spreads of the cue between utterances of ordinary speech, set a priori
    (round numbers), not fitted to the emotion set: a change of one scale is "one usual step". Weights: 1 for
    the three cues that most consistently rise with activation in the literature (mean F0, intensity,
    spectral balance; Banse & Scherer 1996, Juslin & Laukka 2003, eGeMAPS / Eyben et al. 2016), 0.5 for
    F0 range and speaking rate, which vary more between emotions of the same activation and between
    speakers.
    """

    name: str
    unit: str
    scale: float
    weight: float


CUES: tuple[Cue, ...] = (
    Cue("pitch_level", "semitones", 2.0, 1.0),
    Cue("loudness", "dB", 3.0, 1.0),
    Cue("spectral_tilt", "dB", 2.0, 1.0),
    Cue("pitch_range", "semitones", 3.0, 0.5),
    Cue("speaking_rate", "% change", 10.0, 0.5),
)
_CUE = {c.name: c for c in CUES}
_GAIN = 1.5  # arousal = sigmoid(_GAIN * weighted mean of clipped z-scores): all cues one step up -> 0.82
_Z_CLIP = 3.0

# Population prior for the first answer, when nothing of the candidate's own voice is known yet. Only cues
# whose absolute value means something across speakers are used (pitch level, loudness and spectral tilt
# mostly say who speaks and into which microphone): the F0 range of read/conversational speech (~10
# semitones between the 5th and 95th percentile) and the articulation rate (syllables per second of
# speaking time: Korean ~6, English ~4.5).
PRIOR_PITCH_RANGE_ST = 10.0
PRIOR_SYLLABLES_PER_S = {"ko": 6.0, "en": 4.5}
# Against the prior a cue's z-score counts half: people differ from each other about twice as much as one
# person differs from one utterance to the next, so a population step is wider than a speaker's own.
_PRIOR_Z_FACTOR = 0.5
_PRIOR_RELIABILITY = 0.35


KO_POSITIVE = frozenset(
    """좋 기쁘 즐겁 행복 성공 만족 뿌듯 보람 감사 재미있 흥미 자신감 성장 향상 개선 해결 극복 칭찬 인정 효과적
    훌륭 최고 원활 협력 성취 달성 성과 기회 열정 즐기 고맙 다행 안정 신뢰 유익 좋아하 배려 도움 설레 기대 편안 든든""".split()
)
KO_NEGATIVE = frozenset(
    """나쁘 싫 어렵 힘들 실패 문제 갈등 불만 걱정 불안 스트레스 실수 지연 오류 버그 장애 화나 슬프 포기 부족
    손실 충돌 늦 비판 사망 피해 사고 재난 답답 아쉽 후회 위기 불편 고생 피곤 부담 지치 억울 무시 실망 짜증 귀찮 곤란 위험
    우울 속상하 외롭 괴롭 서운 섭섭 두렵 무섭 초조""".split()
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


def _wmean(pairs: Iterable[tuple[float | None, float]]) -> float | None:
    usable = [(v, w) for v, w in pairs if v is not None and w > 0]
    total = sum(w for _, w in usable)
    return sum(v * w for v, w in usable) / total if total > 0 else None


@dataclass(frozen=True)
class VocalBaseline:
    """A speaker's usual voice: what "raised" pitch or level is measured against.

    Averages over the candidate's earlier answers, each weighted by its seconds of speech (pitch on a log
    scale). Plain floats so the pipeline keeps it between answers in Redis and in the interview row
    (:meth:`to_dict`/:meth:`from_dict`; dicts written before a field existed still load).
    """

    pitch_hz_median: float
    loudness_db_mean: float
    pitch_std_semitones: float
    count: int = 1
    pitch_range_semitones: float | None = None
    alpha_ratio_db: float | None = None
    syllables_per_s: float | None = None
    speech_s: float = 0.0

    @classmethod
    def from_features(
        cls, features: Iterable[VocalFeatures], *, syllables_per_s: Iterable[float | None] | None = None
    ) -> VocalBaseline | None:
        """Baseline from earlier stretches of the same speaker; ``None`` when none has a pitch."""
        feats = list(features)
        rates = list(syllables_per_s) if syllables_per_s is not None else [None] * len(feats)
        usable = [(f, r) for f, r in zip(feats, rates) if f.pitch_hz_median and f.loudness_db_mean is not None]
        if not usable:
            return None
        weight = [max(f.speech_s, 0.5) for f, _ in usable]
        log_pitch = _wmean((math.log2(f.pitch_hz_median or 1.0), w) for (f, _), w in zip(usable, weight))
        return cls(
            pitch_hz_median=2.0 ** (log_pitch or 0.0),
            loudness_db_mean=_wmean((f.loudness_db_mean, w) for (f, _), w in zip(usable, weight)) or 0.0,
            pitch_std_semitones=_wmean((f.pitch_std_semitones, w) for (f, _), w in zip(usable, weight)) or 0.0,
            count=len(usable),
            pitch_range_semitones=_wmean((f.pitch_range_semitones, w) for (f, _), w in zip(usable, weight)),
            alpha_ratio_db=_wmean((f.alpha_ratio_db, w) for (f, _), w in zip(usable, weight)),
            syllables_per_s=_wmean((r, w) for (_, r), w in zip(usable, weight)),
            speech_s=round(sum(f.speech_s for f, _ in usable), 2),
        )

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> VocalBaseline:
        def opt(key: str) -> float | None:
            value = data.get(key)
            return None if value is None else float(value)

        return cls(
            pitch_hz_median=float(data["pitch_hz_median"]),
            loudness_db_mean=float(data["loudness_db_mean"]),
            pitch_std_semitones=float(data.get("pitch_std_semitones") or 0.0),
            count=int(data.get("count", 1)),
            pitch_range_semitones=opt("pitch_range_semitones"),
            alpha_ratio_db=opt("alpha_ratio_db"),
            syllables_per_s=opt("syllables_per_s"),
            speech_s=float(data.get("speech_s") or 0.0),
        )

    def to_dict(self) -> dict[str, float | int | None]:
        return asdict(self)

    def updated(self, features: VocalFeatures, *, syllables_per_s: float | None = None) -> VocalBaseline:
        """Running update with one more answer, weighted by seconds of speech on both sides."""
        if not features.pitch_hz_median or features.loudness_db_mean is None:
            return self
        # Old baselines (no speech_s stored) count as 5 s per answer.
        w0 = self.speech_s if self.speech_s > 0 else 5.0 * self.count
        w1 = max(features.speech_s, 0.5)

        def mix(old: float | None, new: float | None) -> float | None:
            return _wmean([(old, w0), (new, w1)])

        log_pitch = mix(math.log2(self.pitch_hz_median), math.log2(features.pitch_hz_median)) or 0.0
        return VocalBaseline(
            pitch_hz_median=2.0**log_pitch,
            loudness_db_mean=mix(self.loudness_db_mean, features.loudness_db_mean) or 0.0,
            pitch_std_semitones=mix(self.pitch_std_semitones, features.pitch_std_semitones) or 0.0,
            count=self.count + 1,
            pitch_range_semitones=mix(self.pitch_range_semitones, features.pitch_range_semitones),
            alpha_ratio_db=mix(self.alpha_ratio_db, features.alpha_ratio_db),
            syllables_per_s=mix(self.syllables_per_s, syllables_per_s),
            speech_s=round(self.speech_s + features.speech_s, 2),
        )


@dataclass
class AffectResult:
    """Affect of one answer. ``scores`` sum to 1 over :data:`LABELS`.

    ``label`` is ``None`` (and ``stated`` False) when ``confidence`` is below :data:`MIN_STATED_CONFIDENCE`;
    ``scores``, ``arousal`` and ``evidence`` are still there for a reviewer who wants to see why.
    ``baseline_kind``: "prior" (first answer: population values, no speaker baseline), "running" (the
    candidate's earlier answers), "session" (final pass: the candidate's other answers of the interview).
    ``evidence["cues"]`` holds each cue's value, the baseline's value, the change and its weight.
    """

    label: str | None
    confidence: float
    arousal: float
    valence: float
    scores: dict[str, float]
    text_valence: float
    vocal_arousal: float | None
    baseline_used: bool
    stated: bool = False
    min_confidence: float = MIN_STATED_CONFIDENCE
    baseline_kind: str = "prior"
    baseline_speech_s: float = 0.0
    baseline_answers: int = 0
    evidence: dict[str, Any] = field(default_factory=dict)

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
        # Kiwi marks irregular predicates with a suffix ("어렵" is VA-I, "받" VV-R): compare the base tag.
        if m.tag.split("-")[0] not in ("NNG", "VV", "VA", "XR", "MAG") or m.form in ("안", "못"):
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
        if m.tag in ("NNG", "XR"):
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


def arousal_evidence(
    features: VocalFeatures,
    baseline: VocalBaseline | None = None,
    *,
    syllables_per_s: float | None = None,
    language: str = "ko",
) -> tuple[float | None, dict[str, dict[str, Any]]]:
    """Arousal 0..1 and the per-cue evidence behind it; 0.5 means "as usual for this speaker".

    Each cue's change against the baseline is divided by its usual step (:data:`CUES`), clipped at ±3
    steps, and the weighted mean of those z-scores goes through a logistic. Without a baseline only the
    population-prior cues (F0 range, articulation rate) are compared with typical values.
    """
    if features.pitch_hz_median is None or features.loudness_db_mean is None:
        return None, {}
    deltas: dict[str, tuple[float, float, float]] = {}  # cue -> (value, reference, delta in the cue's unit)

    def add(name: str, value: float | None, reference: float | None, delta: float | None) -> None:
        if value is not None and reference is not None and delta is not None:
            deltas[name] = (value, reference, delta)

    rate_ref: float | None
    if baseline is not None:
        add("pitch_level", features.pitch_hz_median, baseline.pitch_hz_median,
            12.0 * math.log2(features.pitch_hz_median / baseline.pitch_hz_median))
        add("loudness", features.loudness_db_mean, baseline.loudness_db_mean,
            features.loudness_db_mean - baseline.loudness_db_mean)
        if features.alpha_ratio_db is not None and baseline.alpha_ratio_db is not None:
            add("spectral_tilt", features.alpha_ratio_db, baseline.alpha_ratio_db,
                features.alpha_ratio_db - baseline.alpha_ratio_db)
        range_ref = baseline.pitch_range_semitones
        rate_ref = baseline.syllables_per_s
    else:
        range_ref = PRIOR_PITCH_RANGE_ST
        rate_ref = PRIOR_SYLLABLES_PER_S.get(normalize_language(language), PRIOR_SYLLABLES_PER_S["en"])
    if features.pitch_range_semitones is not None and range_ref is not None:
        add("pitch_range", features.pitch_range_semitones, range_ref, features.pitch_range_semitones - range_ref)
    if syllables_per_s and rate_ref:
        add("speaking_rate", syllables_per_s, rate_ref, 100.0 * math.log(syllables_per_s / rate_ref))
    evidence: dict[str, dict[str, Any]] = {}
    num = den = 0.0
    for name, (value, reference, delta) in deltas.items():
        cue = _CUE[name]
        z = max(-_Z_CLIP, min(_Z_CLIP, delta / cue.scale)) * (1.0 if baseline is not None else _PRIOR_Z_FACTOR)
        num += cue.weight * z
        den += cue.weight
        evidence[name] = {"value": round(value, 2), "baseline": round(reference, 2), "delta": round(delta, 2),
                          "unit": cue.unit, "z": round(z, 2), "weight": cue.weight}
    if den == 0:
        return None, evidence
    return round(1.0 / (1.0 + math.exp(-_GAIN * num / den)), 3), evidence


def vocal_arousal(
    features: VocalFeatures,
    baseline: VocalBaseline | None = None,
    *,
    syllables_per_s: float | None = None,
    language: str = "ko",
) -> float | None:
    """Arousal 0..1 relative to the speaker's baseline (see :func:`arousal_evidence`)."""
    return arousal_evidence(features, baseline, syllables_per_s=syllables_per_s, language=language)[0]


def _reliability(features: VocalFeatures | None, arousal: float | None, baseline: VocalBaseline | None) -> float:
    """How far the arousal can be trusted: 0.35 on the population prior; 0.5..1 with a speaker baseline as it
    grows from 0 to 20 s of speech; no audio 0.3; scaled down for answers under 5 s of speech."""
    if features is None or arousal is None:
        return 0.3
    if baseline is None:
        reliability = _PRIOR_RELIABILITY
    else:
        reliability = 0.5 + 0.5 * min(1.0, baseline.speech_s / 20.0) if baseline.speech_s > 0 else 0.75
    if features.speech_s < 5.0:
        reliability *= max(0.3, features.speech_s / 5.0)
    return reliability


def label_scores(arousal: float, valence: float) -> dict[str, float]:
    """Scores over :data:`LABELS` (sum 1) from arousal and valence.

    Arousal sets how "up" (engaged/tense), "as usual" (calm) or "down" (flat: lower, quieter, darker than
    usual) the voice is, with linear ramps over ±0.2 around 0.5; valence shares the "up" part between
    engaged and tense (tense needs negative wording).
    """
    up = min(1.0, max(0.0, (arousal - 0.5) / 0.2))
    down = min(1.0, max(0.0, (0.5 - arousal) / 0.2))
    usual = 1.0 - up - down
    tense_share = min(1.0, max(0.0, 0.25 - 0.5 * valence))
    raw = {"calm": usual, "engaged": up * (1.0 - tense_share), "tense": up * tense_share, "flat": down}
    total = sum(raw.values()) or 1.0
    return {k: round(raw[k] / total, 3) for k in LABELS}


def affect_from(
    text: str,
    *,
    language: str,
    features: VocalFeatures | None,
    baseline: VocalBaseline | None = None,
    syllables_per_s: float | None = None,
    baseline_kind: str | None = None,
) -> AffectResult:
    """Combine text valence and vocal arousal into label scores, a confidence and the evidence.

    Without audio, arousal stays at 0.5 and confidence is low; without a baseline the population prior is
    used and says so (``baseline_kind="prior"``, ``baseline_used`` False).
    """
    valence = text_valence(text, language)
    arousal, cues = (None, {}) if features is None else arousal_evidence(
        features, baseline, syllables_per_s=syllables_per_s, language=language)
    a = 0.5 if arousal is None else arousal
    scores = label_scores(a, valence)
    best = max(LABELS, key=lambda k: scores[k])
    reliability = _reliability(features, arousal, baseline)
    confidence = round(scores[best] * reliability, 3)
    stated = confidence >= MIN_STATED_CONFIDENCE
    used = baseline is not None and arousal is not None
    return AffectResult(
        label=best if stated else None,
        confidence=confidence,
        arousal=round(a, 3),
        valence=valence,
        scores=scores,
        text_valence=valence,
        vocal_arousal=arousal,
        baseline_used=used,
        stated=stated,
        baseline_kind=(baseline_kind or "running") if used else "prior",
        baseline_speech_s=round(baseline.speech_s, 2) if used and baseline is not None else 0.0,
        baseline_answers=baseline.count if used and baseline is not None else 0,
        evidence={"cues": cues, "reliability": round(reliability, 3),
                  "answer_speech_s": round(features.speech_s, 2) if features is not None else 0.0},
    )
