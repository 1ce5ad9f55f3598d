"""Tasks of recorded interviews: the whole-recording pass on the ``interviews_final`` queue, and its errback.

Thin and id-only, like ``analysis.tasks``; the work is in ``analysis.recordings``.
"""

from __future__ import annotations

import logging
from typing import Any

from celery import shared_task
from django.db import transaction

from analysis import recordings
from analysis.tasks import COMMON

logger = logging.getLogger(__name__)


@shared_task(name="interview.recording_failed")
def recording_failed(request: Any, exc: Any, traceback: Any, interview_id: str) -> None:
    logger.error("recording pass of %s failed: %r", interview_id, exc)
    recordings.recording_failed(interview_id=interview_id, reason=f"{type(exc).__name__}: {exc}")


@shared_task(name="interview.import_recording", **{**COMMON, "soft_time_limit": 1800, "time_limit": 2000})
def import_recording(interview_id: str) -> None:
    recordings.recording_process(interview_id=interview_id)


def recording_enqueue(interview_id: str) -> None:
    """Queue the pass once the upload's rows are committed (routed to ``interviews_final`` by settings)."""
    signature = import_recording.si(str(interview_id)).on_error(recording_failed.s(interview_id=str(interview_id)))
    transaction.on_commit(signature.apply_async)
