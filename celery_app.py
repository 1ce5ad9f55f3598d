"""The Celery application.

Production: ``celery -A celery_app worker -Q interviews``. The embedded default runs the same app on an
in-memory broker in a thread of the server process (see ``analysis.embedded``).
"""

from __future__ import annotations

import logging
import os
from typing import Any

from celery import Celery
from celery.signals import task_postrun, task_prerun, worker_init, worker_process_init

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "interview_project.settings")

logger = logging.getLogger(__name__)

app = Celery("interview")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks(["analysis"])


@worker_process_init.connect
def _warm_models(**_kwargs: object) -> None:
    """Load the speech models once per worker process, before the first chunk arrives."""
    from analysis.pipeline.worker_models import warm_up

    warm_up()
    observability.models_ready()


@task_prerun.connect
@task_postrun.connect
def _database_connections(**_kwargs: object) -> None:
    """Database connections: keep a healthy one across tasks, drop a broken or an old one.

    Celery's Django fix-up would close every connection after every task (``CELERY_DB_REUSE_MAX`` unset), so a
    live worker opened a MariaDB connection for each of the several database tasks per 250 ms chunk. With
    reuse on, this does what Django does around a request: close the connections that errored (a database
    outage: the retried task reconnects) or outlived ``CONN_MAX_AGE``; ``CONN_HEALTH_CHECKS`` pings a reused
    one before its first query.
    """
    from django.db import close_old_connections

    close_old_connections()


def gpu_pool_problem(*, device: str, pool: Any, concurrency: int) -> str | None:
    """Why this worker layout wastes a GPU, or None: every prefork child loads its own Whisper copy."""
    if device == "cuda" and forks_children(pool) and concurrency > 1:
        return (
            f"WHISPER_DEVICE=cuda with a prefork pool of {concurrency} children loads {concurrency} model copies "
            "on the GPU; run one process per GPU: -P threads --concurrency=K with WHISPER_NUM_WORKERS=K "
            "(docs/stt.md, GPU)"
        )
    return None


def forks_children(pool: Any) -> bool:
    name = pool if isinstance(pool, str) else getattr(pool, "__module__", "") + "." + getattr(pool, "__name__", "")
    return "prefork" in name.lower()


def layout_warnings(*, device: str, pool: Any, concurrency: int, device_index: list[int], speaker_device: str,
                    stt_batch: bool, num_workers: int) -> list[str]:
    """What in this worker's STT layout does not fit together (logged at start; docs/stt.md "GPU")."""
    warnings = []
    problem = gpu_pool_problem(device=device, pool=pool, concurrency=concurrency)
    if problem:
        warnings.append(problem)
    threads = bool(pool) and not forks_children(pool) and concurrency > 1
    if stt_batch and not threads:
        warnings.append("STT_BATCH=1 has no effect here: a worker process with one thread has nothing to batch "
                        "with; use -P threads --concurrency=K")
    if device == "cuda" and threads and not stt_batch:
        warnings.append(f"{concurrency} threads share one GPU model copy without STT_BATCH=1: each decode runs "
                        "alone (batching is most of a GPU's throughput)")
    if threads and num_workers > concurrency:
        warnings.append(f"WHISPER_NUM_WORKERS={num_workers} exceeds the {concurrency} threads that can call it")
    if device == "cuda" and speaker_device.startswith("cuda"):
        speaker_index = int(speaker_device.partition(":")[2] or 0)
        if speaker_index not in device_index:
            warnings.append(f"SPEAKER_DEVICE={speaker_device} is not one of this worker's Whisper GPUs "
                            f"(WHISPER_DEVICE_INDEX={','.join(map(str, device_index))}); pin the worker to its GPU "
                            "with CUDA_VISIBLE_DEVICES=i and leave both at index 0")
    return warnings


@worker_init.connect
def _check_gpu_layout(sender: Any = None, **_kwargs: object) -> None:
    from django.conf import settings

    from analysis.diarization.embeddings import speaker_device

    pool = getattr(sender, "pool_cls", "")
    if forks_children(pool):  # before the children fork: they share the cores (WHISPER_CPU_THREADS=0)
        from analysis.pipeline.worker_models import pool_processes_set

        pool_processes_set(getattr(sender, "concurrency", 1))
    for warning in layout_warnings(
        device=settings.WHISPER_DEVICE, pool=pool, concurrency=getattr(sender, "concurrency", 1),
        device_index=list(settings.WHISPER_DEVICE_INDEX), speaker_device=speaker_device(),
        stt_batch=settings.STT_BATCH, num_workers=settings.WHISPER_NUM_WORKERS,
    ):
        logger.warning(warning)
    if pool and not forks_children(pool):
        # -P threads / solo: no child process, so worker_process_init never fires; load the one model copy
        # here, before the pool takes tasks (its threads would otherwise race to load it on the first chunks)
        _warm_models()


# Log context, stage metrics and monitoring for every task (signal handlers; imported after ``app`` exists).
# The submodule by its full name, not ``from interview_project import``: the package's __init__ imports this file.
import interview_project.observability as observability  # noqa: E402
