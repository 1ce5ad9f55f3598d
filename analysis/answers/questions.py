"""Seed question sets (``analysis/question_sets/<lang>.json``) and lookup of a spoken question in them.

A question asked from a set carries ``expected_keywords``; matching the spoken or noted question text to
the set lets the pipeline pass them to :func:`analysis.answers.analyze_answer` without the interviewer
having to click anything.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from analysis.answers.keywords import content_terms
from analysis.answers.text import normalize_language

QUESTION_SETS_DIR = Path(__file__).resolve().parent.parent / "question_sets"


@dataclass(frozen=True)
class Question:
    text: str
    competency: str
    expected_keywords: tuple[str, ...] = field(default_factory=tuple)


@dataclass(frozen=True)
class QuestionSet:
    name: str
    language: str
    questions: tuple[Question, ...]


@lru_cache(maxsize=8)
def load_question_set(language: str, directory: Path = QUESTION_SETS_DIR) -> QuestionSet:
    """The seed set for ``language`` ("ko" or "en")."""
    lang = normalize_language(language)
    data = json.loads((directory / f"{lang}.json").read_text(encoding="utf-8"))
    return QuestionSet(
        name=data["name"],
        language=data["language"],
        questions=tuple(
            Question(q["text"], q["competency"], tuple(q.get("expected_keywords", []))) for q in data["questions"]
        ),
    )


def match_question(text: str, question_set: QuestionSet, *, min_overlap: float = 0.5) -> Question | None:
    """The set question whose topic terms best overlap ``text`` (Jaccard), if the overlap is convincing."""
    asked = content_terms(text, question_set.language, question=True)
    if not asked:
        return None
    best: tuple[float, Question | None] = (0.0, None)
    for q in question_set.questions:
        terms = content_terms(q.text, question_set.language, question=True)
        if not terms:
            continue
        score = len(asked & terms) / len(asked | terms)
        if score > best[0]:
            best = (score, q)
    return best[1] if best[0] >= min_overlap else None
