"""Stage ``transcribe``: the streaming transcriber, one step per chunk, its state in Redis.

After the client ends the session, the step past its last chunk (``end_seq + 1``, a virtual chunk) flushes
the transcriber's tail; its segments are stored as that chunk's result so the later stages handle them like
any other.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass

import numpy as np
from django.conf import settings

from analysis.audio.preprocess import from_int16_bytes
from analysis.overload import Overload, overload_for
from analysis.pipeline.preprocess import chunk_mono_pcm, chunk_preprocess
from analysis.pipeline.runner import StageRun
from analysis.pipeline.worker_models import stt_participant, transcriber
from analysis.stt.hotwords import hotword_prompt
from analysis.stt.engine import StreamState
from interview_project import metrics
from sessions import state
from sessions.state import ChunkResult, Keys


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
        if data is None:  # fell out of the live window: read back from the recording, not stored again
            data = chunk_mono_pcm(session_id, s)
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


def chunk_overload(session_id: str, seq: int) -> Overload:
    """How far behind the worker is on chunk ``seq`` (accepted → now) and what it gives up for it."""
    arrival = state.arrival(session_id, seq)
    lag_s = time.time() - arrival.wall if arrival is not None else 0.0
    return overload_for(
        lag_s, partial_drop_s=settings.STT_PARTIAL_DROP_LAG_S, feedback_defer_s=settings.FEEDBACK_DEFER_LAG_S
    )


def work(run: StageRun) -> None:
    meta, session_id = run.meta, run.session_id
    keys = Keys(session_id)
    client = state.sync_client()
    flush_seq = meta.end_seq + 1 if meta.status != "live" else None
    real_last = run.last if flush_seq is None else min(run.last, meta.end_seq)
    for s in range(run.first, real_last + 1):
        chunk_preprocess(session_id, s)
    stored = client.get(keys.stt)
    cursor = SttCursor.from_json(stored, meta.language)
    if stored is None:  # the session's first step: its domain words (docs/stt.md) ride along in the stream state
        cursor.stream.hotwords = hotword_prompt(json.loads(meta.options or "{}").get("terms") or [])
    # How far behind: the age of the oldest chunk this step handles (with coalesced chains the newest one has
    # just arrived, so its age would say "not behind" however long the backlog)
    overload = chunk_overload(session_id, min(run.first, real_last))
    # One step per chunk, even when several are waiting: commit points then depend only on the audio and
    # its chunking, never on how far behind the worker was, so a resumed or re-run session transcribes
    # exactly like an uninterrupted one. Only the last step may refresh the partial, and only when the
    # worker is not behind (partials are the expensive, disposable part).
    steps = [(s, False) for s in range(run.first, real_last + 1)]
    if flush_seq is not None and run.last >= flush_seq:
        steps.append((flush_seq, True))
    results: dict[int, ChunkResult] = {}
    language = cursor.stream.language
    for s, flush in steps:
        audio, lengths = _load_buffer(session_id, cursor, min(s, real_last))
        started = time.perf_counter()
        with stt_participant():  # a threads-pool worker batches this step's decodes with other sessions'
            result = transcriber().step(
                cursor.stream, audio, final=flush, allow_partial=s == run.last and overload.partials,
                load=overload.load,
            )
        metrics.stt_suppressed(result.suppressed)
        timings = {k: round(v, 1) for k, v in result.timings_ms.items()}
        timings["stt_step"] = round((time.perf_counter() - started) * 1000, 1)
        cursor.stream = result.state
        language = result.state.language
        _advance_first_chunk(cursor, lengths)
        results[s] = {"segments": [segment.to_dict() for segment in result.segments], "partial": result.partial,
                      "timings_ms": timings}
        if s == run.last and not overload.partials:
            results[s]["degraded"] = ["partials"]
        # Each step is committed on its own (result, stream state, cursor in one transaction), so a catch-up
        # cut short by a crash or a time limit keeps what it did and the next task goes on from there.
        pipe = run.pipe
        state.queue_results(pipe, session_id, {s: results.pop(s)})
        pipe.set(keys.stt, cursor.to_json(), ex=state.ttl())
        if language and language != meta.detected_language:
            pipe.hset(keys.meta, "detected_language", language)
            meta.detected_language = language
        if 0 < s <= real_last:
            pipe.hdel(keys.raw, s - 1)  # raw chunks no later chunk needs as context
        run.commit(s)
