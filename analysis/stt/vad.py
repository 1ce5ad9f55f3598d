"""Streaming Silero VAD: score each 512-sample window of a session once, not once per step.

faster-whisper's ``get_speech_timestamps`` scores the whole buffer on every call; the streaming transcriber
calls it every 250 ms chunk over a buffer of up to 15 s, which cost about 0.03 CPU-s per step (0.1 CPU-s per
audio second at the worst). Silero is causal: its ONNX graph runs the windows of one call as a sequence and
returns the LSTM state, so a window's probability depends only on the audio before it. Keeping the state and
the probabilities of complete windows (on a grid anchored at the session's start) therefore gives exactly
what one call over the whole grid gives, at the price of scoring only the new windows.

The segmentation over the probabilities is faster-whisper's (threshold, hysteresis at threshold - 0.15,
minimum silence, minimum speech, padding), without its maximum-speech cut (the transcriber cuts long
utterances itself). Pure: numpy in, small values out.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from typing import Any

import numpy as np

WINDOW = 512
CONTEXT = 64
STATE_SHAPE = (1, 1, 128)


def _model() -> Any:
    from faster_whisper.vad import get_vad_model

    return get_vad_model()


def _encode(array: np.ndarray) -> str:
    return base64.b64encode(np.ascontiguousarray(array, dtype=np.float32).tobytes()).decode("ascii")


def _decode(text: str) -> np.ndarray:
    return np.frombuffer(base64.b64decode(text), dtype=np.float32).reshape(STATE_SHAPE).copy()


@dataclass
class VadCache:
    """Probabilities of the complete windows from session sample ``origin`` on, and Silero's state after them.

    JSON-friendly (``probs`` rounded to 4 decimals; ``h``/``c`` base64 float32) so it travels in the stream
    state: any worker continues a session with the same numbers.
    """

    origin: int = 0
    probs: list[float] = field(default_factory=list)
    h: str = ""
    c: str = ""

    @property
    def end(self) -> int:
        return self.origin + WINDOW * len(self.probs)

    def to_dict(self) -> dict[str, Any]:
        return {"origin": self.origin, "probs": self.probs, "h": self.h, "c": self.c}

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> VadCache:
        return cls(**data) if data else cls()


def _run(batch: np.ndarray, h: np.ndarray, c: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    out, h, c = _model().session.run(None, {"input": batch, "h": h, "c": c})
    return np.asarray(out, dtype=np.float32).reshape(-1), h, c


def window_probs(audio: np.ndarray, buffer_start: int, cache: VadCache) -> tuple[np.ndarray, int, VadCache]:
    """Speech probability of every window overlapping ``audio`` (session samples from ``buffer_start``).

    Returns (probs, buffer position of the first window (≤ 0), updated cache). The last window, when
    incomplete, is zero-padded and scored from the cached state but not cached (its audio is still coming).
    """
    n = len(audio)
    end = buffer_start + n
    usable = bool(cache.h) and buffer_start <= cache.end - CONTEXT and cache.end <= end
    if usable:
        cache = VadCache(**cache.to_dict())
        drop = min(len(cache.probs), max(0, (buffer_start - cache.origin) // WINDOW))
        cache.probs = cache.probs[drop:]
        cache.origin += drop * WINDOW
        h, c = _decode(cache.h), _decode(cache.c)
    else:  # a fresh session (or a state from before this cache): the grid starts at the buffer
        cache = VadCache(origin=buffer_start)
        h = np.zeros(STATE_SHAPE, np.float32)
        c = np.zeros(STATE_SHAPE, np.float32)
    first_new = cache.end - buffer_start  # buffer position of the first window to score (≥ 0)
    complete = (n - first_new) // WINDOW
    partial_tail = (n - first_new) % WINDOW > 0
    rows: list[np.ndarray] = []
    for i in range(complete + int(partial_tail)):
        w0 = first_new + i * WINDOW
        window = audio[w0 : w0 + WINDOW]
        if len(window) < WINDOW:
            window = np.pad(window, (0, WINDOW - len(window)))
        # faster-whisper gives the first window of a call zero context, every later one its predecessor's tail
        fresh = usable is False and i == 0
        context = np.zeros(CONTEXT, np.float32) if fresh else audio[w0 - CONTEXT : w0]
        rows.append(np.concatenate([context, window]).astype(np.float32))
    tail: list[float] = []
    if complete:
        done, h, c = _run(np.stack(rows[:complete]), h, c)
        cache.probs = cache.probs + [round(float(p), 4) for p in done]
        cache.h, cache.c = _encode(h), _encode(c)
    if partial_tail:
        last, _h, _c = _run(np.stack(rows[complete:]), h, c)
        tail = [round(float(p), 4) for p in last]
    probs = np.asarray(cache.probs + tail, dtype=np.float32)
    return probs, cache.origin - buffer_start, cache


def regions(
    probs: np.ndarray,
    first_sample: int,
    n: int,
    *,
    threshold: float,
    min_silence_s: float,
    min_speech_s: float,
    pad_s: float,
    sr: int = 16000,
) -> list[tuple[int, int]]:
    """faster-whisper's segmentation of window probabilities → [(start, end)] in buffer samples [0, n].

    ``first_sample`` is the buffer position of the first window (≤ 0 when it starts before the buffer).
    """
    neg_threshold = max(threshold - 0.15, 0.01)
    min_silence = int(min_silence_s * sr)
    min_speech = int(min_speech_s * sr)
    pad = int(pad_s * sr)
    speeches: list[list[int]] = []
    triggered = False
    start = 0
    temp_end = 0
    for i, p in enumerate(probs):
        pos = first_sample + WINDOW * i
        if p >= threshold and temp_end:
            temp_end = 0
        if p >= threshold and not triggered:
            triggered = True
            start = pos
            continue
        if p < neg_threshold and triggered:
            if not temp_end:
                temp_end = pos
            if pos - temp_end < min_silence:
                continue
            if temp_end - start > min_speech:
                speeches.append([start, temp_end])
            triggered = False
            temp_end = 0
    if triggered and n - start > min_speech:
        speeches.append([start, n])
    for i, speech in enumerate(speeches):
        if i == 0:
            speech[0] = max(0, speech[0] - pad)
        if i != len(speeches) - 1:
            silence = speeches[i + 1][0] - speech[1]
            if silence < 2 * pad:
                speech[1] += silence // 2
                speeches[i + 1][0] = max(0, speeches[i + 1][0] - silence // 2)
            else:
                speech[1] = min(n, speech[1] + pad)
                speeches[i + 1][0] = max(0, speeches[i + 1][0] - pad)
        else:
            speech[1] = min(n, speech[1] + pad)
    return [(max(0, s), min(n, e)) for s, e in speeches if min(n, e) > max(0, s)]
