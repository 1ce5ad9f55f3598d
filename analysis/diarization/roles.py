"""Who is the interviewer: evidence per speaker turned into roles with a confidence.

Why a scored, additive scheme: the signals arrive at different times and with different strength (a
client hint that names the speaker is near-certain, a '?' in a transcript is weak and STT-dependent), and
the live path must commit a role before all of them are known. Each speaker collects log-odds of being the
interviewer; the rules are documented in docs/diarization.md.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

INTERVIEWER = "interviewer"
CANDIDATE = "candidate"
UNKNOWN = "unknown"

# Log-odds weights (interviewer vs. not), strongest evidence first.
# The voice enrolled as the interviewer at the start (the first seconds of the session are the interviewer
# reading a prompt): pinned, stronger than two speaker hints, so no click, question or first-speaker cue of
# another voice outweighs it.
W_ENROLLED = 10.0
W_SPEAKER_HINT = 4.0  # a client note naming who speaks now
W_QUESTION_HINT = 1.5  # a "question" click: the voice that speaks next is asking
MAX_QUESTION_HINTS = 3.0  # clicks are votes: several agreeing ones count, up to this many
# ... unless that voice was the only one heard until the next click: nobody answered it, so it was answering
# a question shown or typed (a candidate alone, or one voice that the clustering split in two). Such a click
# counts against the voice, more than an asking click counts for it, so that a voice answering shown
# questions loses the first-speaker prior after two of them.
W_ANSWERED_ALONE = 2.0
W_FIRST_SPEAKER = 1.5  # the interviewer opens an interview
W_QUESTION_TEXT = 0.6  # a transcript segment that reads as a question
MAX_TEXT_EVIDENCE = 3.0  # many questions still never outweigh a speaker hint
LONE_VOICE_QUESTIONS = 2  # a lone voice that followed this many question clicks is answering them
# The interviewer decided so far keeps the role unless a challenger leads by more than this: one more
# click or question-like sentence (W_QUESTION_HINT) for the other voice is not enough to swap roles, the
# session's accumulated evidence is.
INCUMBENT_MARGIN = 1.6

# Cues are anchored where questions put them, because answers use the same words elsewhere ("when I was
# at Kakao, I learned how to ...", "왜냐하면 ..."): English questions start with the cue, Korean questions
# end with an interrogative or request ending.
_EN_START = re.compile(
    r"^\W*(what|how|why|(when|where|which|who)\s+(do|did|does|is|are|was|were|would|will|can|could|have|has)|"
    r"tell me|describe|could you|can you|would you|walk me through|explain|do you|did you|have you|are you|"
    r"is there|give me)\b",
    re.IGNORECASE,
)
_KO_END = re.compile(r"(습니까|있나요|없나요|인가요|나요|까요|주세요|말씀해|말씀해요)[\s.!。]*$")
_KO_WH = re.compile(r"(어떻게|무엇|무슨|어떤|언제|어디|왜(?!냐))")


def clicks_answered_alone(
    clicks: Sequence[tuple[float, str]], turns: Sequence[tuple[float, float, str]], *, lead_s: float,
    end: float | None = None,
) -> list[str]:
    """The voices that answered a question click alone: for each click ``(at, voice that spoke next)`` but the
    last, that voice when no other was heard (a turn starting from ``lead_s`` before the click up to the
    same point before the next click). The last click counts too when ``end`` (the session's end) is given."""
    ordered = sorted(clicks)
    bounds = [at for at, _ in ordered[1:]] + ([end + lead_s] if end is not None else [])
    alone = []
    for (at, voice), until in zip(ordered, bounds):
        heard = {spk for start, _end, spk in turns if at - lead_s <= start < until - lead_s}
        if heard == {voice}:
            alone.append(voice)
    return alone


def question_score(text: str) -> float:
    """1.0 for a clear question ('?', or a Korean wh-word with a question ending), 0.5 for a cue alone."""
    text = text.strip()
    if not text:
        return 0.0
    if "?" in text or "？" in text:
        return 1.0
    last = re.split(r"(?<=[.!。])\s+", text)[-1]  # the question usually closes the segment
    if _KO_END.search(last):
        return 1.0 if _KO_WH.search(last) else 0.5
    if _EN_START.search(last) or _EN_START.search(text):
        return 0.5
    return 0.0


@dataclass(frozen=True)
class Hint:
    """A client note at session time ``at``; ``speaker`` names who is speaking now, if the client knows."""

    at: float
    speaker: str | None = None
    kind: str = "note"
    text: str = ""

    @staticmethod
    def coerce(value: Hint | dict) -> Hint:
        if isinstance(value, Hint):
            return value
        return Hint(
            at=float(value["at"]),
            speaker=value.get("speaker"),
            kind=str(value.get("kind", "note")),
            text=str(value.get("text", "")),
        )


@dataclass
class RoleEvidence:
    """What is known about one speaker; plain numbers so the live state can store it as JSON."""

    speaker_hints: float = 0.0  # +1 per "interviewer" hint, -1 per "candidate" hint
    question_hints: float = 0.0  # question clicks after which this voice spoke next
    answered_alone: float = 0.0  # ... and was the only voice until the next click (see W_ANSWERED_ALONE)
    question_text: float = 0.0
    speech_s: float = 0.0
    first: bool = False
    enrolled: bool = False  # this voice is the interviewer's enrollment (docs/diarization.md, "Enrollment")

    def log_odds(self) -> float:
        """Log-odds that this speaker is the interviewer."""
        score = W_SPEAKER_HINT * max(-2.0, min(2.0, self.speaker_hints))
        asked = max(0.0, self.question_hints - self.answered_alone)
        score += W_QUESTION_HINT * min(MAX_QUESTION_HINTS, asked)
        score -= W_ANSWERED_ALONE * min(MAX_QUESTION_HINTS, self.answered_alone)
        score += min(MAX_TEXT_EVIDENCE, W_QUESTION_TEXT * self.question_text)
        if self.first:
            score += W_FIRST_SPEAKER
        if self.enrolled:
            score += W_ENROLLED
        return score

    def to_dict(self) -> dict:
        return {
            "speaker_hints": self.speaker_hints,
            "question_hints": self.question_hints,
            "answered_alone": self.answered_alone,
            "question_text": self.question_text,
            "speech_s": self.speech_s,
            "first": self.first,
            "enrolled": self.enrolled,
        }

    @staticmethod
    def from_dict(data: dict) -> RoleEvidence:
        return RoleEvidence(**{k: data[k] for k in RoleEvidence.__dataclass_fields__ if k in data})


@dataclass(frozen=True)
class RoleDecision:
    role: str
    confidence: float


def _sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


@dataclass
class _Ranked:
    speaker: str
    score: float
    speech_s: float
    evidence: RoleEvidence = field(repr=False)


def assign_roles(evidence: dict[str, RoleEvidence], *, incumbent: str | None = None) -> dict[str, RoleDecision]:
    """One interviewer (highest log-odds), the main other voice is the candidate.

    ``incumbent`` is the voice that is the interviewer so far (live): it keeps the role unless another
    voice leads it by more than ``INCUMBENT_MARGIN``, so one stray hint cannot flip the session's roles.

    A speaker whose own hints say interviewer is an interviewer even if another speaker scores higher
    (panel interviews). A minor extra voice with no hint and no more speech than the candidate is
    ``unknown`` rather than a guessed candidate. Confidence is the logistic of the margin between the
    interviewer's log-odds and the runner-up's, so a lone prior (first speaker) gives ~0.8 and a speaker
    hint ~0.99.
    """
    if not evidence:
        return {}
    def rank_score(r: _Ranked) -> float:
        return r.score + (INCUMBENT_MARGIN if r.speaker == incumbent else 0.0)

    ranked = sorted(
        (_Ranked(s, e.log_odds(), e.speech_s, e) for s, e in evidence.items()),
        key=lambda r: (-rank_score(r), -r.speech_s, r.speaker),
    )
    top = ranked[0]
    decisions: dict[str, RoleDecision] = {}
    if len(ranked) == 1:
        ev = top.evidence
        if ev.speaker_hints <= 0 and not ev.enrolled and ev.question_hints >= LONE_VOICE_QUESTIONS:
            # One voice that speaks after question after question, and nobody else: the questions are
            # shown or typed and this voice answers them (the interviewer never speaks).
            return {top.speaker: RoleDecision(CANDIDATE, _sigmoid(W_QUESTION_HINT * (ev.question_hints - 1)))}
        if top.score > 0:
            return {top.speaker: RoleDecision(INTERVIEWER, _sigmoid(top.score))}
        if top.score < 0:
            return {top.speaker: RoleDecision(CANDIDATE, _sigmoid(-top.score))}
        return {top.speaker: RoleDecision(UNKNOWN, 0.5)}
    if max(r.score for r in ranked) < 0:
        # every voice's evidence says candidate (each answered shown questions alone, or was named one):
        # nobody here is interviewing, whatever the clustering made of the voices
        return {r.speaker: RoleDecision(CANDIDATE, _sigmoid(-r.score)) for r in ranked}
    runner = ranked[1]
    margin = top.score - runner.score
    if rank_score(top) - rank_score(runner) <= 0 and top.score <= 0:
        return {r.speaker: RoleDecision(UNKNOWN, 0.5) for r in ranked}
    decisions[top.speaker] = RoleDecision(INTERVIEWER, _sigmoid(max(margin, top.score)))
    others = ranked[1:]
    main_other = max(others, key=lambda r: (r.speech_s, -r.score))
    for r in others:
        if r.evidence.speaker_hints > 0:
            decisions[r.speaker] = RoleDecision(INTERVIEWER, _sigmoid(W_SPEAKER_HINT * r.evidence.speaker_hints))
        elif r is main_other or r.evidence.speaker_hints < 0:
            decisions[r.speaker] = RoleDecision(CANDIDATE, _sigmoid(max(0.0, top.score - r.score)))
        else:
            decisions[r.speaker] = RoleDecision(UNKNOWN, 0.5)
    return decisions
