"""The embedded default: a Celery worker thread on the in-memory broker, inside the server process.

Only used when ``REDIS_URL`` is unset (``make run`` on a laptop). It runs the very same tasks as a real
worker; the in-memory broker is polled every 10 ms instead of kombu's default 1 s.
"""

from __future__ import annotations

import logging
import threading

from celery import worker as celery_worker
from celery.utils.nodenames import anon_nodename

from analysis.pipeline.worker_models import warm_up
from celery_app import app

logger = logging.getLogger(__name__)
_lock = threading.Lock()
_worker: celery_worker.WorkController | None = None
_thread: threading.Thread | None = None
_models = threading.Event()


def start_embedded_worker() -> None:
    global _worker, _thread
    with _lock:
        if _worker is not None:
            return
        app.finalize()
        app.set_current()
        app.set_default()
        controller = celery_worker.WorkController(
            app=app,
            concurrency=1,
            pool="solo",
            hostname=anon_nodename(),
            loglevel="WARNING",
            queues=[app.conf.task_default_queue, "interviews_final", "interviews_slow"],
            without_heartbeat=True,
            without_mingle=True,
            without_gossip=True,
        )
        thread = threading.Thread(target=controller.start, name="embedded-celery-worker", daemon=True)
        thread.start()
        _worker, _thread = controller, thread
        threading.Thread(target=_warm, name="model-warm-up", daemon=True).start()
        logger.info("embedded Celery worker started (in-memory broker)")


def _warm() -> None:
    warm_up()
    _models.set()


def worker_alive() -> bool:
    """Whether the embedded worker thread runs (readiness of the embedded default)."""
    return _thread is not None and _thread.is_alive()


def models_loaded() -> bool:
    return _models.is_set()

