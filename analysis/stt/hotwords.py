"""Domain words (a question set's expected keywords, an interview's custom terms) as Whisper hotwords.

faster-whisper puts ``hotwords`` into the decoder's previous-text prompt. Whisper base copies its prompt
into the output when the audio gives it little to go on (measured here before: never prompt base with
earlier transcript), so the list is short, made of terms only (no sentences), and every decode made with
it is checked: output that reads like the prompt is thrown away and the clip decoded again without it.
Pure: no Django.
"""

from __future__ import annotations

import re
import unicodedata

MAX_TERMS = 40
MAX_PROMPT_CHARS = 300  # well under Whisper's 223-token prompt half, also for Hangul
MAX_TERM_CHARS = 40


def _norm(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).lower()
    return re.sub(r"\s+", " ", re.sub(r"[^\w\s]", " ", text)).strip()


def clean_terms(terms: list[str] | tuple[str, ...]) -> list[str]:
    """Distinct, trimmed terms in their given order, at most ``MAX_TERMS`` and ``MAX_PROMPT_CHARS`` in all."""
    out: list[str] = []
    seen: set[str] = set()
    total = 0
    for raw in terms:
        term = " ".join(str(raw).split())[:MAX_TERM_CHARS].strip(" ,;")
        key = _norm(term)
        if not key or key in seen:
            continue
        if len(out) >= MAX_TERMS or total + len(term) + 2 > MAX_PROMPT_CHARS:
            break
        seen.add(key)
        out.append(term)
        total += len(term) + 2
    return out


def hotword_prompt(terms: list[str] | tuple[str, ...]) -> str:
    """The ``hotwords`` string for faster-whisper ("" for none)."""
    return ", ".join(clean_terms(terms))


def split_prompt(prompt: str) -> list[str]:
    return [t.strip() for t in prompt.split(",") if t.strip()]


def copied_prompt(text: str, prompt: str) -> bool:
    """True when ``text`` looks copied from the hotword prompt rather than heard.

    Signs of a copy: the output reproduces three or more terms in the prompt's order back to back, or most
    of its words are prompt words while it names at least two terms (real answers use a term or two among
    many other words).
    """
    terms = [_norm(t) for t in split_prompt(prompt)]
    terms = [t for t in terms if t]
    norm = _norm(text)
    if not terms or not norm:
        return False
    if _norm(prompt) and _norm(prompt) in norm:
        return True
    found = [(norm.find(t), i) for i, t in enumerate(terms) if re.search(rf"(?<!\w){re.escape(t)}(?!\w)", norm)]
    found.sort()
    run = best = 1 if found else 0
    for (_, a), (_, b) in zip(found, found[1:]):
        run = run + 1 if b == a + 1 else 1
        best = max(best, run)
    if best >= 3:
        return True
    prompt_words = {w for t in terms for w in t.split()}
    words = norm.split()
    in_prompt = sum(1 for w in words if w in prompt_words)
    return len(found) >= 2 and in_prompt / len(words) >= 0.6
