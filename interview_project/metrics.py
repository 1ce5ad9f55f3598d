"""Prometheus metrics: their definitions, the small recording helpers the transports call, and the scrape.

One module owns every metric name so dashboards (deploy/grafana-dashboard.json) and code cannot drift.
Processes:

- daphne (one process) records WebSocket and acceptance metrics in its own registry;
- Celery workers (prefork children) record stage latencies in *multiprocess mode*: with
  ``PROMETHEUS_MULTIPROC_DIR`` set, every process writes its samples to files there and a scrape sums them
  (``prometheus_client.multiprocess``). Workers serve those at ``WORKER_METRICS_PORT`` (see
  ``interview_project.observability``); daphne's ``/metrics`` also includes them when both share the directory
  (one host, or one volume).
- Gauges that describe the whole deployment (live sessions, queue depth) are read from Redis at scrape time
  (``interview_project.health.DeploymentCollector``), so every daphne reports the same figure.

Labels are small closed sets (stage, close code, error code, guard reason, queue): never a session id.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Iterator
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.registry import Collector

logger = logging.getLogger(__name__)

STAGES = ("preprocess", "transcribe", "diarize", "analyze", "score", "publish")
QUEUES = ("interviews", "interviews_final", "interviews_slow")
# Stage tasks run from milliseconds (preprocess) to seconds (a Whisper decode under load).
STAGE_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 15.0, 30.0, 60.0)
LAG_BUCKETS = (100, 250, 500, 1000, 1500, 2000, 3000, 5000, 8000, 13000, 21000, 34000)
FINAL_BUCKETS = (1, 2, 5, 10, 20, 30, 60, 120, 300, 600, 1200, 1800)

WS_OPEN = Gauge("interview_ws_connections", "Open interview WebSockets in this process", multiprocess_mode="livesum")
WS_CONNECTS = Counter("interview_ws_connects", "WebSocket connections accepted", ["kind"])  # kind: new | resume
WS_CLOSES = Counter("interview_ws_closes", "WebSocket closes by close code", ["code"])
CHUNKS = Counter("interview_chunks_accepted", "Audio chunks accepted")
AUDIO_SECONDS = Counter("interview_audio_seconds", "Seconds of audio accepted")
STAGE_SECONDS = Histogram("interview_stage_seconds", "Time of one stage task", ["stage"], buckets=STAGE_BUCKETS)
TASK_RETRIES = Counter("interview_task_retries", "Stage tasks retried (a busy session lock or a transient error)", ["stage"])
LAG_MS = Histogram("interview_lag_ms", "From a chunk's acceptance to its audio_processed event", buckets=LAG_BUCKETS)
FINAL_SECONDS = Histogram("interview_final_pass_seconds", "Duration of a final pass", buckets=FINAL_BUCKETS)
FINALIZE_SECONDS = Histogram("interview_finalize_seconds", "Duration of a session's finalisation (end of live)",
                             buckets=FINAL_BUCKETS)
SUPPRESSED = Counter("interview_stt_suppressed", "Clips the hallucination guard suppressed", ["reason"])
STT_BATCH_SIZE = Histogram("interview_stt_batch_size", "Clips per batched decode of a -P threads worker (STT_BATCH)",
                           buckets=(1, 2, 3, 4, 6, 8, 12, 16, 24, 32))
ERRORS = Counter("interview_errors", "error_message events sent, by code", ["code"])
EVENTS = Counter("interview_events_published", "Server events published to a session's sockets", ["type"])


# The hallucination guard's reasons (analysis/stt/guard.py rejection_reason).
GUARD_REASONS = ("empty", "silence_phrase", "compression_ratio", "repetition", "no_speech", "low_logprob", "too_fast")

# Known label values start at 0 so dashboards and alerts see every series before its first event.
for _stage in STAGES:
    STAGE_SECONDS.labels(stage=_stage)
    TASK_RETRIES.labels(stage=_stage)
for _reason in GUARD_REASONS:
    SUPPRESSED.labels(reason=_reason)
for _kind in ("new", "resume"):
    WS_CONNECTS.labels(kind=_kind)


def multiprocess_dir() -> str:
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR", "")


# --- recording helpers (cheap; never raise into the caller) ------------------------------------------------
def ws_connected(*, resumed: bool) -> None:
    WS_OPEN.inc()
    WS_CONNECTS.labels(kind="resume" if resumed else "new").inc()


def ws_closed(code: int | None) -> None:
    WS_OPEN.dec()
    WS_CLOSES.labels(code=str(code if code is not None else "none")).inc()


def chunk_accepted(*, audio_s: float) -> None:
    CHUNKS.inc()
    AUDIO_SECONDS.inc(max(0.0, audio_s))


def stage_observed(stage: str, seconds: float) -> None:
    if stage in STAGES:
        STAGE_SECONDS.labels(stage=stage).observe(seconds)
    elif stage == "final_pass":
        FINAL_SECONDS.observe(seconds)
    elif stage == "finalize":
        FINALIZE_SECONDS.observe(seconds)


def stage_retried(stage: str) -> None:
    TASK_RETRIES.labels(stage=stage).inc()


def stt_suppressed(reasons: Iterable[str]) -> None:
    for reason in reasons:
        # reasons are the guard's slugs (analysis/stt/guard.py): a closed label set
        SUPPRESSED.labels(reason=reason[:40]).inc()


def stt_batch(size: int) -> None:
    STT_BATCH_SIZE.observe(size)


def error_sent(code: str) -> None:
    ERRORS.labels(code=code).inc()


def event_published(event: dict[str, Any]) -> None:
    """Called by the one event publisher: counts events, lag of audio_processed, errors by code."""
    kind = str(event.get("type", ""))
    EVENTS.labels(type=kind).inc()
    if kind == "audio_processed" and "lag_ms" in event:
        LAG_MS.observe(float(event["lag_ms"]))
    elif kind == "error_message":
        error_sent(str(event.get("code", "")))


# --- scrape ---------------------------------------------------------------------------------------------------
def registry() -> CollectorRegistry:
    """The registry a scrape reads: this process's metrics, or every process's in multiprocess mode."""
    if multiprocess_dir():
        reg = CollectorRegistry()
        multiprocess.MultiProcessCollector(reg)
        return reg
    return REGISTRY


def render(*extra: Collector) -> tuple[bytes, str]:
    """The exposition text of :func:`registry` plus ``extra`` collectors (read at scrape time)."""
    reg = registry()
    if extra:
        combined = CollectorRegistry(auto_describe=False)
        combined.register(_Merged(reg))
        for collector in extra:
            combined.register(collector)
        reg = combined
    return generate_latest(reg), CONTENT_TYPE_LATEST


class _Merged(Collector):
    def __init__(self, inner: CollectorRegistry) -> None:
        self.inner = inner

    def collect(self) -> Iterator[Any]:
        yield from self.inner.collect()


def mark_process_dead(pid: int) -> None:
    """Drop a finished process's live gauges (multiprocess mode); counters and histograms keep their sums."""
    if multiprocess_dir():
        multiprocess.mark_process_dead(pid)


