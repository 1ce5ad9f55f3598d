"""Question → answer timeline from committed transcript segments and interviewer notes.

A question is opened by an interviewer turn or by a "question" note (the interviewer clicked a question
from a set, or typed one). Consecutive openers with no candidate speech between them are one question
(an interviewer often rephrases or asks in two sentences). The candidate's speech until the next question
is the answer. Short interviewer backchannels ("네", "mm-hmm", "okay") during an answer do not open a
question: otherwise every nod would cut an answer in two.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from analysis.answers.text import clean_token

Segment = Mapping[str, Any]
Note = Mapping[str, Any]

_BACKCHANNELS = frozenset(
    {
        "네", "예", "아", "음", "응", "그렇군요", "그렇죠", "좋습니다", "좋아요", "알겠습니다", "네네", "아하",
        "okay", "ok", "mm", "mhm", "mm-hmm", "mmhmm", "uh-huh", "right", "yeah", "yes", "sure", "great",
        "good", "i", "see", "got", "it", "alright", "cool", "nice", "hmm", "ah", "oh",
    }
)
_BACKCHANNEL_MAX_S = 1.5
_BACKCHANNEL_MAX_TOKENS = 3


@dataclass
class AnswerSpan:
    """One question and the candidate's answer to it, in session seconds.

    ``question_start``/``question_end`` are None for candidate speech heard before any question (an
    introduction); ``answer_start``/``answer_end`` are None while the candidate has not spoken yet.
    """

    index: int
    question_text: str
    question_start: float | None
    question_end: float | None
    answer_start: float | None
    answer_end: float | None
    segments: list[dict[str, Any]] = field(default_factory=list)
    finished: bool = False

    @property
    def answer_text(self) -> str:
        return " ".join(str(s.get("text", "")).strip() for s in self.segments if str(s.get("text", "")).strip())

    def to_dict(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "question_text": self.question_text,
            "question_start": self.question_start,
            "question_end": self.question_end,
            "answer_start": self.answer_start,
            "answer_end": self.answer_end,
            "segments": [dict(s) for s in self.segments],
            "finished": self.finished,
        }


def is_backchannel(segment: Segment) -> bool:
    """A short interviewer acknowledgement that should not be read as a new question."""
    text = str(segment.get("text", ""))
    if "?" in text:
        return False
    toks = [t for t in (clean_token(x) for x in text.split()) if t]
    if not toks or len(toks) > _BACKCHANNEL_MAX_TOKENS:
        return False
    duration = float(segment.get("end", 0.0)) - float(segment.get("start", 0.0))
    return duration <= _BACKCHANNEL_MAX_S and all(t in _BACKCHANNELS for t in toks)


def _events(segments: Iterable[Segment], notes: Iterable[Note]) -> list[tuple[float, int, str, Mapping[str, Any]]]:
    events: list[tuple[float, int, str, Mapping[str, Any]]] = []
    for seg in segments:
        if not str(seg.get("text", "")).strip():
            continue
        kind = "interviewer" if seg.get("role") == "interviewer" else "candidate"
        # Questions sort before candidate speech starting at the same instant.
        events.append((float(seg["start"]), 0 if kind == "interviewer" else 1, kind, seg))
    for note in notes:
        if note.get("kind") == "question" and str(note.get("text", "")).strip():
            events.append((float(note["at"]), 0, "note", note))
    events.sort(key=lambda e: (e[0], e[1]))
    return events


def build_timeline(
    segments: Iterable[Segment],
    notes: Iterable[Note] = (),
    *,
    pause_end_s: float = 6.0,
    now: float | None = None,
) -> list[AnswerSpan]:
    """Split a session into question/answer spans.

    Roles other than "interviewer" (including a missing role before role assignment) count as candidate
    speech. When a question note and interviewer speech open the same question, the note's text wins: it
    is the canonical wording (and matches a question set), while the spoken one is an STT transcript.

    An answer is finished when the next question opens, or when ``now`` is given and the candidate has
    been silent for ``pause_end_s`` since their last word. At session end pass ``now=float("inf")``.
    """
    spans: list[AnswerSpan] = []
    current: AnswerSpan | None = None
    note_text: list[str] = []
    spoken_text: list[str] = []

    def close_question_text() -> None:
        if current is not None and current.answer_start is None:
            current.question_text = " ".join(note_text) if note_text else " ".join(spoken_text)

    for at, _, kind, item in _events(segments, notes):
        if kind in ("interviewer", "note"):
            if kind == "interviewer" and current is not None and current.segments and is_backchannel(item):
                continue
            if current is None or current.segments:
                # A new question: the previous answer (if any) is complete.
                if current is not None:
                    current.finished = True
                current = AnswerSpan(
                    index=len(spans),
                    question_text="",
                    question_start=at,
                    question_end=at,
                    answer_start=None,
                    answer_end=None,
                )
                spans.append(current)
                note_text, spoken_text = [], []
            end = at if kind == "note" else float(item["end"])
            (note_text if kind == "note" else spoken_text).append(str(item["text"]).strip())
            current.question_start = at if current.question_start is None else min(current.question_start, at)
            current.question_end = end if current.question_end is None else max(current.question_end, end)
            close_question_text()
        else:
            if current is None:
                current = AnswerSpan(
                    index=len(spans),
                    question_text="",
                    question_start=None,
                    question_end=None,
                    answer_start=None,
                    answer_end=None,
                )
                spans.append(current)
            seg = dict(item)
            start, end = float(seg["start"]), float(seg["end"])
            if current.answer_start is None:
                current.answer_start = start
            current.answer_end = end if current.answer_end is None else max(current.answer_end, end)
            current.segments.append(seg)

    if current is not None and current.answer_end is not None and now is not None:
        current.finished = now - current.answer_end >= pause_end_s
    return spans
