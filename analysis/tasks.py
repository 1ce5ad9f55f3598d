"""Celery tasks: thin, id-only entry points to ``analysis.pipeline``.

One chain per accepted chunk, built from ``STAGES`` (one task ``interview.<stage>`` per stage). Signatures
are immutable (``.si``): stages re-read what they need from Redis by (session, seq).
"""

from __future__ import annotations

import logging
from typing import Any

import redis
from celery import chain, shared_task
from celery.exceptions import SoftTimeLimitExceeded
from django.db import OperationalError

from analysis.pipeline.final_pass import final_pass
from analysis.pipeline.final_pass import final_pass_failed as final_pass_failed_record
from analysis.pipeline.finalize import session_finalize
from analysis.pipeline.runner import StageBusy
from analysis.pipeline.score import session_evaluate
from analysis.pipeline.stages import STAGES, Stage
from analysis import judge_service
from sessions import events, lifecycle, limits, locks, services, state
from sessions.state import Keys
from sessions.webhooks import report_ready_notify

logger = logging.getLogger(__name__)

TRANSIENT = (redis.ConnectionError, redis.TimeoutError, OperationalError)
COMMON: dict[str, Any] = {
    "acks_late": True,
    "reject_on_worker_lost": True,
    "autoretry_for": TRANSIENT,
    "retry_backoff": 0.5,
    "retry_backoff_max": 10,
    "retry_jitter": True,
    "max_retries": 5,
    "soft_time_limit": 120,
    "time_limit": 180,
}


@shared_task(name="interview.chunk_failed")
def chunk_failed(request: Any, exc: Any, traceback: Any, session_id: str, seq: int | None = None) -> None:
    """Errback of every chain: record the failure and tell the client; the session goes on."""
    logger.error("pipeline failed for %s seq %s: %r", session_id, seq, exc)
    services.processing_failed(session_id=session_id, seq=seq, reason=f"{type(exc).__name__}: {exc}")

# A chunk's stages wait out a database or Redis outage rather than fail the chunk: with the capped, jittered
# backoff above, 60 retries cover about 4 minutes (tests/reliability: MariaDB stopped for 60 s). A longer
# outage fails the chain; the next chunk's step or finalize then catches the stage up from its cursor.
STAGE_TRANSIENT_RETRIES = 60


def _stage_task(stage: Stage) -> Any:
    """A stage as a task; for an ordered stage a busy session lock means another worker is on it: retry soon."""

    @shared_task(bind=True, name=f"interview.{stage.name}", **{**COMMON, "max_retries": STAGE_TRANSIENT_RETRIES})
    def task(self: Any, session_id: str, seq: int) -> None:
        try:
            stage.run(session_id, seq)
        except StageBusy as exc:
            # Quick retries while another worker holds the stage; slower ones if its holder died, until the
            # lock expires (locks.LOCK_TTL_S) and this task takes over.
            raise self.retry(exc=exc, countdown=0.05 if self.request.retries < 40 else 0.5, max_retries=200) from exc

    return task


STAGE_TASKS: dict[str, Any] = {stage.name: _stage_task(stage) for stage in STAGES}


@shared_task(name="interview.final_pass", **{**COMMON, "soft_time_limit": 1800, "time_limit": 2000})
def final_pass_task(session_id: str) -> None:
    """Single-flight per session: a duplicate (redelivery, a second admin click) while one runs does nothing."""
    try:
        with locks.held(Keys(session_id).lock("final_pass")):
            final_pass(session_id)
    except locks.LockBusy:
        logger.info("final pass of %s is already running; duplicate dropped", session_id)
        return
    report_ready_notify(interview_id=session_id)  # the signed webhook, when configured (docs/recordings.md)


@shared_task(name="interview.final_pass_failed")
def final_pass_failed(request: Any, exc: Any, traceback: Any, session_id: str) -> None:
    """Errback of the final pass: the report stops saying "pending" (the live record stays valid)."""
    logger.error("final pass failed for %s: %r", session_id, exc)
    final_pass_failed_record(session_id=session_id, reason=f"{type(exc).__name__}: {exc}")


def enqueue_final_pass(session_id: str) -> None:
    """Queue the final pass (at the end of a session, and the admin's re-run); it replaces the final record."""
    final_pass_task.si(session_id).on_error(final_pass_failed.s(session_id=session_id)).apply_async()


@shared_task(bind=True, name="interview.finalize",
             **{**COMMON, "autoretry_for": (), "max_retries": None, "soft_time_limit": 600, "time_limit": 900})
def finalize(self: Any, session_id: str) -> None:
    """Single-flight per session (a lock renewed while it runs); a database or Redis outage at the end of a
    session is retried until it is over (capped backoff, no retry limit): an interview is never dropped."""
    try:
        session_finalize(session_id, enqueue_final_pass=enqueue_final_pass)
    except StageBusy as exc:
        # (max_retries=None here would mean "the task's default"; the task itself has no limit)
        raise self.retry(exc=exc, countdown=1.0 if self.request.retries > 20 else 0.2) from exc
    except TRANSIENT as exc:
        logger.warning("finalising %s waits for the database/Redis (%s); retrying", session_id, type(exc).__name__)
        raise self.retry(exc=exc, countdown=min(10.0, 0.5 * 2 ** min(self.request.retries, 5))) from exc
    except SoftTimeLimitExceeded:
        logger.error("finalising %s ran out of time", session_id)
        raise


@shared_task(name="interview.finalize_failed")
def finalize_failed(request: Any, exc: Any, traceback: Any, session_id: str) -> None:
    """Errback of finalize: the session ends ``failed`` with the reason; its recording is kept."""
    lifecycle.interview_fail(session_id=session_id, reason=f"finalize failed: {type(exc).__name__}: {exc}")
    chunk_failed(request, exc, traceback, session_id=session_id)


@shared_task(name="interview.sweep_idle", ignore_result=True)
def sweep_idle() -> dict[str, int]:
    """Beat entry point: finalise sessions nobody ended (docs/architecture.md, lifecycle)."""
    counts: dict[str, int] = {}
    for decision in lifecycle.idle_sessions_sweep():
        counts[decision.action] = counts.get(decision.action, 0) + 1
        if decision.action in ("finalize", "refinalize"):
            enqueue_finalize(decision.session_id)
    return counts


@shared_task(name=judge_service.TASK_NAME, **{**COMMON, "soft_time_limit": 60, "time_limit": 90})
def answer_judge(session_id: str, index: int) -> None:
    """The LLM judgement of one live answer (queue ``interviews_slow``): stored, then pushed on its own."""
    for event in judge_service.answer_judge(session_id=session_id, index=index):
        events.publish(session_id, event)


@shared_task(name="interview.evaluate", **COMMON)
def evaluate(session_id: str, scope: str) -> None:
    try:
        for event in session_evaluate(session_id, scope):
            events.publish(session_id, event)
    finally:
        limits.evaluation_release(session_id=session_id)  # the session may ask again


# Broker priorities of a chunk's tasks (Redis: 0 is taken first, kombu's steps are 0, 3, 6, 9; tasks without
# one, finalize included, are 0). A chain already under way finishes before the next chunks start: the cheap
# stages after transcribe (diarize .. publish, ~25 ms together) go first, then a transcribe step, then a new
# chunk's preprocess. In FIFO order each of a commit's five hops after its decode waited behind every other
# session's queued decodes (commit p95 of 4 sessions on 2 cores: docs/stt.md, "Capacity bench"). Within one
# priority the queue stays FIFO, so sessions still take turns; a retried task keeps its priority.
STAGE_PRIORITY: dict[str, int] = {"preprocess": 6, "transcribe": 3}


def chunk_chain(session_id: str, seq: int) -> Any:
    return chain(*(
        STAGE_TASKS[stage.name].si(session_id, seq).set(priority=STAGE_PRIORITY.get(stage.name, 0))
        for stage in STAGES
    )).on_error(chunk_failed.s(session_id=session_id, seq=seq))


def enqueue_chunk(session_id: str, seq: int) -> None:
    """Queue a chain for an accepted chunk, unless one queued earlier has not begun transcribing yet.

    Every ordered stage handles all the chunks accepted up to the moment it starts (``run_ordered``), so that
    earlier chain will take this chunk too. On an idle worker each chunk still gets its own chain; on a busy
    one the chunks that arrive while it is behind share one, and the per-task cost (six Celery tasks,
    their Redis round trips and locks) no longer grows with the backlog it is meant to clear.
    """
    if state.chain_claim(session_id):
        chunk_chain(session_id, seq).apply_async()


def enqueue_finalize(session_id: str) -> None:
    finalize.si(session_id).on_error(finalize_failed.s(session_id=session_id)).apply_async()
