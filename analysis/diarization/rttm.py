"""RTTM reading and writing.

Why: RTTM is the exchange format of every diarization scorer (pyannote.metrics, dscore) and of the
reference annotations in the shared data, so final-pass turns are exported and compared in it.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Turn:
    """One speaker turn on the session timeline (seconds)."""

    start: float
    end: float
    speaker: str

    @property
    def duration(self) -> float:
        return self.end - self.start


def to_rttm(turns: list[Turn], file_id: str) -> str:
    """Turns as RTTM ``SPEAKER`` lines (channel 1, times with millisecond precision)."""
    if not file_id or any(ch.isspace() for ch in file_id):
        raise ValueError(f"RTTM file ids cannot be empty or contain whitespace: {file_id!r}")
    lines = []
    for t in sorted(turns, key=lambda t: (t.start, t.end, t.speaker)):
        if t.end <= t.start:
            continue
        speaker = t.speaker.replace(" ", "_")
        lines.append(f"SPEAKER {file_id} 1 {t.start:.3f} {t.end - t.start:.3f} <NA> <NA> {speaker} <NA> <NA>")
    return "\n".join(lines) + ("\n" if lines else "")


def parse_rttm(text: str) -> list[Turn]:
    """``SPEAKER`` lines of an RTTM document as turns sorted by start; other record types are skipped."""
    turns: list[Turn] = []
    for lineno, line in enumerate(text.splitlines(), 1):
        fields = line.split()
        if not fields or fields[0] != "SPEAKER":
            continue
        if len(fields) < 8:
            raise ValueError(f"RTTM line {lineno} has {len(fields)} fields, expected at least 8: {line!r}")
        start, duration = float(fields[3]), float(fields[4])
        turns.append(Turn(start=start, end=start + duration, speaker=fields[7]))
    return sorted(turns, key=lambda t: (t.start, t.end))
