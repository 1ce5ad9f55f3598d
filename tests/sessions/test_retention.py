"""Retention and erasure leave nothing behind: no rows, no audio files, no Redis keys.

Interviews are stored the way the pipeline stores them (segments, notes, answers, report, the WAV under
MEDIA_ROOT) and given live state in Redis through ``sessions.state``; then erased through the API, the
admin, the Celery task and the management command.
"""

from __future__ import annotations

import sys
from datetime import timedelta
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.utils import timezone

sys.path.insert(0, str(Path(__file__).resolve().parent / "api"))
from _api_fixtures import MOCK_EN, client_for, make_interview  # noqa: E402

from analysis.models import AnswerAnalysis  # noqa: E402
from scoring.models import InterviewReport  # noqa: E402
from sessions import state  # noqa: E402
from sessions.models import Interview, Note, Segment  # noqa: E402
from sessions.retention import interview_erase, interviews_purge_expired, purge_expired  # noqa: E402
from sessions.state import Keys, SessionMeta, resume_key  # noqa: E402

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(not MOCK_EN.exists(), reason="shared data not available"),
]


@pytest.fixture(autouse=True)
def _media(settings: Any, tmp_path: Path) -> None:
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def owner(django_user_model: Any) -> Any:
    return django_user_model.objects.create_user("owner")


def _with_live_state(interview: Interview) -> SessionMeta:
    session_id = str(interview.pk)
    meta = SessionMeta(session_id=session_id, language="en", sample_rate=16000, channels=1)
    client = state.sync_client()
    keys = Keys(session_id)
    client.hset(keys.meta, mapping=meta.to_redis())
    client.set(resume_key(meta.resume_token), session_id)
    client.hset(keys.raw, "0", b"\x00" * 640)
    client.hset(keys.result, "0", "{}")
    client.set(keys.lock("transcribe"), "1")
    return meta


def _leftovers(interview_id: str, meta: SessionMeta, media: Path) -> dict[str, Any]:
    client = state.sync_client()
    return {
        "rows": [m.__name__ for m, f in [(Interview, "pk"), (Segment, "interview_id"), (Note, "interview_id"),
                 (AnswerAnalysis, "interview_id"), (InterviewReport, "interview_id")]
                 if m.objects.filter(**{f: interview_id}).exists()],
        "keys": list(client.scan_iter(match=state.session_glob(str(interview_id)))) + (
            [b"resume"] if client.exists(resume_key(meta.resume_token)) else []),
        "files": [p.name for p in media.rglob("*") if p.is_file() and p.name.startswith(interview_id)],
    }  # fmt: skip


def _stored(owner: Any) -> tuple[Interview, SessionMeta]:
    interview = make_interview(owner)
    meta = _with_live_state(interview)
    return interview, meta


def test_erasure_removes_rows_files_and_keys(owner, settings):
    interview, meta = _stored(owner)
    media = Path(settings.MEDIA_ROOT)
    # A second copy the storage made for the same id (e.g. a re-run of the final pass): also erased.
    (media / "interviews" / f"{interview.pk}_Ab12Cd3.wav").write_bytes(b"RIFF")
    before = _leftovers(str(interview.pk), meta, media)
    assert len(before["rows"]) == 5 and len(before["keys"]) == 5 and len(before["files"]) == 2
    keeper, keeper_meta = _stored(owner)

    result = interview_erase(interview=interview)

    assert result.files == 2 and result.rows >= 5
    assert _leftovers(str(interview.pk), meta, media) == {"rows": [], "keys": [], "files": []}
    assert len(_leftovers(str(keeper.pk), keeper_meta, media)["files"]) == 1  # only that interview


def test_api_delete_is_erasure(owner, settings):
    interview, meta = _stored(owner)
    assert client_for(owner).delete(f"/api/interviews/{interview.pk}/").status_code == 204
    assert _leftovers(str(interview.pk), meta, Path(settings.MEDIA_ROOT)) == {"rows": [], "keys": [], "files": []}


def test_admin_delete_is_erasure(owner, settings, admin_client):
    interview, meta = _stored(owner)
    response = admin_client.post(
        "/admin/interview_sessions/interview/", {"action": "delete_selected", "_selected_action": [str(interview.pk)],
                                                 "post": "yes"},
    )  # fmt: skip
    assert response.status_code == 302
    assert _leftovers(str(interview.pk), meta, Path(settings.MEDIA_ROOT)) == {"rows": [], "keys": [], "files": []}


def test_retention_purge_erases_only_expired(owner, settings):
    settings.RETENTION_DAYS = 30
    old, old_meta = _stored(owner)
    recent, recent_meta = _stored(owner)
    Interview.objects.filter(pk=old.pk).update(started_at=timezone.now() - timedelta(days=31))
    Interview.objects.filter(pk=recent.pk).update(started_at=timezone.now() - timedelta(days=29))

    result = purge_expired.apply()  # the Celery task as beat runs it (eagerly)
    assert result.successful()
    counts = result.result

    assert counts["interviews"] == 1 and counts["files"] == 1
    media = Path(settings.MEDIA_ROOT)
    assert _leftovers(str(old.pk), old_meta, media) == {"rows": [], "keys": [], "files": []}
    assert len(_leftovers(str(recent.pk), recent_meta, media)["rows"]) == 5
    assert interviews_purge_expired(days=30).interviews == 0  # idempotent


def test_management_command_dry_run_then_purge(owner, settings):
    interview, meta = _stored(owner)
    Interview.objects.filter(pk=interview.pk).update(started_at=timezone.now() - timedelta(days=100))
    out = StringIO()
    call_command("purge_interviews", "--dry-run", stdout=out)
    assert out.getvalue().startswith("1 interview(s)") and Interview.objects.filter(pk=interview.pk).exists()
    out = StringIO()
    call_command("purge_interviews", "--days", "90", stdout=out)
    assert "erased 1 interview(s)" in out.getvalue()
    assert _leftovers(str(interview.pk), meta, Path(settings.MEDIA_ROOT)) == {"rows": [], "keys": [], "files": []}


def test_logs_carry_no_transcript_text(owner, caplog):
    caplog.set_level("DEBUG")
    interview, _ = _stored(owner)
    texts = list(Segment.objects.filter(interview=interview).values_list("text", flat=True))
    interview_erase(interview=interview)
    assert str(interview.pk) in caplog.text
    assert not any(text[:30] in caplog.text for text in texts) and interview.candidate_name not in caplog.text
