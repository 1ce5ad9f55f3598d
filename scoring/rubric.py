"""The scoring rubric: five 0-100 dimensions per answer, a weighted overall, and a session band.

Why this shape: the analysis stage measures (rate, pauses, STAR parts, keywords, affect), but a person
needs judgements they can act on and trust. Each dimension here is a documented, monotone function of a
few measurements, so the same analysis always gives the same score, every score points at the facts it
rests on (`AnswerScore.evidence`), and a reviewer can reproduce any number by hand from docs/scoring.md.
Targets are language-aware because Korean is paced in syllables and English in words.

Pure module: plain dicts in, dataclasses out, no Django.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from analysis.answers.pace import PACE_RANGE
from scoring.feedback import evidence_line, feedback_for_scores, normalize_language
from scoring.types import AnswerScore, Finding, SessionScore

__all__ = [
    "DIMENSIONS",
    "AnswerScore",
    "LanguageTargets",
    "Rubric",
    "SessionScore",
    "feedback_for_scores",
    "score_answer",
    "score_session",
]

DIMENSIONS: tuple[str, ...] = ("relevance", "structure", "specificity", "delivery", "composure")
STAR_PARTS: tuple[str, ...] = ("situation", "task", "action", "result")

# Labels an affect model may use for an unsettled voice; matched case-insensitively. analysis.answers.affect
# uses calm / engaged / tense / flat; the rest cover categorical emotion models.
TENSE_AFFECT_LABELS = frozenset(
    {
        "tense", "angry", "anger", "fear", "fearful", "anxious", "anxiety", "nervous", "stressed", "sad", "sadness",
        "disgust", "frustrated", "분노", "화남", "불안", "두려움", "공포", "슬픔", "긴장",
    }
)  # fmt: skip


@dataclass(frozen=True)
class LanguageTargets:
    """Comfort ranges that depend on the language (see docs/scoring.md for where they come from)."""

    rate_unit: str
    rate_lo: float
    rate_hi: float
    fillers_per_min_ok: float
    fillers_per_min_max: float

    def __post_init__(self) -> None:
        if self.rate_unit not in ("wpm", "spm"):
            raise ValueError(f"rate_unit must be 'wpm' or 'spm', not {self.rate_unit!r}")
        if not (0 < self.rate_lo < self.rate_hi):
            raise ValueError(f"rate range must satisfy 0 < lo < hi, got {self.rate_lo}-{self.rate_hi}")
        if not (0 <= self.fillers_per_min_ok < self.fillers_per_min_max):
            raise ValueError("fillers_per_min_ok must be >= 0 and below fillers_per_min_max")


DEFAULT_WEIGHTS: dict[str, float] = {
    "relevance": 0.25,
    "structure": 0.20,
    "specificity": 0.20,
    "delivery": 0.20,
    "composure": 0.15,
}

DEFAULT_TARGETS: dict[str, LanguageTargets] = {
    "en": LanguageTargets("wpm", *PACE_RANGE["wpm"], fillers_per_min_ok=2.0, fillers_per_min_max=10.0),
    "ko": LanguageTargets("spm", *PACE_RANGE["spm"], fillers_per_min_ok=3.0, fillers_per_min_max=12.0),
}


@dataclass(frozen=True)
class Rubric:
    """Weights per dimension plus the thresholds the dimensions are measured against.

    Weights need not sum to 1 (they are normalised), but each must be finite and >= 0 and at least one
    must be positive; a weight of 0 switches a dimension off for the overall score while still reporting
    it. Thresholds are (ok, bad) pairs: at or better than `ok` costs nothing, at or worse than `bad`
    scores 0, linear in between.
    """

    weights: Mapping[str, float] = field(default_factory=lambda: dict(DEFAULT_WEIGHTS))
    targets: Mapping[str, LanguageTargets] = field(default_factory=lambda: dict(DEFAULT_TARGETS))
    # Outside the comfortable rate range, the rate component falls to 0 at this relative distance.
    rate_tolerance: float = 0.4
    pause_ratio: tuple[float, float] = (0.25, 0.60)
    pitch_range_st: tuple[float, float] = (2.0, 5.0)
    pitch_unsteady_st: tuple[float, float] = (6.0, 10.0)
    longest_pause_s: tuple[float, float] = (3.0, 8.0)
    response_latency_s: tuple[float, float] = (3.0, 10.0)
    disfluency_per_min: tuple[float, float] = (2.0, 8.0)

    def __post_init__(self) -> None:
        unknown = sorted(set(self.weights) - set(DIMENSIONS))
        if unknown:
            raise ValueError(f"unknown rubric dimension(s): {', '.join(unknown)}; known: {', '.join(DIMENSIONS)}")
        missing = sorted(set(DIMENSIONS) - set(self.weights))
        if missing:
            raise ValueError(f"rubric weights missing for: {', '.join(missing)}")
        for name, weight in self.weights.items():
            if not isinstance(weight, (int, float)) or isinstance(weight, bool) or not math.isfinite(weight):
                raise ValueError(f"weight for {name} must be a finite number, got {weight!r}")
            if weight < 0:
                raise ValueError(f"weight for {name} must be >= 0, got {weight}")
        if sum(self.weights.values()) <= 0:
            raise ValueError("at least one rubric weight must be positive")
        for language in ("en", "ko"):
            if language not in self.targets:
                raise ValueError(f"rubric targets missing for language {language!r}")
        if not (0 < self.rate_tolerance <= 1):
            raise ValueError("rate_tolerance must be in (0, 1]")
        for name in ("pause_ratio", "pitch_unsteady_st", "longest_pause_s", "response_latency_s",
                     "disfluency_per_min"):  # fmt: skip
            ok, bad = getattr(self, name)
            if not (0 <= ok < bad):
                raise ValueError(f"{name} must be (ok, bad) with 0 <= ok < bad, got {(ok, bad)}")
        lo, hi = self.pitch_range_st
        if not (0 < lo < hi):
            raise ValueError(f"pitch_range_st must satisfy 0 < lo < hi, got {(lo, hi)}")

    @property
    def normalized_weights(self) -> dict[str, float]:
        total = float(sum(self.weights.values()))
        return {d: float(self.weights[d]) / total for d in DIMENSIONS}

    def targets_for(self, language: str, rate_unit: str | None = None) -> LanguageTargets:
        """Targets for the language, unless the measured rate unit says the other one applies."""
        lang = normalize_language(language)
        chosen = self.targets[lang]
        if rate_unit and rate_unit != chosen.rate_unit:
            for other in self.targets.values():
                if other.rate_unit == rate_unit:
                    return other
        return chosen

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Rubric:
        """Build a rubric from a per-question-set override, merged over the defaults.

        Accepts either a flat `{dimension: weight}` mapping or
        `{"weights": {...}, "targets": {"ko": {"rate": [lo, hi], "fillers_per_min": [ok, max]}}, <threshold>: [ok, bad]}`.
        Unnamed dimensions keep their default weight; anything unknown raises ValueError so a typo in a
        question set never silently changes scores.
        """
        if not isinstance(data, Mapping):
            raise ValueError("rubric override must be a mapping")
        if data and set(data) <= set(DIMENSIONS):
            data = {"weights": data}
        allowed = {"weights", "targets"} | _THRESHOLD_FIELDS
        unknown = sorted(set(data) - allowed)
        if unknown:
            raise ValueError(f"unknown rubric key(s): {', '.join(unknown)}")
        base = cls()
        weights = dict(base.weights)
        raw_weights = data.get("weights") or {}
        if not isinstance(raw_weights, Mapping):
            raise ValueError("'weights' must be a mapping of dimension to weight")
        weights.update(raw_weights)
        targets = dict(base.targets)
        raw_targets = data.get("targets") or {}
        if not isinstance(raw_targets, Mapping):
            raise ValueError("'targets' must be a mapping of language to targets")
        for language, spec in raw_targets.items():
            if language not in targets:
                raise ValueError(f"targets for unsupported language {language!r}")
            unknown_t = sorted(set(spec) - {"rate", "fillers_per_min", "rate_unit"})
            if unknown_t:
                raise ValueError(f"unknown target key(s) for {language}: {', '.join(unknown_t)}")
            current = targets[language]
            if spec.get("rate_unit", current.rate_unit) != current.rate_unit:
                raise ValueError(f"{language} pace is measured in {current.rate_unit}; it cannot be changed")
            rate = spec.get("rate", (current.rate_lo, current.rate_hi))
            fillers = spec.get("fillers_per_min", (current.fillers_per_min_ok, current.fillers_per_min_max))
            targets[language] = LanguageTargets(
                current.rate_unit, float(rate[0]), float(rate[1]), float(fillers[0]), float(fillers[1])
            )
        thresholds = {name: tuple(float(v) for v in data[name]) for name in _THRESHOLD_FIELDS if name in data}
        return replace(base, weights=weights, targets=targets, **thresholds)

    def to_dict(self) -> dict[str, Any]:
        """The inverse of from_dict, for storing the rubric a report was scored with."""
        out: dict[str, Any] = {
            "weights": {d: float(self.weights[d]) for d in DIMENSIONS},
            "targets": {
                lang: {"rate_unit": t.rate_unit, "rate": [t.rate_lo, t.rate_hi],
                       "fillers_per_min": [t.fillers_per_min_ok, t.fillers_per_min_max]}
                for lang, t in sorted(self.targets.items())
            },
        }  # fmt: skip
        for name in sorted(_THRESHOLD_FIELDS):
            out[name] = list(getattr(self, name))
        return out


_THRESHOLD_FIELDS = frozenset(
    {"pause_ratio", "pitch_range_st", "pitch_unsteady_st", "longest_pause_s", "response_latency_s",
     "disfluency_per_min"}
)  # fmt: skip


# --- small numeric helpers ---------------------------------------------------------------------------


def _num(value: Any, default: float = 0.0) -> float:
    """A finite float, or the default: analysis fields can be None or NaN when a measure was impossible."""
    try:
        out = float(value)
    except (TypeError, ValueError):
        return default
    return out if math.isfinite(out) else default


def _opt(value: Any) -> float | None:
    try:
        out = float(value)
    except (TypeError, ValueError):
        return None
    return out if math.isfinite(out) else None


def _clip01(x: float) -> float:
    return min(1.0, max(0.0, x))


def _lower_is_better(x: float, ok: float, bad: float) -> float:
    """1 at or below `ok`, 0 at or above `bad`, linear between."""
    if x <= ok:
        return 1.0
    if x >= bad:
        return 0.0
    return 1.0 - (x - ok) / (bad - ok)


def _in_range(x: float, lo: float, hi: float, tolerance: float) -> float:
    """1 inside [lo, hi]; outside, falls linearly to 0 at `tolerance` relative distance past the edge."""
    if lo <= x <= hi:
        return 1.0
    if x < lo:
        return _clip01(1.0 - (lo - x) / (tolerance * lo))
    return _clip01(1.0 - (x - hi) / (tolerance * hi))


def _severity(component: float) -> str:
    """How much a shortfall cost: >= 0.8 of the component is fine, below 0.5 is critical."""
    if component >= 0.8:
        return "info"
    return "warn" if component >= 0.5 else "critical"


def _flag(active: bool, code: str, fit: float, weight: float) -> dict[str, Any]:
    """Finding fields for a fact worth acting on; `cost` = dimension points (0-100) the shortfall lost.

    `weight` is the component's share of its dimension, before renormalising over the components that
    could be measured, so cost is an approximate ranking key, not an exact decomposition.
    """
    if not active:
        return {}
    return {"feedback_code": code, "severity": _severity(fit), "cost": round(100.0 * weight * (1.0 - fit), 3)}


def _weighted(parts: list[tuple[float, float]]) -> float:
    total = sum(w for _, w in parts)
    return sum(v * w for v, w in parts) / total if total > 0 else 0.0


def _r1(x: float) -> float:
    return round(x + 0.0, 1)


# --- dimensions --------------------------------------------------------------------------------------


def _relevance(content: Mapping[str, Any]) -> tuple[float, list[Finding]]:
    rel = _clip01(_num(content.get("relevance")))
    coverage = _opt(content.get("expected_keyword_coverage"))
    covered = [str(k) for k in content.get("covered_keywords") or []]
    missing = [str(k) for k in content.get("missing_keywords") or []]
    findings = [Finding("relevance", "relevance_model", {"value": rel}, **_flag(rel < 0.5, "relevance_low", rel, 0.6))]
    if coverage is None:
        return 100.0 * rel, findings
    coverage = _clip01(coverage)
    expected_n = len(covered) + len(missing)
    findings.append(
        Finding("relevance", "keyword_coverage",
                {"covered_n": len(covered), "expected_n": expected_n, "covered": covered})  # fmt: skip
    )
    if missing:
        findings.append(
            Finding("relevance", "keywords_missing", {"missing": missing}, **_flag(True, "keywords_missing", coverage, 0.4))
        )
    return 100.0 * (0.6 * rel + 0.4 * coverage), findings


def _structure(content: Mapping[str, Any]) -> tuple[float, list[Finding]]:
    parts = content.get("structure") or {}
    present = [p for p in STAR_PARTS if parts.get(p)]
    missing = [p for p in STAR_PARTS if not parts.get(p)]
    star = _clip01(_num(content.get("star_score")))
    fraction = len(present) / len(STAR_PARTS)
    findings = [Finding("structure", "star_parts", {"n": len(present), "present": present})]
    if missing:
        findings.append(
            Finding("structure", "star_missing", {"missing": missing}, **_flag(True, "star_missing", fraction, 0.5))
        )
    findings.append(Finding("structure", "star_score", {"value": star}))
    return 100.0 * (0.5 * fraction + 0.5 * star), findings


def _specificity(content: Mapping[str, Any]) -> tuple[float, list[Finding]]:
    spec = _clip01(_num(content.get("specificity")))
    items: list[str] = []
    for item in content.get("specifics") or []:
        text = str(item).strip()
        if text and text not in items:
            items.append(text)
    detail = min(1.0, len(items) / 3.0)
    value = 0.7 * spec + 0.3 * detail
    findings = [Finding("specificity", "specificity_model", {"value": spec})]
    params = {"n": len(items), "items": items}
    if not items:
        findings.append(Finding("specificity", "specifics", params, **_flag(True, "specifics_none", 0.0, 0.3)))
    elif len(items) < 3 and spec < 0.6:
        findings.append(Finding("specificity", "specifics", params, **_flag(True, "specifics_few", value, 0.3)))
    else:
        findings.append(Finding("specificity", "specifics", params))
    return 100.0 * value, findings


def _delivery(delivery: Mapping[str, Any], language: str, rubric: Rubric) -> tuple[float, list[Finding]]:
    unit = str(delivery.get("rate_unit") or "")
    targets = rubric.targets_for(language, unit or None)
    duration = _num(delivery.get("duration_s"))
    rate = _opt(delivery.get("rate"))
    if rate is None:
        speech = _num(delivery.get("speech_s"))
        count_key = "syllable_count" if targets.rate_unit == "spm" else "word_count"
        rate = _num(delivery.get(count_key)) / speech * 60.0 if speech > 0 else 0.0
    rate_fit = _in_range(rate, targets.rate_lo, targets.rate_hi, rubric.rate_tolerance)
    rate_params = {"rate": rate, "lo": targets.rate_lo, "hi": targets.rate_hi, "unit": targets.rate_unit}
    rate_code = "rate_fast" if rate > targets.rate_hi else "rate_slow" if rate < targets.rate_lo else None
    findings = [Finding("delivery", "rate", rate_params, **_flag(rate_code is not None, rate_code or "", rate_fit, 0.5))]
    parts: list[tuple[float, float]] = [(rate_fit, 0.5)]

    if duration > 0:
        ratio = _clip01(_num(delivery.get("pause_total_s")) / duration)
        ok, bad = rubric.pause_ratio
        fit = _lower_is_better(ratio, ok, bad)
        findings.append(
            Finding("delivery", "pause_ratio", {"ratio": ratio, "max": ok},
                    **_flag(ratio > ok, "pause_ratio_high", fit, 0.25))  # fmt: skip
        )
        parts.append((fit, 0.25))

    pitch_st = _opt(delivery.get("pitch_std_semitones"))
    if pitch_st is not None:
        lo, hi = rubric.pitch_range_st
        # Too little variation reads as flat; too much is judged under composure, not here.
        fit = _in_range(pitch_st, lo, hi, 0.75) if pitch_st < lo else 1.0
        findings.append(
            Finding("delivery", "pitch_range", {"st": pitch_st, "lo": lo, "hi": hi},
                    **_flag(pitch_st < lo, "pitch_flat", fit, 0.25))  # fmt: skip
        )
        parts.append((fit, 0.25))
    return 100.0 * _weighted(parts), findings


def _affect_tension(affect: Mapping[str, Any]) -> float:
    """0 = relaxed, 1 = clearly tense. Label evidence and arousal x (negative) valence both count.

    Assumes arousal in [0, 1] and valence in [-1, 1] (negative = unpleasant), clipped if outside.
    """
    label = str(affect.get("label") or "").strip().lower()
    confidence = _clip01(_num(affect.get("confidence")))
    from_label = confidence if label in TENSE_AFFECT_LABELS else 0.0
    arousal = _clip01(_num(affect.get("arousal")))
    unpleasant = _clip01(-_num(affect.get("valence")))
    return max(from_label, arousal * unpleasant)


def _composure(delivery: Mapping[str, Any], affect: Mapping[str, Any] | None, language: str,
               rubric: Rubric) -> tuple[float, list[Finding]]:  # fmt: skip
    targets = rubric.targets_for(language, str(delivery.get("rate_unit") or "") or None)
    minutes = _num(delivery.get("duration_s")) / 60.0
    findings: list[Finding] = []
    parts: list[tuple[float, float]] = []

    filler_count = int(_num(delivery.get("filler_count")))
    per_min = _opt(delivery.get("filler_per_min"))
    if per_min is None:
        per_min = filler_count / minutes if minutes > 0 else 0.0
    fillers = delivery.get("fillers") or {}
    top = sorted(((str(w), int(_num(n))) for w, n in fillers.items()), key=lambda wn: (-wn[1], wn[0]))[:3]
    fit = _lower_is_better(per_min, targets.fillers_per_min_ok, targets.fillers_per_min_max)
    high = per_min > targets.fillers_per_min_ok
    findings.append(
        Finding("composure", "fillers",
                {"n": filler_count, "per_min": per_min, "max": targets.fillers_per_min_ok, "top": [list(t) for t in top]},
                **_flag(high, "fillers_high", fit, 0.35))  # fmt: skip
    )
    parts.append((fit, 0.35))

    corrections = int(_num(delivery.get("self_corrections")))
    repetitions = int(_num(delivery.get("repetitions")))
    dis_per_min = (corrections + repetitions) / minutes if minutes > 0 else 0.0
    ok, bad = rubric.disfluency_per_min
    fit = _lower_is_better(dis_per_min, ok, bad)
    findings.append(
        Finding("composure", "disfluency",
                {"self_corrections": corrections, "repetitions": repetitions, "per_min": dis_per_min},
                **_flag(dis_per_min > ok and corrections + repetitions >= 2, "disfluency_high", fit, 0.20))  # fmt: skip
    )
    parts.append((fit, 0.20))

    longest = _num(delivery.get("longest_pause_s"))
    ok, bad = rubric.longest_pause_s
    fit = _lower_is_better(longest, ok, bad)
    findings.append(
        Finding("composure", "longest_pause", {"s": longest, "max": ok},
                **_flag(longest > ok, "longest_pause_long", fit, 0.15))  # fmt: skip
    )
    parts.append((fit, 0.15))

    latency = _opt(delivery.get("response_latency_s"))
    if latency is not None:
        latency = max(0.0, latency)
        ok, bad = rubric.response_latency_s
        fit = _lower_is_better(latency, ok, bad)
        findings.append(
            Finding("composure", "latency", {"s": latency, "max": ok},
                    **_flag(latency > ok, "latency_long", fit, 0.10))  # fmt: skip
        )
        parts.append((fit, 0.10))

    pitch_st = _opt(delivery.get("pitch_std_semitones"))
    if pitch_st is not None:
        ok, bad = rubric.pitch_unsteady_st
        fit = _lower_is_better(pitch_st, ok, bad)
        findings.append(
            Finding("composure", "pitch_stability", {"st": pitch_st, "max": ok},
                    **_flag(pitch_st > ok, "pitch_unsteady", fit, 0.10))  # fmt: skip
        )
        parts.append((fit, 0.10))

    # An affect result below its stated-confidence threshold ("stated": False) says nothing about the
    # candidate: no finding, no feedback, no weight in composure.
    if affect and affect.get("stated", True):
        tension = _affect_tension(affect)
        fit = 1.0 - tension
        findings.append(
            Finding("composure", "affect",
                    {"label": str(affect.get("label") or "?"), "confidence": _clip01(_num(affect.get("confidence"))),
                     "tension": tension},
                    **_flag(tension > 0.5, "affect_tense", fit, 0.10))  # fmt: skip
        )
        parts.append((fit, 0.10))
    return 100.0 * _weighted(parts), findings


def _has_speech(delivery: Mapping[str, Any], answer_text: str) -> bool:
    units = _num(delivery.get("word_count")) + _num(delivery.get("syllable_count"))
    return units > 0 or bool(answer_text.strip())


def score_answer(analysis: Mapping[str, Any], rubric: Rubric | None = None) -> AnswerScore:
    """Score one analysed answer (the analysis stage's per-answer dict) against a rubric.

    Deterministic: a pure function of its inputs, with sorted iteration wherever order could leak in.
    An answer with no speech scores 0 on every dimension, with evidence saying so, rather than being
    dropped: a skipped question is information the report must show.
    """
    rubric = rubric or Rubric()
    language = normalize_language(analysis.get("language"))
    delivery = analysis.get("delivery") or {}
    content = analysis.get("content") or {}
    affect = analysis.get("affect")
    stt_confidence = _opt(delivery.get("stt_confidence"))

    if not _has_speech(delivery, str(analysis.get("answer_text") or "")):
        finding = Finding("relevance", "no_speech", {}, "no_speech", "critical")
        line = evidence_line(finding, language)
        return AnswerScore(
            scores={d: 0.0 for d in DIMENSIONS},
            overall=0.0,
            evidence={d: [line] for d in DIMENSIONS},
            language=language,
            findings=(finding,),
            stt_confidence=stt_confidence,
        )

    raw: dict[str, float] = {}
    findings: list[Finding] = []
    for name, (value, found) in (
        ("relevance", _relevance(content)),
        ("structure", _structure(content)),
        ("specificity", _specificity(content)),
        ("delivery", _delivery(delivery, language, rubric)),
        ("composure", _composure(delivery, affect, language, rubric)),
    ):
        raw[name] = max(0.0, min(100.0, value))
        findings.extend(found)

    weights = rubric.normalized_weights
    overall = sum(raw[d] * weights[d] for d in DIMENSIONS)
    evidence = {d: [evidence_line(f, language) for f in findings if f.dimension == d] for d in DIMENSIONS}
    return AnswerScore(
        scores={d: _r1(raw[d]) for d in DIMENSIONS},
        overall=_r1(overall),
        evidence=evidence,
        language=language,
        findings=tuple(findings),
        stt_confidence=stt_confidence,
    )


# --- session -----------------------------------------------------------------------------------------

# Prior spread of per-answer overall scores (points) and its weight in pseudo-answers: with one answer
# there is no sample spread, so the band is built from this prior; with many answers the data dominates.
PRIOR_SD = 12.0
PRIOR_WEIGHT = 4.0
# Half-width (points) contributed by a transcript the recogniser was 0% sure of; scales with (1 - conf).
STT_SPAN = 30.0
BAND_LEVEL = 0.95


def _t_quantile(p: float, df: float) -> float:
    from scipy.stats import t  # imported lazily: scipy.stats costs ~0.5 s to import

    return float(t.ppf(p, df))


def score_session(answers: list[AnswerScore], *, stt_confidence: float) -> SessionScore:
    """Average answers into session scores, with an uncertainty band on the overall.

    Band half-width h = sqrt(h_s^2 + h_stt^2), where
      h_s   = t_{0.975, k0+n-1} * s_p / sqrt(n),  s_p^2 = (k0*sd0^2 + sum (x_i - mean)^2) / (k0 + n - 1)
      h_stt = STT_SPAN * (1 - stt_confidence).
    s_p pools the per-answer spread with a prior (sd0 = 12 points, k0 = 4 pseudo-answers) so one answer
    still gets an honest band; h_s shrinks like 1/sqrt(n), h_stt shrinks as the transcript gets surer.
    """
    conf = _clip01(_num(stt_confidence, 0.0))
    h_stt = STT_SPAN * (1.0 - conf)
    n = len(answers)
    if n == 0:
        return SessionScore(scores={}, overall=None, band=(0.0, 100.0), n_answers=0, stt_confidence=conf,
                            sampling_half_width=100.0, stt_half_width=_r1(h_stt))  # fmt: skip
    overall_values = [a.overall for a in answers]
    mean = sum(overall_values) / n
    ss = sum((x - mean) ** 2 for x in overall_values)
    df = PRIOR_WEIGHT + n - 1
    pooled_sd = math.sqrt((PRIOR_WEIGHT * PRIOR_SD**2 + ss) / df)
    h_s = _t_quantile(0.5 + BAND_LEVEL / 2.0, df) * pooled_sd / math.sqrt(n)
    half = math.hypot(h_s, h_stt)
    scores = {d: _r1(sum(a.scores.get(d, 0.0) for a in answers) / n) for d in DIMENSIONS}
    return SessionScore(
        scores=scores,
        overall=_r1(mean),
        band=(_r1(max(0.0, mean - half)), _r1(min(100.0, mean + half))),
        n_answers=n,
        stt_confidence=conf,
        sampling_half_width=_r1(h_s),
        stt_half_width=_r1(h_stt),
    )
