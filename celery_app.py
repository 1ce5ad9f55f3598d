"""The Celery application.

Production: ``celery -A celery_app worker -Q interviews``. The embedded default runs the same app on an
in-memory broker in a thread of the server process (see ``analysis.embedded``).
"""

from __future__ import annotations

import logging
import os
from typing import Any

from celery import Celery
from celery.signals import worker_init, worker_process_init

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


def gpu_pool_problem(*, device: str, pool: Any, concurrency: int) -> str | None:
    """Why this worker layout wastes a GPU, or None: every prefork child loads its own Whisper copy."""
    name = pool if isinstance(pool, str) else getattr(pool, "__module__", "") + "." + getattr(pool, "__name__", "")
    if device == "cuda" and "prefork" in name.lower() and concurrency > 1:
        return (
            f"WHISPER_DEVICE=cuda with a prefork pool of {concurrency} children loads {concurrency} model copies "
            "on the GPU; run one process per GPU: -P threads --concurrency=K with WHISPER_NUM_WORKERS=K "
            "(docs/stt.md, GPU)"
        )
    return None


@worker_init.connect
def _check_gpu_layout(sender: Any = None, **_kwargs: object) -> None:
    from django.conf import settings

    problem = gpu_pool_problem(
        device=settings.WHISPER_DEVICE, pool=getattr(sender, "pool_cls", ""), concurrency=getattr(sender, "concurrency", 1)
    )
    if problem:
        logger.warning(problem)


# Log context, stage metrics and monitoring for every task (signal handlers; imported after ``app`` exists).
# The submodule by its full name, not ``from interview_project import``: the package's __init__ imports this file.
import interview_project.observability as observability  # noqa: E402
