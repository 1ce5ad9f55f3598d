"""Words shown to people: evidence lines and feedback messages, in Korean and English.

Scoring code records *findings* (a code plus the numbers behind it) and never writes prose itself; this
module turns findings into sentences. Keeping every user-facing string here means a reviewer can read
the whole vocabulary of the report in one place, and a finding can never say something the numbers
behind it do not support.
"""

from __future__ import annotations

from typing import Any, Literal

from scoring.types import AnswerScore, Finding

Language = Literal["ko", "en"]

DIMENSION_LABELS: dict[str, dict[str, str]] = {
    "relevance": {"en": "Relevance", "ko": "관련성"},
    "structure": {"en": "Structure", "ko": "구조"},
    "specificity": {"en": "Specificity", "ko": "구체성"},
    "delivery": {"en": "Delivery", "ko": "전달력"},
    "composure": {"en": "Composure", "ko": "침착성"},
}

STAR_LABELS: dict[str, dict[str, str]] = {
    "situation": {"en": "situation", "ko": "상황"},
    "task": {"en": "task", "ko": "과제"},
    "action": {"en": "action", "ko": "행동"},
    "result": {"en": "result", "ko": "결과"},
}


AFFECT_LABELS: dict[str, dict[str, str]] = {
    "calm": {"en": "calm", "ko": "차분함"},
    "engaged": {"en": "engaged", "ko": "적극적"},
    "tense": {"en": "tense", "ko": "긴장"},
    "flat": {"en": "flat", "ko": "단조로움"},
}


def _affect(label: str, lang: Language) -> str:
    return AFFECT_LABELS.get(label.lower(), {}).get(lang, label)


def normalize_language(language: object) -> Language:
    """Everything that is not Korean is shown in English: the service supports exactly these two."""
    return "ko" if str(language or "").lower().startswith("ko") else "en"


def _quoted(items: list[str], limit: int = 4) -> str:
    shown = [f"'{item}'" for item in items[:limit]]
    more = len(items) - len(shown)
    return ", ".join(shown) + (f" (+{more})" if more > 0 else "")


def _plain(items: list[str], limit: int = 5) -> str:
    shown = list(items[:limit])
    more = len(items) - len(shown)
    return ", ".join(shown) + (f" (+{more})" if more > 0 else "")


def _star(parts: list[str], lang: Language) -> str:
    return ", ".join(STAR_LABELS[p][lang] for p in parts)


def _fillers(top: list[list[Any]], lang: Language) -> str:
    if lang == "ko":
        return ", ".join(f"'{w}' {n}회" for w, n in top)
    return ", ".join(f"'{w}' ×{n}" for w, n in top)


# Evidence: one short line per fact a dimension rests on. Each entry takes the finding's params.
_EVIDENCE: dict[str, dict[Language, Any]] = {
    "no_speech": {
        "en": lambda p: "no candidate speech in this answer",
        "ko": lambda p: "이 답변에서 지원자 발화가 없음",
    },
    "relevance_model": {
        "en": lambda p: f"relevance to the question {p['value']:.2f} (0-1)",
        "ko": lambda p: f"질문 관련도 {p['value']:.2f} (0-1)",
    },
    "keyword_coverage": {
        "en": lambda p: (
            f"covered {p['covered_n']} of {p['expected_n']} expected keywords"
            + (f": {_plain(p['covered'])}" if p["covered"] else "")
        ),
        "ko": lambda p: (
            f"기대 키워드 {p['expected_n']}개 중 {p['covered_n']}개 언급"
            + (f": {_plain(p['covered'])}" if p["covered"] else "")
        ),
    },
    "keywords_missing": {
        "en": lambda p: f"missing keywords: {_plain(p['missing'])}",
        "ko": lambda p: f"빠진 키워드: {_plain(p['missing'])}",
    },
    "star_parts": {
        "en": lambda p: (
            f"{p['n']} of 4 STAR parts" + (f": {_star(p['present'], 'en')}" if p["present"] else "")
        ),
        "ko": lambda p: (
            f"STAR 4요소 중 {p['n']}개" + (f": {_star(p['present'], 'ko')}" if p["present"] else "")
        ),
    },
    "star_missing": {
        "en": lambda p: f"missing: {_star(p['missing'], 'en')}",
        "ko": lambda p: f"빠진 요소: {_star(p['missing'], 'ko')}",
    },
    "star_score": {
        "en": lambda p: f"STAR completeness {p['value']:.2f} (0-1)",
        "ko": lambda p: f"STAR 완성도 {p['value']:.2f} (0-1)",
    },
    "specificity_model": {
        "en": lambda p: f"specificity {p['value']:.2f} (0-1)",
        "ko": lambda p: f"구체성 지표 {p['value']:.2f} (0-1)",
    },
    "specifics": {
        "en": lambda p: (
            f"{p['n']} concrete detail{'s' if p['n'] != 1 else ''}: {_quoted(p['items'])}"
            if p["n"]
            else "no concrete details (numbers, names, outcomes)"
        ),
        "ko": lambda p: (
            f"구체적 근거 {p['n']}개: {_quoted(p['items'])}" if p["n"] else "구체적 근거(수치, 이름, 성과) 없음"
        ),
    },
    "rate": {
        "en": lambda p: f"{p['rate']:.0f} wpm (target {p['lo']:.0f}-{p['hi']:.0f})",
        "ko": lambda p: f"분당 {p['rate']:.0f}음절 (목표 {p['lo']:.0f}-{p['hi']:.0f})",
    },
    "pause_ratio": {
        "en": lambda p: f"pauses {p['ratio'] * 100:.0f}% of the answer (target ≤ {p['max'] * 100:.0f}%)",
        "ko": lambda p: f"답변 중 침묵 {p['ratio'] * 100:.0f}% (목표 {p['max'] * 100:.0f}% 이하)",
    },
    "pitch_range": {
        "en": lambda p: f"pitch variation {p['st']:.1f} semitones (target {p['lo']:.1f}-{p['hi']:.1f})",
        "ko": lambda p: f"음높이 변화 {p['st']:.1f}반음 (목표 {p['lo']:.1f}-{p['hi']:.1f})",
    },
    "fillers": {
        "en": lambda p: (
            f"{p['n']} filler{'s' if p['n'] != 1 else ''} ({p['per_min']:.1f}/min, target ≤ {p['max']:.0f})"
            + (f"; most: {_fillers(p['top'], 'en')}" if p["top"] else "")
        ),
        "ko": lambda p: (
            f"간투사 {p['n']}회 (분당 {p['per_min']:.1f}회, 목표 {p['max']:.0f}회 이하)"
            + (f"; 가장 잦은 말: {_fillers(p['top'], 'ko')}" if p["top"] else "")
        ),
    },
    "disfluency": {
        "en": lambda p: (
            f"{p['self_corrections']} self-correction{'s' if p['self_corrections'] != 1 else ''}, "
            f"{p['repetitions']} repetition{'s' if p['repetitions'] != 1 else ''} ({p['per_min']:.1f}/min)"
        ),
        "ko": lambda p: f"말 고침 {p['self_corrections']}회, 반복 {p['repetitions']}회 (분당 {p['per_min']:.1f}회)",
    },
    "longest_pause": {
        "en": lambda p: f"longest pause {p['s']:.1f} s (target ≤ {p['max']:.1f} s)",
        "ko": lambda p: f"가장 긴 침묵 {p['s']:.1f}초 (목표 {p['max']:.1f}초 이하)",
    },
    "latency": {
        "en": lambda p: f"started answering after {p['s']:.1f} s (target ≤ {p['max']:.1f} s)",
        "ko": lambda p: f"질문 후 {p['s']:.1f}초 만에 답변 시작 (목표 {p['max']:.1f}초 이하)",
    },
    "pitch_stability": {
        "en": lambda p: f"pitch swings {p['st']:.1f} semitones (steady ≤ {p['max']:.1f})",
        "ko": lambda p: f"음높이 흔들림 {p['st']:.1f}반음 (안정 {p['max']:.1f} 이하)",
    },
    "affect": {
        "en": lambda p: f"voice sounds {_affect(p['label'], 'en')} ({p['confidence']:.2f}); tension {p['tension']:.2f}",
        "ko": lambda p: f"음성 정서 '{_affect(p['label'], 'ko')}' ({p['confidence']:.2f}), 긴장도 {p['tension']:.2f}",
    },
}


# Feedback: what to do about a finding. Only findings whose code appears here become feedback.
_FEEDBACK: dict[str, dict[Language, Any]] = {
    "no_speech": {
        "en": lambda p: "No answer was captured for this question; check the microphone or answer aloud.",
        "ko": lambda p: "이 질문에 대한 답변이 녹음되지 않았습니다. 마이크를 확인하거나 소리 내어 답해 주세요.",
    },
    "relevance_low": {
        "en": lambda p: (
            f"The answer drifts from the question (relevance {p['value']:.2f}); "
            "restate the question's core in your first sentence."
        ),
        "ko": lambda p: (
            f"답변이 질문에서 벗어났습니다(관련도 {p['value']:.2f}). 첫 문장에서 질문의 핵심을 다시 짚어 주세요."
        ),
    },
    "keywords_missing": {
        "en": lambda p: f"The question expected {_plain(p['missing'], 3)}, which you did not mention.",
        "ko": lambda p: f"질문이 기대하는 {_plain(p['missing'], 3)} 내용을 언급하지 않았습니다.",
    },
    "star_missing": {
        "en": lambda p: (
            f"Your answer has no {' or '.join(STAR_LABELS[m]['en'] for m in p['missing'])} part; add "
            + " and ".join(_STAR_HINT_EN[m] for m in p["missing"])
            + "."
        ),
        "ko": lambda p: (
            f"답변에 {_star(p['missing'], 'ko')} 요소가 없습니다. "
            + ", ".join(_STAR_HINT_KO[m] for m in p["missing"])
            + " 덧붙여 보세요."
        ),
    },
    "specifics_none": {
        "en": lambda p: (
            "The answer has no concrete details; name a number, a tool or an outcome you were responsible for."
        ),
        "ko": lambda p: "구체적인 근거가 없습니다. 직접 책임진 수치, 도구, 성과를 하나 이상 말해 보세요.",
    },
    "specifics_few": {
        "en": lambda p: (
            f"Only {p['n']} concrete detail{'s' if p['n'] != 1 else ''} ({_quoted(p['items'], 2)}); "
            "back the claim with a measured result."
        ),
        "ko": lambda p: f"구체적 근거가 {p['n']}개뿐입니다({_quoted(p['items'], 2)}). 측정된 결과로 주장을 뒷받침해 보세요.",
    },
    "rate_fast": {
        "en": lambda p: f"You spoke at {p['rate']:.0f} wpm, above the {p['hi']:.0f} wpm comfort limit; slow down.",
        "ko": lambda p: f"분당 {p['rate']:.0f}음절로 편안한 속도({p['hi']:.0f})보다 빠릅니다. 조금 천천히 말해 보세요.",
    },
    "rate_slow": {
        "en": lambda p: f"You spoke at {p['rate']:.0f} wpm, below {p['lo']:.0f} wpm; keep a steadier pace.",
        "ko": lambda p: f"분당 {p['rate']:.0f}음절로 목표({p['lo']:.0f})보다 느립니다. 조금 더 이어서 말해 보세요.",
    },
    "pause_ratio_high": {
        "en": lambda p: f"Silence took {p['ratio'] * 100:.0f}% of the answer; plan the next point before you stop.",
        "ko": lambda p: f"답변 시간의 {p['ratio'] * 100:.0f}%가 침묵이었습니다. 다음 요점을 미리 정리해 두세요.",
    },
    "pitch_flat": {
        "en": lambda p: f"Your pitch varied only {p['st']:.1f} semitones; stress the key result to sound engaged.",
        "ko": lambda p: f"음높이 변화가 {p['st']:.1f}반음으로 단조롭습니다. 핵심 성과를 강조해 말해 보세요.",
    },
    "fillers_high": {
        "en": lambda p: (
            f"{p['per_min']:.1f} fillers a minute ({_fillers(p['top'], 'en')}); pause silently instead."
        ),
        "ko": lambda p: f"간투사가 분당 {p['per_min']:.1f}회입니다({_fillers(p['top'], 'ko')}). 대신 잠깐 멈춰 보세요.",
    },
    "disfluency_high": {
        "en": lambda p: (
            f"{p['self_corrections']} self-correction{'s' if p['self_corrections'] != 1 else ''} and "
            f"{p['repetitions']} repetition{'s' if p['repetitions'] != 1 else ''}; "
            "finish each sentence before starting the next."
        ),
        "ko": lambda p: (
            f"말 고침 {p['self_corrections']}회, 반복 {p['repetitions']}회가 있었습니다. 한 문장을 끝까지 말한 뒤 다음으로 넘어가세요."
        ),
    },
    "longest_pause_long": {
        "en": lambda p: f"One pause lasted {p['s']:.1f} s; a short bridge phrase keeps the answer moving.",
        "ko": lambda p: f"{p['s']:.1f}초 동안 말이 끊겼습니다. 짧은 연결 문장으로 흐름을 이어 가세요.",
    },
    "latency_long": {
        "en": lambda p: f"You took {p['s']:.1f} s to start; open with a one-line summary while you think.",
        "ko": lambda p: f"답변 시작까지 {p['s']:.1f}초가 걸렸습니다. 생각하는 동안 한 문장 요약으로 먼저 시작해 보세요.",
    },
    "pitch_unsteady": {
        "en": lambda p: f"Your pitch swung {p['st']:.1f} semitones; slower breathing steadies the voice.",
        "ko": lambda p: f"음높이가 {p['st']:.1f}반음까지 흔들렸습니다. 호흡을 천천히 하면 목소리가 안정됩니다.",
    },
    "affect_tense": {
        "en": lambda p: f"Your voice sounded {_affect(p['label'], 'en')} (tension {p['tension']:.2f}); slow the first sentence down.",
        "ko": lambda p: f"목소리에서 '{_affect(p['label'], 'ko')}' 정서가 느껴졌습니다(긴장도 {p['tension']:.2f}). 첫 문장을 천천히 시작해 보세요.",
    },
    "strength": {
        "en": lambda p: f"Strongest: {DIMENSION_LABELS[p['dimension']]['en'].lower()} ({p['score']:.0f}/100) — {p['why']}.",
        "ko": lambda p: f"가장 좋은 점: {DIMENSION_LABELS[p['dimension']]['ko']} ({p['score']:.0f}/100) — {p['why']}.",
    },
}

_STAR_HINT_EN = {
    "situation": "where and when it happened",
    "task": "what you were responsible for",
    "action": "what you did yourself",
    "result": "the measurable outcome",
}
_STAR_HINT_KO = {
    "situation": "언제 어디서 있었던 일인지",
    "task": "본인이 맡은 책임이 무엇이었는지",
    "action": "본인이 직접 무엇을 했는지",
    "result": "결과가 수치로 어떠했는지",
}


def evidence_line(finding: Finding, language: str) -> str:
    """The one-line evidence text for a finding, in the answer's language."""
    return str(_EVIDENCE[finding.code][normalize_language(language)](finding.params))


def feedback_message(code: str, params: dict[str, Any], language: str) -> str:
    return str(_FEEDBACK[code][normalize_language(language)](params))


_SEVERITY_RANK = {"critical": 0, "warn": 1, "info": 2}


def feedback_for_scores(score: AnswerScore, *, max_items: int = 4) -> list[dict[str, str]]:
    """Actionable feedback for one scored answer, worst problems first, plus its strongest dimension.

    Items come only from findings that carry a `feedback_code`, so each message quotes the numbers that
    triggered it. Ranking: severity, then points lost, then how low the dimension scored, then names
    (deterministic). The first pass takes at most one item per dimension so one bad habit (say, five
    composure problems) cannot crowd out a missing STAR part; later passes fill the remaining slots.
    Shape matches the analysis stage's feedback: `{"kind", "severity", "message"}`.
    """
    lang = normalize_language(score.language)
    actionable = [f for f in score.findings if f.feedback_code and f.severity != "info"]
    actionable.sort(
        key=lambda f: (
            _SEVERITY_RANK[f.severity], -f.cost, score.scores.get(f.dimension, 100.0), f.dimension, f.code
        )
    )
    first: list[Finding] = []
    rest: list[Finding] = []
    dims_taken: set[str] = set()
    for finding in actionable:
        (rest if finding.dimension in dims_taken else first).append(finding)
        dims_taken.add(finding.dimension)
    items: list[dict[str, str]] = []
    seen: set[str] = set()
    for finding in first + rest:
        assert finding.feedback_code is not None
        if finding.feedback_code in seen:
            continue
        seen.add(finding.feedback_code)
        items.append(
            {
                "kind": f"{finding.dimension}.{finding.feedback_code}",
                "severity": finding.severity,
                "message": feedback_message(finding.feedback_code, finding.params, lang),
            }
        )
        if len(items) >= max_items:
            break
    strength = _strength(score, lang)
    if strength is not None:
        items.append(strength)
    return items


def _strength(score: AnswerScore, lang: Language) -> dict[str, str] | None:
    """Name the best dimension only when it is genuinely good (>= 75) and has evidence to quote."""
    if not score.scores:
        return None
    best = sorted(score.scores.items(), key=lambda kv: (-kv[1], kv[0]))[0]
    dimension, value = best
    lines = score.evidence.get(dimension) or []
    if value < 75.0 or not lines:
        return None
    return {
        "kind": f"{dimension}.strength",
        "severity": "info",
        "message": feedback_message("strength", {"dimension": dimension, "score": value, "why": lines[0]}, lang),
    }
