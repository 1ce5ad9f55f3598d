"""What an answer says: keywords, relevance to the question, STAR structure, specificity, coverage.

Everything here is lexical on purpose: it is explainable to a candidate ("you did not mention X"), runs
in milliseconds, and works the same for Korean and English. An LLM judgement (``llm.py``) may be layered
on top, but never replaces these numbers.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from analysis.answers.keywords import content_terms, extract_keywords
from analysis.answers.text import english_words, morphs, normalize_for_match, normalize_language

# Share of the question's topic terms an answer must touch to count as fully on-topic: an answer rarely
# repeats every word of the question, and paraphrase is invisible to a lexical measure.
RELEVANCE_SATURATION = 0.6

STAR_CUES: dict[str, dict[str, tuple[str, ...]]] = {
    "en": {
        "situation": (
            r"\bwhen i was\b", r"\bwhen we were\b", r"\bat my (?:previous|last|current|old) (?:job|company|role|team|internship)\b",
            r"\bin my (?:previous|last|current) (?:job|role|position|team)\b", r"\bwhile (?:i was )?working\b",
            r"\bthe situation\b", r"\bwe were facing\b", r"\bwe faced\b", r"\bat the time\b", r"\bback in\b",
            r"\bthere was a\b", r"\bduring (?:my|our|the)\b", r"\bi was working (?:at|on|as)\b", r"\bthe context\b",
        ),
        "task": (
            r"\bmy role\b", r"\bi was responsible\b", r"\bmy responsibilit", r"\bmy task\b", r"\bi was asked to\b",
            r"\bthe goal\b", r"\bour goal\b", r"\bmy goal\b", r"\bi needed to\b", r"\bi had to\b", r"\bobjective\b",
            r"\bi was in charge\b", r"\bi owned\b", r"\bthe challenge was\b",
        ),
        "action": (
            r"\bi decided\b", r"\bi implemented\b", r"\bi built\b", r"\bi led\b", r"\bi proposed\b", r"\bi organi[sz]ed\b",
            r"\bi worked with\b", r"\bi talked to\b", r"\bi created\b", r"\bi analy[sz]ed\b", r"\bi started\b",
            r"\bi designed\b", r"\bi wrote\b", r"\bi set up\b", r"\bi introduced\b", r"\bi reached out\b",
            r"\bi suggested\b", r"\bi automated\b", r"\bi refactored\b", r"\bi migrated\b", r"\bi negotiated\b",
            r"\bi scheduled\b", r"\bi investigated\b", r"\bso i\b", r"\bmy approach\b", r"\bfirst,? i\b",
        ),
        "result": (
            r"\bas a result\b", r"\bresulted in\b", r"\bwhich led to\b", r"\bin the end\b", r"\bwe achieved\b",
            r"\bincreas", r"\breduc", r"\bimprov", r"\bdecreas", r"\bdropped\b", r"%", r"\bpercent\b", r"\bsaved\b",
            r"\bi learned\b", r"\bwe delivered\b", r"\bwe shipped\b", r"\bsuccessfully\b", r"\boutcome\b",
            r"\bfinally\b", r"\beventually\b", r"\bdoubled\b", r"\btripled\b", r"\bwon\b",
        ),
    },
    "ko": {
        "situation": (
            r"상황", r"당시", r"했을 때", r"였을 때", r"일 때", r"근무", r"재직", r"인턴", r"프로젝트에서", r"회사에서",
            r"동아리", r"학교", r"문제가 (?:있|생|발생)", r"배경",
        ),
        "task": (
            r"제 역할", r"역할", r"맡았", r"맡게", r"담당", r"목표", r"과제", r"책임", r"해야 했", r"해야 하는", r"임무", r"미션",
        ),
        "action": (
            r"결정", r"제안", r"도입", r"구현", r"개발했", r"분석", r"설득", r"진행했", r"시도", r"적용", r"주도",
            r"설계", r"작성", r"정리했", r"조율", r"소통", r"협의", r"자동화", r"개선하기 위해", r"그래서 저는", r"먼저",
        ),
        "result": (
            r"그 결과", r"결과적으로", r"결과", r"개선", r"향상", r"감소", r"증가", r"달성", r"성공", r"%", r"퍼센트",
            r"배웠", r"배운", r"성과", r"해결", r"줄였", r"늘었", r"늘렸", r"단축", r"절감", r"수상", r"마무리",
        ),
    },
}

EXAMPLE_CUES = {
    "en": (r"\bfor example\b", r"\bfor instance\b", r"\bsuch as\b", r"\be\.g\.", r"\bspecifically\b", r"\bin particular\b"),
    "ko": (r"예를 들어", r"예를 들면", r"예컨대", r"가령", r"구체적으로", r"실제로"),
}
EN_NUMBER_WORDS = frozenset(
    """zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen
    seventeen eighteen nineteen twenty thirty forty fifty sixty seventy eighty ninety hundred thousand million
    billion dozen half double twice triple""".split()
)
EN_UNITS = frozenset(
    """percent % ms millisecond milliseconds second seconds minute minutes hour hours day days week weeks month
    months year years users customers clients people engineers members dollars usd won requests downloads
    orders tickets bugs releases sprints""".split()
)
KO_NATIVE_NUMERALS = frozenset(
    {"한", "두", "세", "네", "다섯", "여섯", "일곱", "여덟", "아홉", "열", "스무", "서른", "마흔", "쉰", "예순", "일흔", "여든", "아흔", "몇"}
)
KO_UNITS = frozenset(
    {"퍼센트", "%", "명", "개", "개월", "달", "년", "주", "일", "시간", "분", "초", "원", "만원", "억", "배", "건", "번", "회", "팀", "곳", "달러", "월"}
)


@dataclass
class ContentMetrics:
    """Content of one answer; coverage fields are None/[] when the question had no expected keywords."""

    keywords: list[str]
    key_phrases: list[str]
    relevance: float
    structure: dict[str, bool]
    star_score: float
    specificity: float
    specifics: list[str]
    expected_keyword_coverage: float | None
    covered_keywords: list[str] = field(default_factory=list)
    missing_keywords: list[str] = field(default_factory=list)
    question_terms_missing: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def star_structure(text: str, language: str) -> dict[str, bool]:
    """Which of situation / task / action / result the answer signals with explicit cues."""
    lang = normalize_language(language)
    norm = text.lower()
    return {part: any(re.search(p, norm) for p in cues) for part, cues in STAR_CUES[lang].items()}


def find_specifics(text: str, language: str) -> list[str]:
    """Concrete evidence in the answer: numbers (digits or number words) with their unit, named things,
    and explicit examples. Returned as the surface strings so feedback and reports can quote them."""
    lang = normalize_language(language)
    found: list[str] = []
    for m in re.finditer(r"\d[\d,.]*\s*(?:%|퍼센트|[a-zA-Z]+|[\uac00-\ud7a3]{1,2})?", text):
        found.append(m.group().strip())
    if lang == "ko":
        ms = morphs(text)
        for i, m in enumerate(ms):
            nxt = ms[i + 1] if i + 1 < len(ms) else None
            if m.tag == "NR" or (m.tag == "MM" and m.form in KO_NATIVE_NUMERALS and nxt is not None and nxt.tag in ("NNB", "NNG")):
                # Join a numeral with following numerals and its counter: "만 육천 명" -> "만육천명".
                if i > 0 and ms[i - 1].tag == "NR":
                    continue
                j = i
                while j + 1 < len(ms) and ms[j + 1].tag == "NR":
                    j += 1
                end = ms[j].start + ms[j].length
                if j + 1 < len(ms) and ms[j + 1].tag in ("NNB", "NNG") and ms[j + 1].form in KO_UNITS:
                    end = ms[j + 1].start + ms[j + 1].length
                found.append(text[m.start : end])
            elif m.tag in ("NNP", "SL") and len(m.form) >= 2 and m.form.lower() not in EN_UNITS and m.form.lower() not in {"ms", "kb", "mb", "gb"}:
                found.append(m.form)
    else:
        words = english_words(text)
        for i, w in enumerate(words):
            if w in EN_NUMBER_WORDS and not (w == "one" and (i + 1 >= len(words) or words[i + 1] in ("of", "thing", "day"))):
                unit = words[i + 1] if i + 1 < len(words) and words[i + 1] in EN_UNITS else ""
                found.append(f"{w} {unit}".strip())
        # Named things: capitalised words not at a sentence start, and acronyms ("AWS", "Kubernetes").
        for sentence in re.split(r"(?<=[.!?])\s+", text):
            toks = sentence.split()
            for k, tok in enumerate(toks):
                word = tok.strip(",.;:!?()\"'")
                if len(word) < 2 or word.lower() in ("i", "i'm", "i've", "i'd", "i'll"):
                    continue
                if word.isupper() and 2 <= len(word) <= 6 and not sentence.isupper():
                    found.append(word)
                elif k > 0 and word[0].isupper() and not word.isupper():
                    found.append(word)
    for pattern in EXAMPLE_CUES[lang]:
        for m in re.finditer(pattern, text.lower()):
            found.append(text[m.start() : m.end()])
    seen: set[str] = set()
    unique = []
    for item in found:
        if item and item not in seen:
            seen.add(item)
            unique.append(item)
    return unique


def specificity_score(specifics: Sequence[str]) -> float:
    """0..1, saturating: each concrete item adds less than the one before (three items ~ 0.7)."""
    return round(1.0 - math.exp(-len(specifics) / 2.5), 3)


def keyword_coverage(answer: str, expected: Sequence[str], language: str) -> tuple[float | None, list[str], list[str]]:
    """Share of expected keywords present in the answer, with the covered and missing ones.

    A keyword counts as covered when its normalised text occurs in the answer (spaces ignored for
    Korean, where "문제해결" and "문제 해결" are the same word), or when all of its content lemmas occur.
    """
    if not expected:
        return None, [], []
    lang = normalize_language(language)
    norm_answer = normalize_for_match(answer)
    squashed = norm_answer.replace(" ", "")
    answer_terms = content_terms(answer, lang)
    covered, missing = [], []
    for kw in expected:
        norm_kw = normalize_for_match(kw)
        if not norm_kw:
            continue
        if lang == "ko":
            hit = norm_kw.replace(" ", "") in squashed
        else:
            hit = re.search(rf"\b{re.escape(norm_kw)}", norm_answer) is not None
        if not hit:
            kw_terms = content_terms(kw, lang)
            hit = bool(kw_terms) and kw_terms <= answer_terms
        (covered if hit else missing).append(kw)
    total = len(covered) + len(missing)
    return (round(len(covered) / total, 3) if total else None), covered, missing


def relevance_score(answer: str, question: str, expected: Sequence[str] | None, language: str) -> tuple[float, list[str]]:
    """Lexical relevance 0..1: share of the question's topic terms (and expected keywords) the answer uses,
    saturating at ``RELEVANCE_SATURATION``. Returns the score and the question terms the answer missed."""
    lang = normalize_language(language)
    target = content_terms(question, lang, question=True) if question.strip() else set()
    for kw in expected or ():
        target |= content_terms(kw, lang)
    if not target:
        return 0.0, []
    answer_terms = content_terms(answer, lang)
    if lang == "ko":
        # Korean nouns inside longer compounds ("갈등" in "갈등관리") still count.
        squashed = normalize_for_match(answer).replace(" ", "")
        hits = {t for t in target if t in answer_terms or t in squashed}
    else:
        hits = target & answer_terms
    share = len(hits) / len(target)
    return round(min(1.0, share / RELEVANCE_SATURATION), 3), sorted(target - hits)


def content_metrics(
    answer: str,
    *,
    question: str,
    language: str,
    expected_keywords: Sequence[str] | None = None,
) -> ContentMetrics:
    """All content measures of one answer."""
    lang = normalize_language(language)
    kw = extract_keywords(answer, lang)
    structure = star_structure(answer, lang)
    specifics = find_specifics(answer, lang)
    relevance, missing_terms = relevance_score(answer, question, expected_keywords, lang)
    coverage, covered, missing = keyword_coverage(answer, list(expected_keywords or []), lang)
    return ContentMetrics(
        keywords=kw.keywords,
        key_phrases=kw.key_phrases,
        relevance=relevance,
        structure=structure,
        star_score=round(sum(structure.values()) / 4.0, 3),
        specificity=specificity_score(specifics),
        specifics=specifics,
        expected_keyword_coverage=coverage,
        covered_keywords=covered,
        missing_keywords=missing,
        question_terms_missing=missing_terms,
    )
