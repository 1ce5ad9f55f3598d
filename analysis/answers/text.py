"""Language helpers shared by delivery, keywords, content and affect.

Korean needs a morphological analyser to tell an interjection "그" (filler) from the determiner "그"
("그 당시", that time) and to pull nouns out of agglutinated words ("프로젝트에서"). Kiwi is loaded once
per process because its model takes about a second to load and tokenising afterwards costs milliseconds.
"""

from __future__ import annotations

import re
import threading
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

_kiwi_lock = threading.Lock()
_kiwi: Any = None

HANGUL_SYLLABLE = re.compile(r"[\uac00-\ud7a3]")
_WORD = re.compile(r"[\w'’%$]+", re.UNICODE)
_EDGE_PUNCT = re.compile(r"^[^\w%$]+|[^\w%$]+$", re.UNICODE)


@dataclass(frozen=True)
class Morph:
    """One Kiwi morpheme: surface form, POS tag, character offset and length in the analysed text."""

    form: str
    tag: str
    start: int
    length: int


def normalize_language(language: str | None) -> str:
    """Map "ko-KR", "korean", "KO" to "ko"; everything else is treated as English."""
    lang = (language or "").strip().lower()
    return "ko" if lang.startswith("ko") or lang == "korean" else "en"


def kiwi() -> Any:
    """The process-wide Kiwi analyser (lazy, thread-safe)."""
    global _kiwi
    if _kiwi is None:
        with _kiwi_lock:
            if _kiwi is None:
                from kiwipiepy import Kiwi

                _kiwi = Kiwi()
    return _kiwi


@lru_cache(maxsize=512)
def morphs(text: str) -> tuple[Morph, ...]:
    """Kiwi morphemes of ``text`` (cached: live updates re-analyse the same committed segments)."""
    if not text.strip():
        return ()
    return tuple(Morph(t.form, t.tag, t.start, t.len) for t in kiwi().tokenize(text))


def hangul_syllables(text: str) -> int:
    """Number of precomposed Hangul syllables: the unit of Korean speaking rate."""
    return len(HANGUL_SYLLABLE.findall(text))


def english_syllables(word: str) -> int:
    """Vowel-group estimate of English syllables (silent final e discounted); at least 1 per word."""
    w = re.sub(r"[^a-z]", "", word.lower())
    if not w:
        return 0
    groups = re.findall(r"[aeiouy]+", w)
    count = len(groups)
    if w.endswith("e") and not w.endswith(("le", "ee", "ye")) and count > 1:
        count -= 1
    return max(1, count)


def clean_token(token: str) -> str:
    """Lower-case, NFC, with leading/trailing punctuation removed ("Um," -> "um")."""
    return _EDGE_PUNCT.sub("", unicodedata.normalize("NFC", token).strip().lower())


def tokens(text: str) -> list[str]:
    """Whitespace tokens (Korean eojeol / English words) cleaned of edge punctuation, empties dropped."""
    out = []
    for raw in text.split():
        tok = clean_token(raw)
        if tok:
            out.append(tok)
    return out


def english_words(text: str) -> list[str]:
    """Lower-case English word tokens, apostrophes kept ("don't")."""
    return [w.replace("’", "'") for w in _WORD.findall(text.lower())]


_EN_SUFFIXES = ("ations", "ation", "ments", "ment", "ings", "ing", "ies", "ied", "ed", "es", "s", "ly")


def english_stem(word: str) -> str:
    """A light suffix stripper so "teams"/"team", "resolved"/"resolve"/"resolving" meet.

    Deliberately crude (no dictionary): it only has to make overlap between a question and an answer
    robust to inflection, and the same function is applied to both sides.
    """
    w = word.lower().replace("'", "")
    if w.endswith("'s"):
        w = w[:-2]
    for suffix in _EN_SUFFIXES:
        if len(w) - len(suffix) >= 3 and w.endswith(suffix):
            w = w[: -len(suffix)]
            if suffix in ("ies", "ied"):
                w += "y"
            break
    if len(w) > 3 and w.endswith("e"):
        w = w[:-1]
    return w


def normalize_for_match(text: str) -> str:
    """Case-folded text with punctuation removed and whitespace collapsed, for substring checks."""
    text = unicodedata.normalize("NFC", text).casefold()
    text = re.sub(r"[^\w%$ ]+", " ", text)
    return re.sub(r"\s+", " ", text).strip()
