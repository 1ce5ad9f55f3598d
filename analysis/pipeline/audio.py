"""Audio access for the stages: the session's preprocessed chunks (16 kHz int16 in Redis) as arrays."""

from __future__ import annotations

import bisect
import io
import wave

import numpy as np
from django.conf import settings

from analysis.audio.preprocess import from_int16_bytes, resample_ratio, to_int16_bytes
from analysis.stt.engine import SR
from sessions import recording, state
from sessions.state import Keys, SessionMeta


def chunk_starts(meta: SessionMeta) -> tuple[list[int], list[int]]:
    """(seqs, first 16 kHz sample of each) for every accepted chunk, from the arrival records."""
    rec = recording.for_meta(meta)
    if rec.exists():  # the durable index: complete even when Redis lost or trimmed its arrival records
        starts = rec.starts_16k()
        return list(range(len(starts))), starts
    pairs = sorted((seq, arrival.offset) for seq, arrival in state.arrivals(meta.session_id).items())
    up, down = resample_ratio(meta.sample_rate, SR)
    return [p[0] for p in pairs], [-(-p[1] * up // down) for p in pairs]


def audio_between(meta: SessionMeta, start_s: float, end_s: float, *, channels: bool = False) -> tuple[np.ndarray, float]:
    """Session audio (16 kHz; mono, or (n, ch) with ``channels``) covering [start_s, end_s], and its start time.

    Called once per committed utterance (diarize) and per finished answer (analyze), not per chunk.
    """
    seqs, starts = chunk_starts(meta)
    if not seqs:
        return np.zeros(0, dtype=np.float32), start_s
    lo = max(0, bisect.bisect_right(starts, int(start_s * SR)) - 1)
    hi = max(lo, bisect.bisect_right(starts, int(end_s * SR)) - 1)
    keys = Keys(meta.session_id)
    field = keys.pcm_channels if channels else keys.pcm
    data = state.sync_client().hmget(field, seqs[lo : hi + 1])
    n_ch = meta.channels if channels else 1
    if any(d is None for d in data):
        # Outside Redis's working window (or lost with it): recompute from the durable recording, which
        # yields exactly what the live preprocess stage stored. A chunk missing there too is a hole, and a
        # hole would shift every later sample: RecordingGap refuses rather than mislabel.
        steps = tuple(s for s in settings.PREPROCESS_STEPS if s == "highpass")
        blocks = [multi if channels and multi is not None else mono
                  for _s, mono, multi in recording.for_meta(meta).preprocessed(seqs[lo], seqs[hi], steps=steps)]
        return np.concatenate(blocks, axis=0), starts[lo] / SR
    return np.concatenate([from_int16_bytes(d, n_ch) for d in data], axis=0), starts[lo] / SR


def session_audio(session_id: str, end_seq: int, *, channels: int = 1) -> np.ndarray:
    """The whole session at 16 kHz: mono, or (n, 2) for a two-channel interview (kept for the final pass)."""
    keys = Keys(session_id)
    if end_seq < 0:
        return np.zeros((0, channels) if channels > 1 else 0, dtype=np.float32)
    field = keys.pcm_channels if channels > 1 else keys.pcm
    chunks = state.sync_client().hmget(field, list(range(end_seq + 1)))
    arrays = [from_int16_bytes(c, channels) for c in chunks if c is not None]
    return np.concatenate(arrays, axis=0) if arrays else np.zeros(0, np.float32)


def wav_bytes(audio: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(audio.shape[1] if audio.ndim == 2 else 1)
        out.setsampwidth(2)
        out.setframerate(SR)
        out.writeframes(to_int16_bytes(audio.reshape(-1)))
    return buffer.getvalue()
