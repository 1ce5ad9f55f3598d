"""Data protection: erasure of one interview everywhere, and the periodic purge of expired interviews.

Why one function: an interview leaves copies in three places (database rows, the audio file under
MEDIA_ROOT, live state in Redis). The API's DELETE, the admin's delete and the retention purge all call
``interview_erase`` so none of them can forget a copy. Logs carry ids and counts only, never transcript
text, names or tokens.

The purge runs as the Celery task ``interview.purge_expired`` (beat schedule in settings) and as
``manage.py purge_interviews``; both remove interviews started more than ``RETENTION_DAYS`` days ago.
"""

from __future__ import annotations

import logging
import posixpath
from dataclasses import dataclass
from datetime import datetime, timedelta

from celery import shared_task
from django.conf import settings
from django.core.files.storage import Storage
from django.db import transaction
from django.utils import timezone

from sessions import lifecycle, recording, state
from sessions.models import Interview

logger = logging.getLogger(__name__)

AUDIO_DIR = "interviews"
"""Where ``Interview.audio`` files live in the storage (the field's ``upload_to``)."""


@dataclass(frozen=True)
class ErasureResult:
    interview_id: str
    files: int
    keys: int
    rows: int


@dataclass(frozen=True)
class PurgeResult:
    cutoff: datetime
    interviews: int
    files: int
    keys: int
    rows: int


def _erase_files(interview: Interview) -> int:
    """The audio file plus any sibling the storage created for the same id (``<id>_<suffix>.wav``)."""
    storage: Storage = interview.audio.storage
    names: set[str] = set()
    if interview.audio and interview.audio.name:
        names.add(interview.audio.name)
    prefix = str(interview.pk)
    try:
        _dirs, files = storage.listdir(AUDIO_DIR)
    except (FileNotFoundError, NotImplementedError):
        files = []
    names.update(posixpath.join(AUDIO_DIR, f) for f in files if f.startswith(prefix))
    removed = 0
    for name in names:
        if storage.exists(name):
            storage.delete(name)
            removed += 1
    return removed


def _erase_live_state(session_id: str) -> int:
    """Every Redis key of the session: the named ones, the resume token, and stage locks."""
    client = state.sync_client()
    before = sum(1 for _ in client.scan_iter(match=state.session_glob(session_id), count=500))
    state.delete_session(session_id)
    leftovers = list(client.scan_iter(match=state.session_glob(session_id), count=500))
    if leftovers:
        client.delete(*leftovers)
    return before


def interview_erase(*, interview: Interview) -> ErasureResult:
    """Remove the interview and every copy of its data: Redis state, audio files, then the rows.

    Rows go last and in one transaction: a failure while removing files leaves the row, so a retry can
    still find what is left to erase. Segments, notes, answers and the report cascade with the interview.
    """
    session_id = str(interview.pk)
    lifecycle.tombstone_set(session_id=session_id)  # a live socket or a running finalize stops writing
    keys = _erase_live_state(session_id)
    files = _erase_files(interview)
    files += recording.Recording(session_id, sample_rate=interview.sample_rate, channels=interview.channels).delete()
    with transaction.atomic():
        rows, _ = Interview.objects.filter(pk=interview.pk).delete()
    logger.info("interview %s erased (%d rows, %d files, %d live keys)", session_id, rows, files, keys)
    return ErasureResult(interview_id=session_id, files=files, keys=keys, rows=rows)


def retention_cutoff(*, now: datetime | None = None, days: int | None = None) -> datetime:
    days = settings.RETENTION_DAYS if days is None else days
    if days < 0:
        raise ValueError("retention days cannot be negative")
    return (now or timezone.now()) - timedelta(days=days)


def expired_interviews(*, cutoff: datetime) -> list[Interview]:
    return list(Interview.objects.filter(started_at__lt=cutoff).order_by("started_at"))


def interviews_purge_expired(*, now: datetime | None = None, days: int | None = None) -> PurgeResult:
    """Erase every interview started before the retention cutoff (one at a time, so each is complete)."""
    cutoff = retention_cutoff(now=now, days=days)
    files = keys = rows = count = 0
    for interview in expired_interviews(cutoff=cutoff):
        result = interview_erase(interview=interview)
        files, keys, rows, count = files + result.files, keys + result.keys, rows + result.rows, count + 1
    logger.info("retention purge before %s: %d interviews, %d rows, %d files", cutoff.isoformat(), count, rows, files)
    return PurgeResult(cutoff=cutoff, interviews=count, files=files, keys=keys, rows=rows)


@shared_task(name="interview.purge_expired", ignore_result=True)
def purge_expired() -> dict[str, int]:
    """Beat entry point; returns counts only (nothing personal travels through the broker)."""
    result = interviews_purge_expired()
    return {"interviews": result.interviews, "rows": result.rows, "files": result.files, "keys": result.keys}
