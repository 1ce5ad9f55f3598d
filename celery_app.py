"""The Celery application.

Production: ``celery -A celery_app worker -Q interviews``. The embedded default runs the same app on an
in-memory broker in a thread of the server process (see ``analysis.embedded``).
"""

from __future__ import annotations

import os

from celery import Celery
from celery.signals import worker_process_init

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "interview_project.settings")

app = Celery("interview")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks(["analysis"])


@worker_process_init.connect
def _warm_models(**_kwargs: object) -> None:
    """Load the speech models once per worker process, before the first chunk arrives."""
    from analysis.pipeline.worker_models import warm_up

    warm_up()
