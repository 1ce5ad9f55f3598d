"""Celery tasks: thin, id-only entry points to ``analysis.pipeline``.

One chain per accepted chunk: preprocess → transcribe → publish (later stages slot in before publish).
Signatures are immutable (``.si``): stages re-read what they need from Redis by (session, seq).
"""

from __future__ import annotations

import logging
from typing import Any

import redis
from celery import chain, shared_task
from celery.exceptions import SoftTimeLimitExceeded
from django.db import OperationalError

from analysis import live_stages, pipeline
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
    from sessions import services

    logger.error("pipeline failed for %s seq %s: %r", session_id, seq, exc)
    services.processing_failed(session_id=session_id, seq=seq, reason=f"{type(exc).__name__}: {exc}")


@shared_task(name="interview.preprocess", **COMMON)
def preprocess(session_id: str, seq: int) -> None:
    pipeline.chunk_preprocess(session_id, seq)


@shared_task(bind=True, name="interview.finalize", **{**COMMON, "soft_time_limit": 600, "time_limit": 900})
def finalize(self: Any, session_id: str) -> None:
    try:
        pipeline.session_finalize(session_id)
    except pipeline.StageBusy as exc:
        raise self.retry(exc=exc, countdown=0.2, max_retries=600) from exc
    except SoftTimeLimitExceeded:
        logger.error("finalising %s ran out of time", session_id)
        raise


def _ordered_task(name: str, runner: Any) -> Any:
    """An ordered stage as a task: a busy session lock means another worker is on it; retry shortly."""

    @shared_task(bind=True, name=f"interview.{name}", **COMMON)
    def task(self: Any, session_id: str, seq: int) -> None:
        try:
            runner(session_id, seq)
        except pipeline.StageBusy as exc:
            raise self.retry(exc=exc, countdown=0.05, max_retries=200) from exc

    return task


transcribe = _ordered_task("transcribe", pipeline.chunk_transcribe)
diarize = _ordered_task("diarize", live_stages.chunk_diarize)
analyze = _ordered_task("analyze", live_stages.chunk_analyze)
score = _ordered_task("score", live_stages.chunk_score)
publish = _ordered_task("publish", pipeline.chunk_publish)


@shared_task(name="interview.evaluate", **COMMON)
def evaluate(session_id: str, scope: str) -> None:
    from analysis.answers_service import evaluate as evaluate_service
    from sessions import events

    for event in evaluate_service(session_id=session_id, scope=scope):
        events.publish(session_id, event)  # type: ignore[arg-type]


@shared_task(name="interview.final_pass", **{**COMMON, "soft_time_limit": 1800, "time_limit": 2000})
def final_pass_task(session_id: str) -> None:
    from analysis.final import final_pass

    final_pass(session_id)
    report_ready_notify(interview_id=session_id)


def chunk_chain(session_id: str, seq: int) -> Any:
    return chain(
        preprocess.si(session_id, seq),
        transcribe.si(session_id, seq),
        diarize.si(session_id, seq),
        analyze.si(session_id, seq),
        score.si(session_id, seq),
        publish.si(session_id, seq),
    ).on_error(chunk_failed.s(session_id=session_id, seq=seq))


def enqueue_final_pass(session_id: str) -> None:
    """Re-run the final pass (the admin's action); the task replaces the final record."""
    final_pass_task.si(session_id).on_error(chunk_failed.s(session_id=session_id)).apply_async()


def enqueue_chunk(session_id: str, seq: int) -> None:
    chunk_chain(session_id, seq).apply_async()


def enqueue_finalize(session_id: str) -> None:
    finalize.si(session_id).on_error(chunk_failed.s(session_id=session_id)).apply_async()
