"""Stage ``preprocess``: decode and resample one chunk onto the session's 16 kHz grid.

Not ordered: each chunk needs only itself and the raw chunk before it (resampler context), and the write
is HSETNX, so a rerun or a redelivery changes nothing.
"""

from __future__ import annotations

import json
from typing import Any

from django.conf import settings

from analysis.audio.preprocess import ChunkFormat, preprocess_chunk, to_int16_bytes
from sessions import recording, state
from sessions.state import Arrival, Keys


def chunk_preprocess(session_id: str, seq: int) -> None:
    keys = Keys(session_id)
    client = state.sync_client()
    if client.hexists(keys.pcm, seq):
        return
    out = _preprocessed(session_id, seq)
    if out is None:
        return
    pipe = client.pipeline()
    pipe.hsetnx(keys.pcm, seq, to_int16_bytes(out.mono))
    if out.channels is not None:
        pipe.hsetnx(keys.pcm_channels, seq, to_int16_bytes(out.channels.reshape(-1)))
        pipe.expire(keys.pcm_channels, state.ttl())
    pipe.expire(keys.pcm, state.ttl())
    pipe.execute()


def chunk_mono_pcm(session_id: str, seq: int) -> bytes | None:
    """Chunk ``seq`` on the 16 kHz grid (int16 mono): from Redis while it is in the live window, else
    recomputed from the durable recording WITHOUT writing it back. (Writing back a chunk that already fell
    out of the window, as the transcriber's read-back of its uncommitted buffer did, left it in Redis for
    good: nothing trims a chunk behind the window twice, so Redis grew with the session.)"""
    data = state.sync_client().hget(Keys(session_id).pcm, seq)
    if data is not None:
        return bytes(data)
    out = _preprocessed(session_id, seq)
    return None if out is None else to_int16_bytes(out.mono)


def _preprocessed(session_id: str, seq: int) -> Any:
    keys = Keys(session_id)
    client = state.sync_client()
    meta = state.load_meta(session_id)
    if meta is None:
        return None  # session expired or erased
    if seq > meta.last_seq:
        return None  # not accepted (the virtual chunk past the end that flushes the transcript has no audio)
    raw = previous = recv = None
    if json.loads(meta.options or "{}").get("encoding") != "opus":  # Opus packets in Redis only prime the decoder
        raw, previous, recv = client.hmget(keys.raw, [seq, seq - 1]) + [client.hget(keys.recv, seq)]
    if raw is None or recv is None or (seq > 0 and previous is None):
        # The durable recording has every accepted chunk (Redis holds raw audio only for sessions accepted
        # before recordings existed).
        raw, previous, entry = recording.for_meta(meta).chunk(seq)
        in_offset = entry.in_offset(meta.channels)
    else:
        in_offset = Arrival.decode(recv).offset
    steps = tuple(s for s in settings.PREPROCESS_STEPS if s == "highpass")
    return preprocess_chunk(
        raw,
        fmt=ChunkFormat(meta.sample_rate, meta.channels),
        in_offset=in_offset,
        previous_raw=previous,
        steps=steps,
    )
