"""The scoring types shared by the rubric (which computes them) and the feedback prose (which words them).

Pure module: no Django, no project imports.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

Severity = Literal["info", "warn", "critical"]


@dataclass(frozen=True)
class Finding:
    """One fact a score rests on: a stable code plus the numbers behind it.

    `feedback_code` is set when the fact is worth acting on; `severity` then says how bad the shortfall
    is and `cost` roughly how many of the dimension's 100 points it lost (used to rank feedback).
    """

    dimension: str
    code: str
    params: dict[str, Any] = field(default_factory=dict)
    feedback_code: str | None = None
    severity: Severity = "info"
    cost: float = 0.0


@dataclass(frozen=True)
class AnswerScore:
    """Scores of one answer. `evidence[dim]` lists, in the answer's language, what each score rests on."""

    scores: dict[str, float]
    overall: float
    evidence: dict[str, list[str]]
    language: str = "en"
    findings: tuple[Finding, ...] = ()
    stt_confidence: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "scores": dict(self.scores),
            "overall": self.overall,
            "evidence": {k: list(v) for k, v in self.evidence.items()},
            "language": self.language,
            "stt_confidence": self.stt_confidence,
        }


@dataclass(frozen=True)
class SessionScore:
    """Scores of a whole interview, with a band that says how far to trust `overall`.

    `overall` is None only when there were no answers; the band is then the whole 0-100 range.
    """

    scores: dict[str, float]
    overall: float | None
    band: tuple[float, float]
    n_answers: int
    stt_confidence: float = 1.0
    sampling_half_width: float = 0.0
    stt_half_width: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "scores": dict(self.scores),
            "overall": self.overall,
            "band": [self.band[0], self.band[1]],
            "n_answers": self.n_answers,
            "stt_confidence": self.stt_confidence,
            "sampling_half_width": self.sampling_half_width,
            "stt_half_width": self.stt_half_width,
        }
