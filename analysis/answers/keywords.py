"""Keywords and key phrases of an answer, and the content terms used to compare it with a question.

Korean: Kiwi nouns (NNG general, NNP proper, SL foreign letters such as "AWS") rebuilt into the words the
speaker said ("데이터" + "베이스" -> "데이터베이스", "최적" + "화" -> "최적화"), and runs of nouns across
spaces as key phrases ("서버 응답 시간"). English: RAKE (Rose et al. 2010): stop words and punctuation split
the text into candidate phrases, each word scores degree/frequency, a phrase scores the sum of its words.
RAKE needs no model and no corpus statistics, which suits one short answer at a time.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field

from analysis.answers.text import Morph, english_stem, english_words, morphs, normalize_language

_KO_NOUN_TAGS = frozenset({"NNG", "NNP", "SL", "SH"})
_KO_VERB_TAGS = frozenset({"VV", "VA"})
# Generic nouns that say nothing about the topic of an answer.
KO_STOP_NOUNS = frozenset(
    {
        "것", "수", "때", "등", "거", "점", "중", "분", "번", "게", "데", "뿐", "듯", "줄", "지", "바", "측", "쪽",
        "생각", "부분", "경우", "정도", "때문", "사람", "이번", "자신", "가지", "관련", "이후", "이전", "동안",
        "말씀", "질문", "답변", "얘기", "이야기", "다음", "처음", "하나", "자체", "당시", "저희", "우리", "여기",
    }
)
# Words that make a question a question but not its topic ("경험을 말씀해 주세요", "tell me about a time").
KO_QUESTION_STOP = frozenset({"경험", "사례", "설명", "소개", "예", "어떻게", "무엇", "왜", "본인", "지원", "말", "주"})
KO_STOP_VERBS = frozenset({"하", "있", "없", "되", "같", "이", "않", "보", "주", "들", "알", "말", "싶", "그렇", "어떻", "이렇", "받", "가", "오"})
# Single-syllable nouns worth keeping even though most single syllables are function-like.
_UNITS = frozenset({"ms", "s", "m", "km", "kg", "g", "mb", "gb", "tb", "kb", "cm", "mm", "h", "x"})
_KO_SHORT_KEEP = frozenset({"팀", "앱", "돈", "법", "책", "차", "병", "빚", "꿈", "일"})

EN_STOPWORDS = frozenset(
    """
    a about above after again against all also am an and any are aren't as at be because been before being
    below between both but by can can't cannot could couldn't did didn't do does doesn't doing don't down
    during each few for from further had hadn't has hasn't have haven't having he he'd he'll he's her here
    here's hers herself him himself his how how's i i'd i'll i'm i've if in into is isn't it it's its itself
    let's me more most mustn't my myself no nor not of off on once only or other ought our ours ourselves
    out over own same shan't she she'd she'll she's should shouldn't so some such than that that's the their
    theirs them themselves then there there's these they they'd they'll they're they've this those through to
    too under until up very was wasn't we we'd we'll we're we've were weren't what what's when when's where
    where's which while who who's whom why why's with won't would wouldn't you you'd you'll you're you've
    your yours yourself yourselves um umm uh uhm erm er ah hmm mm like just really actually basically
    literally know mean kind sort thing things stuff lot lots well yeah yes okay ok also still even
    get got go going went gone make made say said tell told think thought want wanted way ways much many
    will shall may might must us one two first time times something anything everything within across
    among via per upon onto toward towards around along beside besides since though although unless whether
    """.split()
)
EN_QUESTION_STOP = frozenset(
    {"tell", "describe", "example", "give", "share", "explain", "walk", "talk", "experience", "situation",
     "time", "please", "could", "would", "can", "you", "your", "me", "us", "about", "how", "what", "why"}
)


@dataclass
class KeywordResult:
    """Ranked keywords (single terms) and key phrases (multi-word) of a text."""

    keywords: list[str] = field(default_factory=list)
    key_phrases: list[str] = field(default_factory=list)


def _ko_runs(text: str) -> list[list[Morph]]:
    """Maximal runs of noun morphemes (a suffix like 화/성 may continue a run but never start one)."""
    runs: list[list[Morph]] = []
    current: list[Morph] = []
    for m in morphs(text):
        if m.tag in _KO_NOUN_TAGS or (m.tag == "XSN" and current):
            current.append(m)
        else:
            if current:
                runs.append(current)
            current = []
    if current:
        runs.append(current)
    return runs


def _ko_words(text: str, run: list[Morph]) -> list[str]:
    """Split a noun run at spaces into the surface words the speaker used."""
    words: list[str] = []
    piece = [run[0]]
    for prev, m in zip(run, run[1:]):
        if m.start > prev.start + prev.length:
            words.append(text[piece[0].start : piece[-1].start + piece[-1].length])
            piece = [m]
        else:
            piece.append(m)
    words.append(text[piece[0].start : piece[-1].start + piece[-1].length])
    return words


def _ko_keep(word: str) -> bool:
    if word in KO_STOP_NOUNS:
        return False
    if len(word) == 1 and re.fullmatch(r"[\uac00-\ud7a3]", word) and word not in _KO_SHORT_KEEP:
        return False
    if word.lower() in _UNITS:
        return False
    return not word.isdigit()


def _weight_len(word: str) -> int:
    """Length for tie-breaking, a Hangul syllable counting as two letters (it carries about that much)."""
    return sum(2 if "\uac00" <= ch <= "\ud7a3" else 1 for ch in word)


def _ko_keywords(text: str, top_k: int, top_phrases: int) -> KeywordResult:
    counts: Counter[str] = Counter()
    phrases: Counter[str] = Counter()
    order: dict[str, int] = {}
    for run in _ko_runs(text):
        words = [w for w in _ko_words(text, run)]
        kept = [w for w in words if _ko_keep(w)]
        for w in kept:
            key = w.lower() if w.isascii() else w
            counts[key] += 1
            order.setdefault(key, len(order))
        if len(kept) >= 2 and len(words) == len(kept):
            phrase = " ".join(words)
            phrases[phrase] += 1
            order.setdefault(phrase, len(order))
    # More frequent first, then longer (more specific), then earlier.
    ranked = sorted(counts, key=lambda k: (-counts[k], -_weight_len(k), order[k]))
    ranked_phrases = sorted(phrases, key=lambda p: (-phrases[p] * sum(counts[w] for w in p.split() if w in counts), order[p]))
    return KeywordResult(keywords=ranked[:top_k], key_phrases=ranked_phrases[:top_phrases])


def _en_candidate_phrases(text: str) -> list[list[str]]:
    phrases: list[list[str]] = []
    for chunk in re.split(r"[,.;:!?()\[\]\"“”\n]+|\s[-–—]\s", text.lower()):
        current: list[str] = []
        for w in english_words(chunk):
            if w in EN_STOPWORDS or len(w) < 2 or w.isdigit():
                if current:
                    phrases.append(current)
                current = []
            else:
                current.append(w)
        if current:
            phrases.append(current)
    return phrases


def _en_keywords(text: str, top_k: int, top_phrases: int) -> KeywordResult:
    phrases = _en_candidate_phrases(text)
    freq: Counter[str] = Counter()
    degree: Counter[str] = Counter()
    for p in phrases:
        for w in p:
            freq[w] += 1
            degree[w] += len(p)
    word_score = {w: degree[w] / freq[w] for w in freq}
    phrase_scores: dict[str, float] = {}
    for p in phrases:
        if 2 <= len(p) <= 4:  # longer runs are lists ("thick peppered flour fattened sauce"), not phrases
            key = " ".join(p)
            phrase_scores[key] = max(phrase_scores.get(key, 0.0), sum(word_score[w] for w in p))
    ranked_phrases = sorted(phrase_scores, key=lambda k: -phrase_scores[k])
    # Keywords: frequent content words; degree breaks ties (words inside longer phrases carry more topic).
    by_stem: dict[str, str] = {}
    stem_freq: Counter[str] = Counter()
    for w in freq:
        if len(w) < 3:
            continue
        stem = english_stem(w)
        stem_freq[stem] += freq[w]
        by_stem.setdefault(stem, w)
    ranked_stems = sorted(stem_freq, key=lambda s: (-stem_freq[s], -word_score.get(by_stem[s], 0.0)))
    return KeywordResult(keywords=[by_stem[s] for s in ranked_stems[:top_k]], key_phrases=ranked_phrases[:top_phrases])


def extract_keywords(text: str, language: str, *, top_k: int = 10, top_phrases: int = 5) -> KeywordResult:
    """Keywords and key phrases of ``text``, most salient first."""
    if not text.strip():
        return KeywordResult()
    if normalize_language(language) == "ko":
        return _ko_keywords(text, top_k, top_phrases)
    return _en_keywords(text, top_k, top_phrases)


def content_terms(text: str, language: str, *, question: bool = False) -> set[str]:
    """Normalised content lemmas (Korean noun/verb stems, English word stems) for overlap measures.

    With ``question=True`` the words that only frame a question ("tell me about a time", "경험을 말씀해
    주세요") are dropped, so an answer is not rewarded for echoing them.
    """
    if normalize_language(language) == "ko":
        terms: set[str] = set()
        for run in _ko_runs(text):
            for w in _ko_words(text, run):
                if _ko_keep(w):
                    terms.add(w.lower())
            for m in run:  # compound parts also count: "데이터베이스" answers a question about "데이터"
                if m.tag in _KO_NOUN_TAGS and _ko_keep(m.form):
                    terms.add(m.form.lower())
        for m in morphs(text):
            if m.tag in _KO_VERB_TAGS and m.form not in KO_STOP_VERBS:
                terms.add(m.form)
        return terms - KO_QUESTION_STOP if question else terms
    stems = {
        english_stem(w) for w in english_words(text) if w not in EN_STOPWORDS and len(w) >= 3 and not w.isdigit()
    }
    if question:
        stems -= {english_stem(w) for w in EN_QUESTION_STOP}
    return stems
