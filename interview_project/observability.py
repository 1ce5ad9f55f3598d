"""Worker-side observability wired through Celery signals: log context, stage metrics, monitoring, readiness.

Connected by ``celery_app`` in every process that runs the app (workers and the embedded worker thread).
The stage tasks stay untouched: a task named ``interview.<stage>`` with ``(session_id, seq)`` arguments gets
its log context bound, its duration observed (``interview_stage_seconds``) and its session's monitoring
record updated. Workers also serve their metrics (multiprocess mode) and announce loaded models.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from typing import Any

from celery.signals import (
    celeryd_init,
    task_postrun,
    task_prerun,
    task_retry,
    worker_process_init,
    worker_process_shutdown,
    worker_ready,
    worker_shutdown,
)
from django.conf import settings

import interview_project.logs as logs
import interview_project.metrics as metrics
from sessions import monitor, state

logger = logging.getLogger(__name__)

MODELS_READY_KEY = f"{state.PREFIX}:workers:models"
"""Hash: worker node name → time its processes finished loading the models (read by /readyz)."""
MODELS_HEARTBEAT_S = 10.0
_started: dict[str, tuple[float, Any]] = {}
_nodename = ""


def _stage(task: Any) -> str:
    name = getattr(task, "name", "") or ""
    return name.split(".", 1)[1] if name.startswith("interview.") else name


def _session_args(args: Any, kwargs: Any) -> tuple[str | None, int | None]:
    args = list(args or [])
    kwargs = dict(kwargs or {})
    session_id = kwargs.get("session_id", args[0] if args else None)
    seq = kwargs.get("seq", args[1] if len(args) > 1 and isinstance(args[1], int) else None)
    return (str(session_id) if session_id is not None else None), seq


@task_prerun.connect
def _task_started(task_id: str = "", task: Any = None, args: Any = None, kwargs: Any = None, **_: Any) -> None:
    session_id, seq = _session_args(args, kwargs)
    token = logs.bind(task_id=task_id, stage=_stage(task), session_id=session_id, seq=seq, node=_nodename or None)
    _started[task_id] = (time.perf_counter(), token)


@task_postrun.connect
def _task_finished(task_id: str = "", task: Any = None, args: Any = None, kwargs: Any = None, **extra: Any) -> None:
    started, token = _started.pop(task_id, (None, None))
    try:
        if started is None or extra.get("state") != "SUCCESS":  # retries and failures are counted elsewhere
            return
        seconds = time.perf_counter() - started
        stage = _stage(task)
        metrics.stage_observed(stage, seconds)
        session_id, _seq = _session_args(args, kwargs)
        if session_id and stage in metrics.STAGES:
            worker = getattr(getattr(task, "request", None), "hostname", None) or _nodename or monitor.node_name()
            try:
                monitor.stage_done(session_id=session_id, stage=stage, seconds=seconds, worker=worker)
            except Exception as exc:  # monitoring never fails a stage
                logger.warning("monitoring update failed: %s", type(exc).__name__)
    finally:
        if token is not None:
            logs.reset(token)
        else:
            logs.clear()


@task_retry.connect
def _task_retried(sender: Any = None, **_: Any) -> None:
    metrics.stage_retried(_stage(sender))


def event_published(session_id: str, event: dict[str, Any]) -> None:
    """Called by the one event publisher (``sessions.events.publish``)."""
    metrics.event_published(event)
    try:
        monitor.event_sent(session_id=session_id, event=event)
    except Exception as exc:
        logger.warning("monitoring update failed: %s", type(exc).__name__)


# --- worker processes ------------------------------------------------------------------------------------------
@celeryd_init.connect
def _remember_nodename(sender: str = "", **_: Any) -> None:
    global _nodename
    _nodename = sender or ""


@worker_ready.connect
def _serve_worker_metrics(sender: Any = None, **_: Any) -> None:
    """The worker's main process serves the metrics of all its processes (multiprocess mode)."""
    global _nodename
    _nodename = getattr(sender, "hostname", "") or _nodename
    if settings.WORKER_METRICS_PORT:
        from prometheus_client import start_http_server

        start_http_server(settings.WORKER_METRICS_PORT, registry=metrics.registry())
        logger.info("worker metrics on :%d", settings.WORKER_METRICS_PORT)


def models_ready() -> None:
    """Announce that this worker node's models are loaded (a child process finished its warm-up), and keep
    announcing it every MODELS_HEARTBEAT_S: the record then survives a Redis restart and goes stale (so
    /readyz stops trusting it) when the node dies without a clean shutdown."""
    if not _nodename or settings.EMBEDDED:
        return
    threading.Thread(target=_models_heartbeat, name="models-ready", daemon=True).start()


def _models_heartbeat() -> None:
    while True:
        try:
            state.sync_client().hset(MODELS_READY_KEY, _nodename, time.time())
        except Exception as exc:  # Redis away: /readyz says so on its own; try again later
            logger.warning("could not record model readiness: %s", type(exc).__name__)
        time.sleep(MODELS_HEARTBEAT_S)


def models_ready_nodes(*, now: float | None = None) -> set[str]:
    """Worker nodes whose models were announced within the last three heartbeats (read by the probe client)."""
    now = time.time() if now is None else now
    raw = state.probe_client().hgetall(MODELS_READY_KEY)
    return {k.decode() for k, v in raw.items() if now - float(v) < 3 * MODELS_HEARTBEAT_S}


@worker_process_init.connect
def _child_started(**_: Any) -> None:
    logs.clear()


@worker_process_shutdown.connect
def _child_stopped(pid: int | None = None, **_: Any) -> None:
    metrics.mark_process_dead(pid or os.getpid())


@worker_shutdown.connect
def _worker_stopped(**_: Any) -> None:
    if _nodename and not settings.EMBEDDED:
        try:
            state.sync_client().hdel(MODELS_READY_KEY, _nodename)
        except Exception:
            pass
