"""The per-chunk pipeline's stage logic (Django and Redis side), called by the thin tasks in ``tasks.py``.

Ordering and idempotency come from one pattern: an *ordered stage* keeps a cursor (the last seq it finished)
in Redis and, under a per-session lock, handles every seq from ``cursor + 1`` up to the seq it was asked
for. So with any number of workers a session's chunks are handled in order, a chunk whose task was lost is
picked up by the next one, and a redelivered task finds its work done and changes nothing.
"""

from __future__ import annotations

import bisect
import io
import json
import logging
import time
import uuid
import wave
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np
import redis
from django.conf import settings

from analysis.audio import opus
from analysis.audio.preprocess import ChunkFormat, from_int16_bytes, preprocess_chunk, resample_ratio, to_int16_bytes
from analysis.stt.engine import SR, StreamingTranscriber, StreamState, SttConfig
from sessions import events, state
from sessions.state import Keys

logger = logging.getLogger(__name__)

LOCK_TIMEOUT_S = 120
MAX_PARTIAL_LAG_S = 1.0
LAST_STAGE = "score"  # publish announces a chunk once this stage has handled it


class StageBusy(Exception):
    """Another worker holds this session's stage lock; the task retries shortly."""


@lru_cache(maxsize=1)
def stt_config() -> SttConfig:
    steps = tuple(s for s in settings.PREPROCESS_STEPS if s in ("loudness", "denoise"))
    return SttConfig(
        model=settings.WHISPER_MODEL,
        models_dir=settings.MODELS_DIR,
        device=settings.WHISPER_DEVICE,
        compute_type=settings.WHISPER_COMPUTE_TYPE,
        cpu_threads=settings.WHISPER_CPU_THREADS,
        beam_size=settings.WHISPER_BEAM_SIZE,
        partial_interval_s=settings.STT_PARTIAL_INTERVAL_S,
        commit_context=settings.STT_COMMIT_WINDOW,
        utterance_steps=steps,
    )


@lru_cache(maxsize=1)
def transcriber() -> StreamingTranscriber:
    return StreamingTranscriber(stt_config())


def warm_up() -> None:
    """Load the models now rather than on the first chunk of the first interview."""
    started = time.monotonic()
    t = transcriber()
    # One tiny decode compiles the kernels and allocates the buffers.
    from analysis.stt.engine import speech_regions

    speech_regions(np.zeros(SR, dtype=np.float32), t.config)
    from analysis.answers.text import kiwi
    from analysis.diarization.embeddings import get_encoder

    get_encoder()
    kiwi()
    logger.info("models warm in %.1f s", time.monotonic() - started)


@contextmanager
def stage_lock(session_id: str, stage: str, *, wait_s: float = 0.2) -> Iterator[None]:
    """A per-session, per-stage Redis lock (SET NX PX with a token; released only by its owner).

    Waits only briefly: when another worker holds the lock it is doing this stage's work (a Whisper
    decode can take seconds), and a worker blocked here could be running the session's other stages.

    Compare-and-delete uses WATCH/MULTI rather than a Lua script, so the embedded fakeredis needs no Lua.
    """
    client = state.sync_client()
    name = Keys(session_id).lock(stage)
    token = uuid.uuid4().hex
    deadline = time.monotonic() + wait_s
    delay = 0.002
    while not client.set(name, token, nx=True, px=LOCK_TIMEOUT_S * 1000):
        if time.monotonic() >= deadline:
            raise StageBusy(f"{stage} of {session_id} is busy")
        time.sleep(delay)
        delay = min(delay * 2, 0.05)
    try:
        yield
    finally:
        with client.pipeline() as pipe:
            try:
                pipe.watch(name)
                if pipe.get(name) == token.encode():
                    pipe.multi()
                    pipe.delete(name)
                    pipe.execute()
                else:
                    logger.warning("stage lock %s of %s expired before release", stage, session_id)
            except redis.WatchError:
                logger.warning("stage lock %s of %s changed hands before release", stage, session_id)


def run_ordered(
    session_id: str,
    seq: int,
    *,
    stage: str,
    after: str,
    work: Callable[[state.SessionMeta, int, int, Any], None],
) -> None:
    """Run ``work(meta, first_seq, last_seq, pipe)`` over the seqs ``stage`` has not handled, up to ``seq``.

    Only seqs that stage ``after`` has finished are taken. ``work`` queues its Redis writes on ``pipe``;
    the cursor advance is queued last and everything is executed as one transaction, so a crash leaves
    either all of the step or none of it (database writes inside ``work`` are upserts).
    """
    with stage_lock(session_id, stage):
        meta = state.load_meta(session_id)
        if meta is None or meta.status == "complete":
            return
        done = state.get_cursor(session_id, stage)
        upto = min(seq, state.get_cursor(session_id, after))
        if upto <= done:
            return
        pipe = state.sync_client().pipeline(transaction=True)
        work(meta, done + 1, upto, pipe)
        _set_cursor(pipe, session_id, stage, upto)
        pipe.execute()


def load_results(session_id: str, first: int, last: int) -> dict[int, dict[str, Any]]:
    seqs = list(range(first, last + 1))
    raw = state.sync_client().hmget(Keys(session_id).result, seqs) if seqs else []
    return {s: json.loads(r) for s, r in zip(seqs, raw) if r is not None}


def store_results(pipe: Any, session_id: str, results: dict[int, dict[str, Any]]) -> None:
    keys = Keys(session_id)
    if results:
        pipe.hset(keys.result, mapping={s: json.dumps(r, ensure_ascii=False) for s, r in results.items()})
        pipe.expire(keys.result, state.ttl())


def chunk_starts(session_id: str, meta: state.SessionMeta) -> tuple[list[int], list[int]]:
    """(seqs, first 16 kHz sample of each) for every accepted chunk, from the acceptance records."""
    raw = state.sync_client().hgetall(Keys(session_id).recv)
    pairs = sorted((int(k), int(v.decode().split("|")[1])) for k, v in raw.items())
    up, down = resample_ratio(meta.sample_rate, SR)
    return [p[0] for p in pairs], [-(-p[1] * up // down) for p in pairs]


def audio_between(session_id: str, start_s: float, end_s: float, *, channels: bool = False) -> tuple[np.ndarray, float]:
    """Session audio (16 kHz; mono, or (n, ch) with ``channels``) covering [start_s, end_s], and its start time.

    Called once per committed utterance (diarize) and per finished answer (analyze), not per chunk.
    """
    meta = state.load_meta(session_id)
    seqs, starts = chunk_starts(session_id, meta) if meta is not None else ([], [])
    if not seqs:
        return np.zeros(0, dtype=np.float32), start_s
    lo = max(0, bisect.bisect_right(starts, int(start_s * SR)) - 1)
    hi = max(lo, bisect.bisect_right(starts, int(end_s * SR)) - 1)
    keys = Keys(session_id)
    field = keys.pcm_channels if channels else keys.pcm
    data = state.sync_client().hmget(field, seqs[lo : hi + 1])
    if any(d is None for d in data):  # a hole would shift every later sample: refuse rather than mislabel
        raise RuntimeError(f"chunks {seqs[lo]}..{seqs[hi]} of {session_id} are not all preprocessed")
    n_ch = meta.channels if channels else 1
    return np.concatenate([from_int16_bytes(d, n_ch) for d in data], axis=0), starts[lo] / SR


def _set_cursor(pipe: Any, session_id: str, stage: str, seq: int) -> None:
    keys = Keys(session_id)
    pipe.hset(keys.cursor, stage, seq)
    pipe.expire(keys.cursor, state.ttl())


# --- preprocess ---------------------------------------------------------------------------------------------------
def chunk_preprocess(session_id: str, seq: int) -> None:
    """Decode and resample chunk ``seq`` onto the session's 16 kHz grid (idempotent: HSETNX)."""
    keys = Keys(session_id)
    client = state.sync_client()
    if client.hexists(keys.pcm, seq):
        return
    meta = state.load_meta(session_id)
    if meta is None:
        return  # session expired or erased
    raw, previous, recv = client.hmget(keys.raw, [seq, seq - 1]) + [client.hget(keys.recv, seq)]
    if raw is None or recv is None:
        return
    in_offset = int(recv.decode().split("|")[1])
    if json.loads(meta.options or "{}").get("encoding") == "opus":  # raw Opus packets (docs/protocol.md)
        raw, previous = opus.decode_chunk(raw, previous, channels=meta.channels)
    steps = tuple(s for s in settings.PREPROCESS_STEPS if s == "highpass")
    out = preprocess_chunk(
        raw,
        fmt=ChunkFormat(meta.sample_rate, meta.channels),
        in_offset=in_offset,
        previous_raw=previous,
        steps=steps,
    )
    pipe = client.pipeline()
    pipe.hsetnx(keys.pcm, seq, to_int16_bytes(out.mono))
    if out.channels is not None:
        pipe.hsetnx(keys.pcm_channels, seq, to_int16_bytes(out.channels.reshape(-1)))
        pipe.expire(keys.pcm_channels, state.ttl())
    pipe.expire(keys.pcm, state.ttl())
    pipe.execute()


# --- transcribe ---------------------------------------------------------------------------------------------------
@dataclass
class SttCursor:
    """Where the uncommitted buffer starts, in chunks: lets a worker rebuild it from the stored chunks."""

    stream: StreamState
    first_seq: int = 0  # first chunk that overlaps the uncommitted buffer
    first_start: int = 0  # session sample where that chunk starts

    def to_json(self) -> str:
        return json.dumps({"stream": self.stream.to_dict(), "first_seq": self.first_seq, "first_start": self.first_start})

    @classmethod
    def from_json(cls, raw: bytes | None, language: str) -> SttCursor:
        if not raw:
            return cls(stream=StreamState(language="" if language == "auto" else language))
        data = json.loads(raw)
        return cls(stream=StreamState.from_dict(data["stream"]), first_seq=data["first_seq"], first_start=data["first_start"])


def _load_buffer(session_id: str, cursor: SttCursor, through_seq: int) -> tuple[np.ndarray, list[int]]:
    keys = Keys(session_id)
    seqs = list(range(cursor.first_seq, through_seq + 1))
    chunks = state.sync_client().hmget(keys.pcm, seqs) if seqs else []
    arrays = []
    for s, data in zip(seqs, chunks):
        if data is None:
            chunk_preprocess(session_id, s)
            data = state.sync_client().hget(keys.pcm, s)
            if data is None:
                raise RuntimeError(f"chunk {s} of {session_id} is missing from the live buffer")
        arrays.append(from_int16_bytes(data))
    lengths = [len(a) for a in arrays]
    audio = np.concatenate(arrays) if arrays else np.zeros(0, dtype=np.float32)
    return audio[cursor.stream.buffer_start - cursor.first_start :], lengths


def _advance_first_chunk(cursor: SttCursor, lengths: list[int]) -> None:
    for length in lengths:
        if cursor.first_start + length > cursor.stream.buffer_start:
            break
        cursor.first_start += length
        cursor.first_seq += 1


def chunk_transcribe(session_id: str, seq: int, *, final: bool = False) -> None:
    """Run the streaming transcriber over every chunk up to ``seq`` not yet transcribed; store the results.

    ``final`` flushes the tail after the last chunk ``seq``: its segments are stored as the result of the
    virtual chunk ``seq + 1`` so the later stages handle them like any other.
    """
    keys = Keys(session_id)
    client = state.sync_client()
    with stage_lock(session_id, "transcribe"):
        done = state.get_cursor(session_id, "transcribe")
        target = seq + 1 if final else seq
        if done >= target:
            return
        meta = state.load_meta(session_id)
        if meta is None or meta.status == "complete":
            return  # expired, erased or already finalised: a late task has nothing left to do
        for s in range(done + 1, seq + 1):
            chunk_preprocess(session_id, s)
        cursor = SttCursor.from_json(client.get(keys.stt), meta.language)
        cursor.stream.hotwords = json.loads(meta.options or "{}").get("hotwords") or ""  # docs/stt.md
        received = client.hget(keys.recv, seq)
        lag_s = time.time() - float(received.decode().split("|")[0]) if received else 0.0
        pipe = client.pipeline()
        # One step per chunk, even when several are waiting: commit points then depend only on the audio and
        # its chunking, never on how far behind the worker was, so a resumed or re-run session transcribes
        # exactly like an uninterrupted one. Only the last step may refresh the partial, and only when the
        # worker is not behind (partials are the expensive, disposable part).
        steps = [(s, False) for s in range(done + 1, seq + 1)] + ([(seq + 1, True)] if final else [])
        for s, flush in steps:
            audio, lengths = _load_buffer(session_id, cursor, min(s, seq))
            started = time.perf_counter()
            last = s == target
            result = transcriber().step(
                cursor.stream, audio, final=flush, allow_partial=last and lag_s < MAX_PARTIAL_LAG_S
            )
            timings = {k: round(v, 1) for k, v in result.timings_ms.items()}
            timings["stt_step"] = round((time.perf_counter() - started) * 1000, 1)
            cursor.stream = result.state
            _advance_first_chunk(cursor, lengths)
            payload = {"segments": [segment.to_dict() for segment in result.segments], "partial": result.partial,
                       "timings_ms": timings}
            pipe.hset(keys.result, s, json.dumps(payload, ensure_ascii=False))
        pipe.expire(keys.result, state.ttl())
        pipe.set(keys.stt, cursor.to_json(), ex=state.ttl())
        if result.state.language and result.state.language != meta.detected_language:
            pipe.hset(keys.meta, "detected_language", result.state.language)
        stale = list(range(max(0, done - 1), seq))  # raw chunks no later chunk needs as context
        if stale:
            pipe.hdel(keys.raw, *stale)
        _set_cursor(pipe, session_id, "transcribe", target)
        pipe.execute()


# --- publish --------------------------------------------------------------------------------------------------------
def chunk_publish(session_id: str, seq: int) -> None:
    """Send ``audio_processed`` for every chunk up to ``seq`` not yet announced, in seq order."""
    keys = Keys(session_id)
    client = state.sync_client()
    with stage_lock(session_id, "publish"):
        meta = state.load_meta(session_id)
        if meta is None or meta.status == "complete":
            return
        done = state.get_cursor(session_id, "publish")
        ready = state.get_cursor(session_id, LAST_STAGE)
        upto = min(seq, ready)
        if meta.status != "live":
            upto = min(upto, meta.end_seq)  # the flushed tail (end_seq + 1) is announced by session_complete
        for s in range(done + 1, upto + 1):
            raw, recv = client.hget(keys.result, s), client.hget(keys.recv, s)
            if raw is None:
                break
            result = json.loads(raw)
            received = float(recv.decode().split("|")[0]) if recv else time.time()
            event: events.AudioProcessed = {
                "type": "audio_processed",
                "seq": s,
                "segments": result["segments"],
                "partial": result["partial"],
                "lag_ms": int((time.time() - received) * 1000),
                "timings_ms": result.get("timings_ms", {}),
            }
            events.publish(session_id, event)
            for extra in result.get("events", []):
                events.publish(session_id, extra)
            pipe = client.pipeline()
            _set_cursor(pipe, session_id, "publish", s)
            pipe.execute()


# --- the end of a session -----------------------------------------------------------------------------------------
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


def live_stages(session_id: str, seq: int) -> None:
    """Every live stage after transcription, in order, up to ``seq`` (the chain's steps, run inline)."""
    from analysis.live_stages import chunk_analyze, chunk_diarize, chunk_score

    chunk_diarize(session_id, seq)
    chunk_analyze(session_id, seq)
    chunk_score(session_id, seq)


def session_finalize(session_id: str) -> None:
    """Flush the transcript's tail, finish every stage, store the recording and the record, then announce
    ``session_complete`` (with the live report) and queue the final pass."""
    from analysis import final
    from sessions import services

    meta = state.load_meta(session_id)
    if meta is None or meta.status == "complete":
        services.interview_republish_complete(session_id=session_id)
        return
    end_seq = meta.end_seq
    if end_seq >= 0:
        chunk_transcribe(session_id, end_seq)
        live_stages(session_id, end_seq)
        chunk_publish(session_id, end_seq)
        chunk_transcribe(session_id, end_seq, final=True)
        live_stages(session_id, end_seq + 1)
    audio = session_audio(session_id, end_seq, channels=meta.channels)
    services.interview_complete(
        session_id=session_id,
        wav=wav_bytes(audio),
        duration_s=len(audio) / SR,
        last_seq=end_seq,
        detected_language=(state.load_meta(session_id) or meta).detected_language,
    )
    final.report_store(session_id=session_id, stage="live")
    services.interview_republish_complete(session_id=session_id)
    state.update_meta(session_id, status="complete")
    state.expire_completed(session_id)
    if settings.FINAL_PASS:
        final.enqueue_final_pass(session_id)
