"""Services of the live interview: typed, keyword-only functions that the consumer and tasks call.

Async functions serve the consumer (Redis through ``redis.asyncio``, the ORM through
``database_sync_to_async``); sync ones serve the Celery pipeline.

This module never imports ``analysis`` (the pipeline sits above it): the work it queues is sent by Celery
task name (``send_task``), the names being part of the deployment's contract with its workers.
"""

from __future__ import annotations

import json
import logging
import secrets
import time
from dataclasses import dataclass
from typing import Any

from asgiref.sync import sync_to_async
from celery import current_app, signature
from channels.db import database_sync_to_async
from django.conf import settings
from django.core.files.base import ContentFile
from django.db import DatabaseError, transaction
from django.utils import timezone

from scoring.selectors import report_summary, report_url
from sessions import events, lifecycle, limits, recording, selectors, state
from sessions.models import Interview, Note, Segment
from sessions.protocol import AudioChunk, ConnectParams, ErrorCode, ProtocolError, SpeakerNote
from sessions.state import Arrival, Keys, SessionMeta, resume_key

logger = logging.getLogger(__name__)


# --- starting and resuming ------------------------------------------------------------------------------------------
def _create_interview(params: ConnectParams, owner_id: int | None, resume_digest: str = "") -> Interview:
    question_set = None
    if params.question_set:
        question_set = selectors.question_set_usable(slug=params.question_set, user_id=owner_id)
        if question_set is None:
            raise ProtocolError(ErrorCode.BAD_PARAMETERS, f"unknown question_set '{params.question_set[:80]}'", fatal=True)
    return Interview.objects.create(
        owner_id=owner_id or None,
        language=params.language,
        sample_rate=params.sample_rate,
        channels=params.channels,
        question_set=question_set,
        consent=params.consent,
        custom_terms=list(params.terms),
        encoding=params.encoding,
        resume_digest=resume_digest,
        analysis_affect=settings.ANALYSIS_AFFECT if params.analysis_affect is None else params.analysis_affect,
        mode=params.mode,
        num_speakers=params.num_speakers,
        enroll_s=params.enroll_s,
    )




async def interview_start(*, params: ConnectParams, owner_id: int | None) -> SessionMeta:
    token = secrets.token_urlsafe(24)
    interview = await database_sync_to_async(_create_interview)(params, owner_id, lifecycle.resume_digest(token))
    options = {"analysis_affect": params.analysis_affect, "question_set": params.question_set, "mode": params.mode,
               "num_speakers": params.num_speakers, "encoding": params.encoding, "enroll_s": params.enroll_s,
               "terms": await database_sync_to_async(selectors.interview_domain_terms)(interview)}
    meta = SessionMeta(
        session_id=str(interview.id),
        resume_token=token,
        language=params.language,
        sample_rate=params.sample_rate,
        channels=params.channels,
        started_wall=time.time(),
        owner_id=owner_id or 0,
        options=json.dumps(options),
    )
    client = state.async_client()
    keys = Keys(meta.session_id)
    async with client.pipeline(transaction=True) as pipe:
        pipe.hset(keys.meta, mapping=meta.to_redis())
        pipe.expire(keys.meta, state.ttl())
        state.queue_epoch_new(pipe, meta.session_id)
        await pipe.execute()
    # The token's key has its own hash slot on a Redis Cluster, so it is written after the session's keys
    # (the client sees the token only in the ack, once both exist).
    await client.set(resume_key(meta.resume_token), meta.session_id, ex=state.ttl())
    logger.info("interview %s started (%s, %d Hz, %d ch)", meta.session_id, meta.language, meta.sample_rate, meta.channels)
    return meta


def session_encoding(meta: SessionMeta) -> str:
    """How the session's audio chunks are encoded (``pcm_s16le`` or ``opus``), fixed when it starts."""
    return str(json.loads(meta.options or "{}").get("encoding") or "pcm_s16le")


@dataclass(frozen=True)
class Resumed:
    meta: SessionMeta
    rebuilt: bool  # Redis had lost the session: it was rebuilt from the database and the recording


async def interview_resume(*, token: str, delivered: int = -1) -> Resumed | None:
    """The session of a resume token; rebuilt from the database and the recording when Redis lost it."""
    client = state.async_client()
    session_id = await client.get(resume_key(token))
    if session_id is not None:
        meta = state.meta_from_hash(await client.hgetall(Keys(session_id.decode()).meta))
        if meta is not None:
            return Resumed(meta=meta, rebuilt=False)
    lost = await database_sync_to_async(lifecycle.session_for_token)(token)
    if lost is None:
        return None
    meta = await database_sync_to_async(lifecycle.session_rebuild)(
        session_id=lost, resume_token=token, delivered_seq=delivered
    )
    return Resumed(meta=meta, rebuilt=True) if meta is not None else None


async def session_touch(*, session_id: str) -> None:
    client = state.async_client()
    async with client.pipeline(transaction=False) as pipe:
        for key in Keys(session_id).all():
            pipe.expire(key, state.ttl())
        meta = await client.hget(Keys(session_id).meta, "resume_token")
        if meta:
            pipe.expire(resume_key(meta.decode()), state.ttl())
        await pipe.execute()


# --- audio ---------------------------------------------------------------------------------------------------------
async def chunk_accept(*, meta: SessionMeta, chunk: AudioChunk, now: float) -> None:
    """Check a chunk against the session, store it in the live buffer and advance ``last_seq``.

    ``meta`` is the consumer's copy of the session (the consumer is the session's only writer of
    ``last_seq``); it is updated in place. Raises ProtocolError for duplicates, gaps, ended sessions and
    audio arriving much faster than real time; nothing is stored then.
    """
    if meta.status != "live":
        raise ProtocolError(ErrorCode.SESSION_ENDED, "the session has ended; audio is no longer accepted", seq=chunk.seq)
    if chunk.seq <= meta.last_seq:
        raise ProtocolError(ErrorCode.DUPLICATE_SEQ, f"seq {chunk.seq} was already accepted; ignored", seq=chunk.seq)
    expected = meta.last_seq + 1
    if chunk.seq != expected:
        raise ProtocolError(ErrorCode.SEQ_GAP, f"expected seq {expected}, got {chunk.seq}; resend from {expected}", seq=chunk.seq)
    frames = chunk.frames if chunk.frames is not None else len(chunk.pcm) // (2 * meta.channels)
    duration = frames / meta.sample_rate
    limits.session_length_check(audio_s=meta.audio_s, duration=duration, seq=chunk.seq)
    await limits.speed_check(session_id=meta.session_id, seq=chunk.seq, duration=duration, now=now)
    if await lifecycle.is_erased_async(meta.session_id):
        raise ProtocolError(ErrorCode.SESSION_ENDED, "this interview was erased; audio is no longer accepted",
                            seq=chunk.seq, fatal=True)
    # Durable first: the chunk is in the session's recording before anything can acknowledge it.
    keys = Keys(meta.session_id)
    client = state.async_client()
    encoding = session_encoding(meta)
    pcm = chunk.pcm
    if encoding == "opus":  # decoded once, here; the packets stay in Redis only to prime the next chunk's decoder
        previous = await client.hget(keys.raw, chunk.seq - 1) if chunk.seq > 0 else None
        try:
            pcm = await sync_to_async(recording.chunk_pcm, thread_sensitive=False)(
                chunk.pcm, previous, encoding=encoding, channels=meta.channels
            )
        except Exception as exc:  # a packet the decoder refuses: this chunk only, nothing stored
            raise ProtocolError(ErrorCode.BAD_AUDIO, f"seq {chunk.seq}: Opus packets could not be decoded",
                                seq=chunk.seq) from exc
    try:
        entry = await sync_to_async(recording.for_meta(meta).append, thread_sensitive=False)(chunk.seq, pcm)
    except recording.RecordingGap as exc:
        raise ProtocolError(ErrorCode.SEQ_GAP, str(exc), seq=chunk.seq) from exc
    if await lifecycle.is_erased_async(meta.session_id):  # erased while we wrote: leave nothing behind
        await sync_to_async(recording.for_meta(meta).delete, thread_sensitive=False)()
        raise ProtocolError(ErrorCode.SESSION_ENDED, "this interview was erased; audio is no longer accepted",
                            seq=chunk.seq, fatal=True)
    in_offset = entry.in_offset(meta.channels)
    # The raw chunk is not copied into Redis: preprocess reads it from the recording (Redis keeps only what
    # the stages derive from it, within LIVE_WINDOW_S).
    async with client.pipeline(transaction=True) as pipe:
        pipe.hset(keys.recv, chunk.seq, Arrival(wall=now, offset=in_offset).encode())
        pipe.hset(keys.meta, mapping={"last_seq": chunk.seq, "audio_s": repr(meta.audio_s + duration)})
        if encoding == "opus":
            pipe.hset(keys.raw, chunk.seq, chunk.pcm)
            pipe.hdel(keys.raw, chunk.seq - 2)
            pipe.expire(keys.raw, state.ttl())
        for key in (keys.recv, keys.meta):
            pipe.expire(key, state.ttl())
        limits.speed_record(pipe, session_id=meta.session_id, seq=chunk.seq, duration=duration, now=now)
        await pipe.execute()
    meta.last_seq = chunk.seq
    meta.audio_s += duration


async def delivered_mark(*, session_id: str, seq: int) -> None:
    await state.async_client().hset(Keys(session_id).meta, "delivered_seq", seq)


async def undelivered_events(*, session_id: str, after_seq: int) -> list[events.AudioProcessed]:
    """Rebuild the ``audio_processed`` events a resumed client missed (from the stored chunk results)."""
    client = state.async_client()
    keys = Keys(session_id)
    # Everything the last stage has finished, not only what publish announced: an event published to the
    # group just before this socket joined it would otherwise be lost (the consumer drops duplicates).
    ready, meta_raw = await client.hget(keys.cursor, "score"), await client.hmget(keys.meta, ["status", "end_seq"])
    upto = int(ready) if ready is not None else -1
    if meta_raw[0] is not None and meta_raw[0] != b"live" and meta_raw[1] is not None:
        upto = min(upto, int(meta_raw[1]))  # the flushed tail is announced by session_complete
    out: list[events.AudioProcessed] = []
    if upto <= after_seq:
        return out
    seqs = list(range(after_seq + 1, upto + 1))
    results = await client.hmget(keys.result, seqs)
    for s, raw in zip(seqs, results):
        if raw is None:
            continue
        data = state.decode_result(raw)
        out.append(events.audio_processed(seq=s, segments=data["segments"], partial=data["partial"], lag_ms=0,
                                          timings_ms=data["timings_ms"]))
    return out


# --- notes, evaluation, end ------------------------------------------------------------------------------------------
def _add_note(session_id: str, note: SpeakerNote, at: float) -> Note:
    return Note.objects.create(interview_id=session_id, at=at, text=note.text, kind=note.kind, speaker=note.speaker or "")


async def note_add(*, meta: SessionMeta, note: SpeakerNote) -> Note:
    """Store the note on the timeline and hand who-speaks-now evidence to the diarizer."""
    stored = await database_sync_to_async(_add_note)(meta.session_id, note, round(meta.audio_s, 3))
    if note.speaker is not None or note.kind == "question":
        keys = Keys(meta.session_id)
        hint: state.Hint = {"at": stored.at, "speaker": note.speaker, "kind": note.kind, "text": note.text[:500]}
        client = state.async_client()
        async with client.pipeline(transaction=False) as pipe:
            pipe.rpush(keys.hints, state.encode_hint(hint))
            pipe.expire(keys.hints, state.ttl())
            await pipe.execute()
    return stored


def _set_candidate(session_id: str, name: str) -> None:
    Interview.objects.filter(pk=session_id).update(candidate_name=name)


async def interview_candidate_set(*, meta: SessionMeta, name: str) -> None:
    """Store the candidate's name, which arrives in a ``session_info`` message, never in the URL."""
    await database_sync_to_async(_set_candidate)(meta.session_id, name)


async def evaluation_status(*, meta: SessionMeta, scope: str) -> events.EvaluationStatus:
    stats = await database_sync_to_async(selectors.transcript_stats)(meta.session_id)
    return events.evaluation_status(scope=scope, audio_s=meta.audio_s, **stats)


async def session_end_request(*, meta: SessionMeta) -> bool:
    """Mark the session as ending and queue its finalisation. False when it was already ending."""
    if meta.status != "live":
        return False
    meta.status = "ending"
    meta.end_seq = meta.last_seq
    client = state.async_client()
    await client.hset(Keys(meta.session_id).meta, mapping={"status": "ending", "end_seq": meta.end_seq})
    # Queued before the database is asked: with the database down the end must still be on its way (finalize
    # retries the outage and marks the row finalizing itself); a failed status write here is only logged.
    await sync_to_async(_send, thread_sensitive=False)("interview.finalize", meta.session_id,
                                                       errback_task="interview.finalize_failed")
    try:
        await database_sync_to_async(lifecycle.interview_finalizing)(session_id=meta.session_id)
    except DatabaseError as exc:
        logger.warning("interview %s: session_end while the database is unavailable (%s); finalize will mark it",
                       meta.session_id, type(exc).__name__)
    return True


async def evaluation_enqueue(*, meta: SessionMeta, scope: str) -> None:
    await sync_to_async(_send, thread_sensitive=False)("interview.evaluate", meta.session_id, scope, errback=False)


def _send(task_name: str, session_id: str, *args: Any, errback: bool = True,
          errback_task: str = "interview.chunk_failed") -> None:
    """Queue a pipeline task by name; its failures reach the client through ``errback_task``."""
    link_error = signature(errback_task, kwargs={"session_id": session_id}) if errback else None
    current_app.send_task(task_name, args=(session_id, *args), link_error=link_error)


# --- writes from the pipeline ----------------------------------------------------------------------------------------
def segments_commit(*, session_id: str, seq: int, segments: list[dict[str, Any]]) -> None:
    """Store newly committed segments; upsert on (interview, index) so a rerun writes nothing twice."""
    with transaction.atomic():
        for seg in segments:
            Segment.objects.update_or_create(
                interview_id=session_id,
                index=seg["id"],
                defaults={
                    "start": seg["start"],
                    "end": seg["end"],
                    "text": seg["text"],
                    "confidence": seg["confidence"],
                    "words": seg["words"],
                    "language": seg.get("language", ""),
                    "speaker": seg.get("speaker", ""),
                    "role": seg.get("role", Segment.Role.UNKNOWN),
                    "role_confidence": seg.get("role_confidence", 0.0),
                    "seq": seq,
                },
            )


def interview_complete(*, session_id: str, wav: bytes, duration_s: float, last_seq: int, detected_language: str) -> None:
    interview = Interview.objects.filter(pk=session_id).first()
    if interview is None or interview.status == Interview.Status.COMPLETED:
        return
    if interview.audio:
        interview.audio.delete(save=False)
    interview.audio.save(f"{session_id}.wav", ContentFile(wav), save=False)
    interview.duration_s = round(duration_s, 3)
    interview.last_seq = last_seq
    interview.detected_language = detected_language or ""
    interview.ended_at = timezone.now()
    interview.status = Interview.Status.COMPLETED
    interview.save()


def interview_republish_complete(*, session_id: str) -> None:
    """Announce ``session_complete`` (again: a late or resumed client gets the same event)."""
    interview = Interview.objects.filter(pk=session_id).first()
    if interview is None:
        return
    events.publish(session_id, events.session_complete(
        session_id=session_id, duration_s=interview.duration_s, segments=selectors.segment_payloads(session_id),
        report_url=report_url(session_id), report=report_summary(interview),
    ))


def processing_failed(*, session_id: str, seq: int | None, reason: str) -> None:
    """Record a pipeline failure and tell the client (the session keeps running)."""
    try:
        Interview.objects.filter(pk=session_id).update(error_message=reason[:2000])
    except DatabaseError as exc:  # the client is told all the same
        logger.warning("interview %s: failure not recorded (%s): %s", session_id, type(exc).__name__, reason)
    events.publish(session_id, events.error_message(
        code=ErrorCode.PROCESSING_FAILED, message="processing of the audio failed; the team has the details",
        fatal=False, seq=seq,
    ))
