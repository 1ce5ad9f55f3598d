"""Recorded interviews end to end: upload → whole-recording pass (real models) → report, progress, webhook.

The webhook goes to a local HTTP server and its HMAC signature is checked the way a receiver checks it.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import soundfile as sf
from bench.audioencode import encode
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient
from shareddata import DATA, manifest
from textnorm import error_rate

from analysis import recordings
from celery_app import app as celery_app
from scoring.models import InterviewReport
from sessions.models import Interview, RecordingImport
from sessions.webhooks import SIGNATURE_HEADER, verify

MOCK = DATA / "interviews" / "mock_interview_en.wav"
STEREO = DATA / "diarization" / "faster_whisper_stereo" / "stereo_diarization.wav"
SECRET = "test-webhook-secret-0123456789"
pytestmark = [pytest.mark.django_db, pytest.mark.skipif(not MOCK.exists(), reason="shared data not available")]


class _Receiver(BaseHTTPRequestHandler):
    received: list[dict[str, Any]]

    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.received.append({"body": body, "headers": dict(self.headers)})
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def webhook(settings: Any, tmp_path: Path) -> Iterator[list[dict[str, Any]]]:
    received: list[dict[str, Any]] = []
    handler = type("Receiver", (_Receiver,), {"received": received})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    settings.REPORT_WEBHOOK_URL = f"http://127.0.0.1:{server.server_address[1]}/hooks/report"
    settings.REPORT_WEBHOOK_SECRET = SECRET
    settings.PUBLIC_BASE_URL = "https://interviews.example.com"
    settings.MEDIA_ROOT = tmp_path / "media"
    eager = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = True  # the pass and the webhook run here, in order
    yield received
    celery_app.conf.task_always_eager = eager
    server.shutdown()


def _signed(received: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for hit in received:
        assert verify(hit["body"], hit["headers"][SIGNATURE_HEADER], SECRET), hit["headers"]
        assert not verify(hit["body"] + b" ", hit["headers"][SIGNATURE_HEADER], SECRET)
        out.append(json.loads(hit["body"]))
    return out


@pytest.mark.models
def test_uploaded_webm_becomes_a_scored_report_with_progress_and_a_signed_webhook(
    django_user_model: Any, webhook: list[dict[str, Any]], django_capture_on_commit_callbacks: Any,
    monkeypatch: pytest.MonkeyPatch, grant: Any,
) -> None:
    user = grant(django_user_model.objects.create_user("recruiter"), "interviewer")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")
    stages: list[str] = []
    progress = recordings.recording_progress
    monkeypatch.setattr(recordings, "recording_progress", lambda **kw: (stages.append(kw["stage"]), progress(**kw)))
    from analysis.models import QuestionSet

    QuestionSet.objects.get_or_create(slug="recordings-en", defaults={"name": "Recordings", "language": "en"})
    audio, sr = sf.read(MOCK, dtype="float32")
    upload = SimpleUploadedFile("mock_interview_en.webm", encode(audio, sr, "webm"), content_type="audio/webm")
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/api/interviews/", {"file": upload, "consent": "true", "language": "auto",
                                                    "question_set": "recordings-en"}, format="multipart")  # fmt: skip
    assert response.status_code == 202, response.content
    pk = response.json()["id"]

    interview = Interview.objects.get(pk=pk)
    recording = RecordingImport.objects.get(pk=pk)
    assert interview.status == Interview.Status.COMPLETED and interview.detected_language == "en"
    assert recording.stage == "done" and recording.progress == 1.0 and recording.finished_at is not None
    assert stages[:3] == ["transcribe", "diarize", "analyze"]
    reference = next(m for m in manifest("interviews") if m["path"] == MOCK.name)["text"]
    hypothesis = " ".join(s["text"] for s in interview.final_segments)
    assert error_rate(reference, hypothesis, "en") < 0.3, hypothesis
    assert {s["role"] for s in interview.final_segments} >= {"interviewer", "candidate"}
    report = InterviewReport.objects.get(interview=interview)
    assert report.report["stage"] == "final" and report.report["interview"]["status"] == "completed"

    detail = client.get(f"/api/interviews/{pk}/").json()
    assert detail["recording"]["stage"] == "done" and detail["status"] == "completed"
    assert detail["recording"]["webhook_status"] == "delivered 204"
    assert client.get(f"/api/interviews/{pk}/report.json").status_code == 200
    page = APIClient()
    page.force_login(user)
    assert page.get(f"/interviews/{pk}/report/").status_code == 200

    (notice,) = _signed(webhook)
    assert notice["event"] == "report.ready" and notice["interview_id"] == pk and notice["source"] == "upload"
    assert notice["overall"] == report.overall
    assert notice["report_url"] == f"https://interviews.example.com/interviews/{pk}/report/"


@pytest.mark.models
def test_import_recording_command_two_channel_roles_follow_the_channels(settings: Any, tmp_path: Path) -> None:
    settings.MEDIA_ROOT = tmp_path / "media"
    stereo, sr = sf.read(STEREO, dtype="float32", always_2d=True)
    path = tmp_path / "call.m4a"
    path.write_bytes(encode(stereo, sr, "m4a"))
    call_command("import_recording", str(path), "--consent", "--layout", "two_channel", "--language", "en")
    interview = Interview.objects.get()
    assert interview.status == Interview.Status.COMPLETED and interview.channels == 2
    by_role = {role: " ".join(s["text"] for s in interview.final_segments if s["role"] == role)
               for role in ("interviewer", "candidate")}  # fmt: skip
    assert "complaint" in by_role["interviewer"].lower(), by_role  # channel 0 (left)
    assert "horizon" in by_role["candidate"].lower(), by_role  # channel 1 (right)


def test_a_failed_pass_marks_the_interview_and_sends_a_signed_failure(
    webhook: list[dict[str, Any]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    django_capture_on_commit_callbacks: Any,
) -> None:
    def broken(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("diarizer exploded")

    monkeypatch.setattr(recordings, "final_pass", broken)
    audio, sr = sf.read(MOCK, dtype="float32")
    path = tmp_path / "short.mp3"
    path.write_bytes(encode(audio[: sr * 3], sr, "mp3"))
    with django_capture_on_commit_callbacks(execute=True), pytest.raises(CommandError):
        call_command("import_recording", str(path), "--consent", "--inline")
    interview = Interview.objects.get()
    assert interview.status == Interview.Status.FAILED and "diarizer exploded" in interview.error_message
    assert RecordingImport.objects.get(pk=interview.pk).stage == "failed"
    (notice,) = _signed(webhook)
    assert notice["event"] == "report.failed" and "diarizer exploded" in notice["error_message"]


def test_command_refusals(tmp_path: Path) -> None:
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"RIFF....WAVEfmt garbage" * 10)
    with pytest.raises(CommandError, match="consent"):
        call_command("import_recording", str(bad))
    with pytest.raises(CommandError, match="1 of 1"):
        call_command("import_recording", str(bad), "--consent")
    assert not Interview.objects.exists()


def test_webhook_signature_rejects_tampering_and_stale_timestamps() -> None:
    from sessions.webhooks import sign

    body = b'{"event":"report.ready"}'
    header = sign(body, SECRET, 1_700_000_000)
    assert verify(body, header, SECRET, now=1_700_000_100)
    assert not verify(body, header, SECRET, now=1_700_001_000)  # replayed later
    assert not verify(body, header, "another-secret", now=1_700_000_100)
    assert not verify(body.replace(b"ready", b"failed"), header, SECRET, now=1_700_000_100)
    assert not verify(body, "v1=deadbeef", SECRET)
