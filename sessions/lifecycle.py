"""A session's life: live → finalizing → completed, or abandoned / failed with a reason (docs/architecture.md).

Who moves a session:

* the consumer: ``live`` at start; ``finalizing`` at ``session_end`` (``interview_finalizing``; ``finalize``
  writes it again, for a ``session_end`` that met a database outage);
* the ``finalize`` task: ``completed`` once the recording, transcript and live report are stored, or
  ``failed`` (with the reason, audio kept) when it gives up;
* the sweeper (``interview.sweep_idle``, Celery beat): a ``live`` session without traffic for
  ``SESSION_IDLE_FINALIZE_S`` is finalised from its durable recording (a closed tab still yields transcript,
  scores and report); one without any audio becomes ``abandoned``; one that cannot be recovered ``failed``.

What is durable where: the audio in ``sessions.recording`` (from the first chunk), rows in the database,
the live working state (buffers, cursors, stage state) in Redis only. When Redis loses a session
(restart, eviction, failover) ``session_rebuild`` recreates its state from the database and the recording;
the stages then recompute from the recording (their DB writes are upserts), so nothing is lost or doubled.

Erasure leaves a tombstone (``erased_key``) that ``chunk_accept`` and finalize honour, so a live socket or a
running finalize cannot write an erased interview back.
"""

from __future__ import annotations

import hashlib
import json
import logging
import tempfile
import time
from dataclasses import dataclass
from datetime import timedelta
from typing import Literal

from django.conf import settings
from django.core.files import File
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from sessions import recording, selectors, state
from sessions.models import Interview
from sessions.state import Keys, SessionMeta, resume_key

logger = logging.getLogger(__name__)

ERASED_TTL_S = 7 * 24 * 3600


# --- tombstones ------------------------------------------------------------------------------------------------
erased_key = state.erased_key


def tombstone_set(*, session_id: str) -> None:
    """Written by erasure before anything is removed: late writers see it and stop."""
    state.sync_client().set(erased_key(session_id), "1", ex=ERASED_TTL_S)


is_erased = state.is_erased


async def is_erased_async(session_id: str) -> bool:
    return bool(await state.async_client().exists(erased_key(session_id)))


# --- resume tokens in the database -----------------------------------------------------------------------------
def resume_digest(token: str) -> str:
    """What the database keeps of a resume token (never the token itself)."""
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


# --- status transitions ----------------------------------------------------------------------------------------
OPEN = (Interview.Status.LIVE, Interview.Status.FINALIZING)


def interview_finalizing(*, session_id: str, reason: str = "") -> bool:
    """live → finalizing (a conditional update: false when the row is gone or already past live)."""
    fields: dict[str, object] = {"status": Interview.Status.FINALIZING}
    if reason:
        fields["end_reason"] = reason[:300]
    return bool(Interview.objects.filter(pk=session_id, status=Interview.Status.LIVE).update(**fields))


def interview_fail(*, session_id: str, reason: str) -> bool:
    """An open session → failed with its reason (the recording stays for an operator to inspect or replay)."""
    logger.error("interview %s failed: %s", session_id, reason)
    return bool(
        Interview.objects.filter(pk=session_id, status__in=OPEN).update(
            status=Interview.Status.FAILED, end_reason=reason[:300], ended_at=timezone.now()
        )
    )


def interview_abandon(*, session_id: str, reason: str) -> bool:
    return bool(
        Interview.objects.filter(pk=session_id, status__in=OPEN).update(
            status=Interview.Status.ABANDONED, end_reason=reason[:300], ended_at=timezone.now()
        )
    )


def interview_store_recording(*, session_id: str, meta: SessionMeta, end_seq: int, detected_language: str) -> bool:
    """Write the final WAV by streaming from the durable recording and mark the interview completed.

    Returns False (and writes nothing) when the interview was erased meanwhile. The row is changed with a
    conditional ``update``, never ``save()``, so an erased interview cannot be re-inserted.
    """
    rec = recording.for_meta(meta)
    last = rec.last_seq()
    if end_seq > last:
        raise recording.RecordingGap(f"session {session_id} ended at chunk {end_seq} but the recording stops at {last}")
    steps = tuple(s for s in settings.PREPROCESS_STEPS if s == "highpass")
    with tempfile.TemporaryFile() as handle:
        rec.write_wav(handle, steps=steps, keep_channels=meta.channels > 1, upto_seq=end_seq)
        handle.seek(0)
        interview = Interview.objects.filter(pk=session_id).first()
        if interview is None or is_erased(session_id):
            return False
        if interview.status == Interview.Status.COMPLETED:
            return True
        old = interview.audio.name if interview.audio else ""
        name = interview.audio.storage.save(f"interviews/{session_id}.wav", File(handle))
    duration = sum(e.length for e in rec.entries()[: end_seq + 1]) / (2 * meta.channels * meta.sample_rate)
    with transaction.atomic():
        updated = Interview.objects.filter(pk=session_id, status__in=OPEN).update(
            audio=name,
            duration_s=round(duration, 3),
            last_seq=end_seq,
            detected_language=detected_language or "",
            ended_at=timezone.now(),
            status=Interview.Status.COMPLETED,
        )
    if not updated or is_erased(session_id):
        interview.audio.storage.delete(name)
        return False
    if old and old != name:
        interview.audio.storage.delete(old)
    return True


# --- rebuilding live state ---------------------------------------------------------------------------------------
def session_rebuild(*, session_id: str, resume_token: str = "", delivered_seq: int = -1) -> SessionMeta | None:
    """Recreate a session's live state in Redis from the database and its durable recording.

    Stage cursors start over (the stages recompute from the recording; their writes are upserts); the
    publish cursor starts at ``delivered_seq`` so a client is not sent what it already has. Returns None when
    the session cannot be continued (erased, or already ended).
    """
    interview = Interview.objects.select_related("question_set").filter(pk=session_id).first()
    if interview is None or is_erased(session_id):
        return None
    if interview.status not in OPEN:
        return None
    rec = recording.Recording(session_id, sample_rate=interview.sample_rate, channels=interview.channels)
    entries = rec.entries()
    last_seq = len(entries) - 1
    finalizing = interview.status == Interview.Status.FINALIZING
    options = {"analysis_affect": interview.analysis_affect,
               "question_set": interview.question_set.slug if interview.question_set else None,
               "mode": interview.mode, "num_speakers": interview.num_speakers, "encoding": interview.encoding,
               "enroll_s": interview.enroll_s, "terms": selectors.interview_domain_terms(interview)}
    meta = SessionMeta(
        session_id=session_id,
        language=interview.language,
        sample_rate=interview.sample_rate,
        channels=interview.channels,
        status="ending" if finalizing else "live",
        last_seq=last_seq,
        end_seq=last_seq if finalizing else -1,
        audio_s=rec.frames(entries) / interview.sample_rate,
        started_wall=interview.started_at.timestamp(),
        delivered_seq=min(delivered_seq, last_seq),
        detected_language=interview.detected_language,
        owner_id=interview.owner_id or 0,
        options=json.dumps(options),
    )
    if resume_token:
        meta.resume_token = resume_token
    keys = Keys(session_id)
    client = state.sync_client()
    pipe = client.pipeline(transaction=True)
    pipe.delete(keys.cursor, keys.stt, keys.stage_state, keys.result)
    pipe.hset(keys.meta, mapping=meta.to_redis())
    pipe.hset(keys.meta, mapping={"seen_wall": repr(time.time()), LOST_NOTICE: "1"})
    pipe.expire(keys.meta, state.ttl())
    state.queue_epoch_new(pipe, session_id)  # a step that began on the lost state can no longer commit
    if meta.delivered_seq >= 0:
        pipe.hset(keys.cursor, "publish", meta.delivered_seq)
        pipe.expire(keys.cursor, state.ttl())
    pipe.execute()
    # The token's key has its own hash slot on a Redis Cluster: written after the session's own transaction.
    client.set(resume_key(meta.resume_token), session_id, ex=state.ttl())
    Interview.objects.filter(pk=session_id).update(resume_digest=resume_digest(meta.resume_token))
    logger.warning("interview %s: live state rebuilt from the recording (%d chunks)", session_id, last_seq + 1)
    return meta


LOST_NOTICE = "state_lost_notice"  # meta field: a client still has to be told that the live state was lost


async def lost_notice_take(*, session_id: str) -> bool:
    """True once after a rebuild: the first socket that gets this far tells its client (HDEL is atomic)."""
    return bool(await state.async_client().hdel(Keys(session_id).meta, LOST_NOTICE))


def session_for_token(token: str) -> str | None:
    """The open session a resume token belongs to, from the database (when Redis no longer knows it)."""
    row = Interview.objects.filter(resume_digest=resume_digest(token), status__in=OPEN).values_list("pk", flat=True).first()
    return str(row) if row is not None else None


def state_lost(session_id: str) -> bool:
    """True when Redis no longer holds the session's meta (restart, eviction, failover). A field written
    after the loss re-creates the hash, so the test is for a field only the session's start writes."""
    return not state.sync_client().hexists(Keys(session_id).meta, "session_id")


async def state_lost_async(session_id: str) -> bool:
    return not await state.async_client().hexists(Keys(session_id).meta, "session_id")


async def session_seen(*, session_id: str, now: float) -> None:
    """Any frame (audio, ping, note) is traffic: the sweeper leaves the session alone."""
    await state.async_client().hset(Keys(session_id).meta, "seen_wall", repr(now))


def last_traffic(interview: Interview) -> float:
    """Wall time of the session's last sign of life: a frame seen, a chunk stored, or its start."""
    times = [interview.started_at.timestamp()]
    seen = state.sync_client().hget(Keys(str(interview.pk)).meta, "seen_wall")
    if seen:
        times.append(float(seen))
    stored = recording.Recording(str(interview.pk), sample_rate=interview.sample_rate, channels=interview.channels).last_write()
    if stored:
        times.append(stored)
    return max(times)


# --- the sweeper ------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class SweepDecision:
    session_id: str
    action: Literal["finalize", "abandoned", "failed", "refinalize"]
    reason: str


def idle_sessions_sweep(*, now: float | None = None) -> list[SweepDecision]:
    """Decide (and record) what happens to every open session without traffic; the caller enqueues finalizes.

    * live, idle for ``SESSION_IDLE_FINALIZE_S``, with audio: marked ending and finalizing → ``finalize``;
    * live and idle without a single stored chunk: ``abandoned``;
    * finalizing for longer than ``FINALIZE_STUCK_S`` (a finalize lost with its worker): ``refinalize``;
      after ``FINALIZE_MAX_ATTEMPTS`` such attempts: ``failed`` with the reason, audio kept.
    """
    now = time.time() if now is None else now
    idle_s = settings.SESSION_IDLE_FINALIZE_S
    cutoff = timezone.now() - timedelta(seconds=idle_s)
    decisions: list[SweepDecision] = []
    candidates = Interview.objects.filter(Q(status__in=OPEN), started_at__lt=cutoff).order_by("started_at")
    for interview in candidates[:500]:
        session_id = str(interview.pk)
        idle = now - last_traffic(interview)
        if interview.status == Interview.Status.LIVE:
            if idle < idle_s:
                continue
            rec = recording.Recording(session_id, sample_rate=interview.sample_rate, channels=interview.channels)
            if rec.last_seq() < 0:
                reason = f"no audio was received; no traffic for {int(idle)} s"
                if interview_abandon(session_id=session_id, reason=reason):
                    state.delete_session(session_id)
                    decisions.append(SweepDecision(session_id, "abandoned", reason))
                continue
            reason = f"no session_end and no traffic for {int(idle)} s; finalised from the stored recording"
            if session_mark_ending(session_id=session_id, reason=reason) is not None:
                decisions.append(SweepDecision(session_id, "finalize", reason))
            continue
        # finalizing
        if idle < settings.FINALIZE_STUCK_S:
            continue
        client = state.sync_client()
        attempts = client.incr(state.session_key(session_id, "finalize_attempts"))
        client.expire(state.session_key(session_id, "finalize_attempts"), ERASED_TTL_S)
        if attempts > settings.FINALIZE_MAX_ATTEMPTS:
            reason = f"finalize did not finish after {attempts - 1} attempts; the recording is kept"
            if interview_fail(session_id=session_id, reason=reason):
                decisions.append(SweepDecision(session_id, "failed", reason))
            continue
        client.hset(Keys(session_id).meta, "seen_wall", repr(now))  # one retry per FINALIZE_STUCK_S
        decisions.append(SweepDecision(session_id, "refinalize", f"finalize attempt {attempts}"))
    return decisions


def session_mark_ending(*, session_id: str, reason: str = "") -> SessionMeta | None:
    """Ensure live state exists (rebuilding it if Redis lost it) and mark the session ending at its last chunk."""
    meta = state.load_meta(session_id)
    if meta is None:
        meta = session_rebuild(session_id=session_id)
        if meta is None:
            return None
    if meta.status == "live":
        end_seq = recording.for_meta(meta).last_seq()
        # A socket cut between a chunk's append and its Redis write leaves the recording one chunk ahead of
        # last_seq; the recording is the record, and the stages read no chunk past last_seq.
        last_seq = max(meta.last_seq, end_seq)
        state.update_meta(session_id, status="ending", end_seq=end_seq, last_seq=last_seq)
        meta.status, meta.end_seq, meta.last_seq = "ending", end_seq, last_seq
    interview_finalizing(session_id=session_id, reason=reason)
    return meta
