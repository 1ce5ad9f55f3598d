"""Replay a recording through ``LiveDiarizer`` the way the streaming pipeline drives it.

Why this lives in the package: tests and ``bench/diarize.py`` must measure the live path under the same
conditions (chunked arrival, state round-tripped through JSON as it is through Redis, segments committed
only once their utterance has ended), and one implementation keeps those numbers comparable. No STT runs
here: VAD utterances stand in for committed transcript segments, and evenly spaced pseudo-words stand in
for Whisper's word timestamps so that segments spanning a speaker change can be split.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from analysis.diarization.embeddings import SAMPLE_RATE, speech_regions
from analysis.diarization.live import LabeledSegment, LiveDiarizer, RoleCorrection, SegmentIn, apply_corrections
from analysis.diarization.roles import Hint

PSEUDO_WORD_S = 0.25


@dataclass(frozen=True)
class LiveRun:
    segments: list[LabeledSegment]  # as first emitted
    label_cpu_s: float  # process CPU time spent inside label() (all threads)
    label_wall_s: float  # wall time spent inside label()
    max_call_wall_s: float
    calls: int
    max_state_bytes: int
    corrections: tuple[RoleCorrection, ...] = ()

    @property
    def corrected(self) -> list[LabeledSegment]:
        """The segments with every role correction applied: what the console shows at the end."""
        return apply_corrections(list(self.segments), list(self.corrections))


def vad_segments(audio: np.ndarray, *, max_segment_s: float = 10.0) -> list[SegmentIn]:
    """VAD utterances (long ones cut evenly below ``max_segment_s``, as Whisper segments are) with pseudo-words."""
    out: list[SegmentIn] = []
    for start, end in speech_regions(audio):
        n = max(1, int(np.ceil((end - start) / max_segment_s)))
        edges = np.linspace(start, end, n + 1)
        for s, e in zip(edges[:-1], edges[1:]):
            grid = np.arange(s, e, PSEUDO_WORD_S)
            words = [
                {"w": " ~", "start": round(float(a), 3), "end": round(float(min(a + PSEUDO_WORD_S, e)), 3), "p": 1.0}
                for a in grid
            ]
            out.append(SegmentIn(float(s), float(e), "", words))
    return out


def simulate_live(
    audio: np.ndarray,
    *,
    chunk_s: float = 2.0,
    segments: Sequence[SegmentIn] | None = None,
    hints: Sequence[Hint] = (),
    channel_audio: np.ndarray | None = None,
    enroll_until: float = 0.0,
) -> LiveRun:
    """Feed committed segments chunk by chunk; hints are delivered once session time passes them.

    ``enroll_until``: the first seconds are the interviewer's enrollment (the socket's ``enroll_s``).
    """
    segs = sorted(segments if segments is not None else vad_segments(audio), key=lambda s: s.start)
    state: dict | None = None
    channels = 2 if channel_audio is not None else 1
    labelled: list[LabeledSegment] = []
    corrections: list[RoleCorrection] = []
    pending_hints = sorted(hints, key=lambda h: h.at)
    sent = 0
    cpu = 0.0
    wall = 0.0
    max_call = 0.0
    calls = 0
    max_state = 0
    duration = len(audio) / SAMPLE_RATE
    t = 0.0
    while sent < len(segs) or pending_hints:
        t += chunk_s
        diarizer = LiveDiarizer(state, channels=channels, enroll_until=enroll_until)
        while pending_hints and pending_hints[0].at <= t:
            h = pending_hints.pop(0)
            diarizer.hint(at=h.at, speaker=h.speaker, kind=h.kind, text=h.text)
        batch = []
        while sent < len(segs) and (segs[sent].end <= t or t >= duration):
            batch.append(segs[sent])
            sent += 1
        if batch:
            a = int(batch[0].start * SAMPLE_RATE)
            b = int(np.ceil(batch[-1].end * SAMPLE_RATE))
            ch = channel_audio[a:b] if channel_audio is not None else None
            started, started_wall = time.process_time(), time.perf_counter()
            labelled.extend(diarizer.label(batch, audio[a:b], a / SAMPLE_RATE, channel_audio=ch))
            corrections.extend(diarizer.take_corrections())
            cpu += time.process_time() - started
            took = time.perf_counter() - started_wall
            wall += took
            max_call = max(max_call, took)
            calls += 1
        encoded = json.dumps(diarizer.to_state())
        max_state = max(max_state, len(encoded))
        state = json.loads(encoded)
        if t > duration + 10 * chunk_s:
            break
    return LiveRun(labelled, cpu, wall, max_call, calls, max_state, tuple(corrections))


def role_accuracy(segments: Sequence[LabeledSegment], turns: Sequence[dict]) -> float:
    """Share of the labelled segments' time whose role matches the reference turns' (``start``, ``end``,
    ``role``): the role accuracy over labelled speech of docs/diarization.md."""
    right = total = 0.0
    for seg in segments:
        for t in turns:
            overlap = max(0.0, min(seg.end, t["end"]) - max(seg.start, t["start"]))
            total += overlap
            right += overlap * (seg.role == t["role"])
    return right / total
