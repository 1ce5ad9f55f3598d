"""Transcript and diarization exports: SRT, WebVTT, plain text, JSON and RTTM from segment dicts.

Pure (no Django) so the formats are tested on the shared recordings' reference turns directly. Segments
come either from the final pass (``Interview.final_segments``, JSON written by the pipeline) or from the
live ``Segment`` rows; both are dicts with ``start``/``end`` seconds, ``text`` and optionally ``speaker``,
``role``, ``confidence``. Entries without usable times are dropped rather than exported as nonsense.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

from analysis.diarization.rttm import Turn, to_rttm

ROLE_LABELS = {"interviewer": "Interviewer", "candidate": "Candidate"}


@dataclass(frozen=True)
class TranscriptSegment:
    index: int
    start: float
    end: float
    text: str
    speaker: str
    role: str
    confidence: float | None

    @property
    def label(self) -> str:
        """Who speaks, as a reader wants it: the role when known, else the diarizer's speaker id."""
        return ROLE_LABELS.get(self.role) or self.speaker or "Speaker"


def _number(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def normalize_segments(raw: Iterable[Mapping[str, Any]]) -> list[TranscriptSegment]:
    """Usable segments sorted by time; text on one line (SRT and VTT cues end at a blank line)."""
    out: list[TranscriptSegment] = []
    for position, item in enumerate(raw):
        if not isinstance(item, Mapping):
            continue
        start, end = _number(item.get("start")), _number(item.get("end"))
        if start is None or end is None or start < 0 or end < start:
            continue
        text = " ".join(str(item.get("text") or "").split())
        index = item.get("index", item.get("id", position))
        out.append(
            TranscriptSegment(
                index=int(index) if isinstance(index, int) else position,
                start=start,
                end=end,
                text=text,
                speaker=str(item.get("speaker") or ""),
                role=str(item.get("role") or "unknown"),
                confidence=_number(item.get("confidence")),
            )
        )
    return sorted(out, key=lambda s: (s.start, s.end, s.index))


def _clock(seconds: float, sep: str) -> str:
    ms = int(round(seconds * 1000))
    hours, ms = divmod(ms, 3_600_000)
    minutes, ms = divmod(ms, 60_000)
    secs, ms = divmod(ms, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}{sep}{ms:03d}"


def _cues(segments: list[TranscriptSegment]) -> list[TranscriptSegment]:
    return [s for s in segments if s.text and s.end > s.start]


def to_srt(segments: list[TranscriptSegment]) -> str:
    """SubRip: numbered cues, ``HH:MM:SS,mmm --> HH:MM:SS,mmm``, speaker as a ``Name:`` prefix."""
    blocks = [
        f"{n}\n{_clock(s.start, ',')} --> {_clock(s.end, ',')}\n{s.label}: {s.text}\n"
        for n, s in enumerate(_cues(segments), 1)
    ]
    return "\n".join(blocks)


def _vtt_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def to_vtt(segments: list[TranscriptSegment]) -> str:
    """WebVTT with ``<v Speaker>`` voice spans, so players show and style who speaks."""
    blocks = ["WEBVTT\n"]
    for n, s in enumerate(_cues(segments), 1):
        voice = _vtt_escape(s.label)
        blocks.append(f"{n}\n{_clock(s.start, '.')} --> {_clock(s.end, '.')}\n<v {voice}>{_vtt_escape(s.text)}</v>\n")
    return "\n".join(blocks)


def to_txt(segments: list[TranscriptSegment]) -> str:
    """One line per segment: ``[start - end] Speaker: text`` (times as HH:MM:SS.mmm)."""
    lines = [f"[{_clock(s.start, '.')} - {_clock(s.end, '.')}] {s.label}: {s.text}" for s in _cues(segments)]
    return "\n".join(lines) + ("\n" if lines else "")


def to_json(segments: list[TranscriptSegment], *, interview_id: str, language: str, source: str) -> dict[str, Any]:
    return {
        "interview_id": interview_id,
        "language": language,
        "source": source,
        "segments": [asdict(s) for s in segments],
    }


def to_diarization_rttm(segments: list[TranscriptSegment], *, file_id: str) -> str:
    """RTTM SPEAKER lines, one per segment with a duration; speaker ids as the diarizer named them."""
    turns = [
        Turn(start=s.start, end=s.end, speaker=(s.speaker or s.role or "unknown")) for s in segments if s.end > s.start
    ]
    return to_rttm(turns, file_id)
