"""``POST /api/interviews/``: every accepted format (real speech encoded in the test), refusals that store
nothing, access, and the progress the API shows. The whole pass itself: tests/analysis/test_recordings.py.
"""

from __future__ import annotations

import io
import json
import os
from pathlib import Path
from typing import Any

import pytest
import soundfile as sf
from _api_fixtures import MOCK_EN, client_for
from bench.audioencode import FORMATS, encode
from django.core.files.uploadedfile import SimpleUploadedFile

from analysis.models import QuestionSet
from sessions.api import uploads
from sessions.models import Interview, Note, RecordingImport

pytestmark = [pytest.mark.django_db, pytest.mark.skipif(not MOCK_EN.exists(), reason="shared data not available")]


@pytest.fixture(scope="module")
def clip() -> tuple[Any, int]:
    audio, sr = sf.read(MOCK_EN, dtype="float32")
    return audio[: sr * 5], sr


@pytest.fixture
def queued(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The ids the view queues (the pass itself is tested elsewhere)."""
    ids: list[str] = []
    monkeypatch.setattr(uploads, "recording_enqueue", ids.append)
    return ids


def _post(user: Any, data: bytes, name: str, **fields: Any) -> Any:
    body = {"file": SimpleUploadedFile(name, data), "consent": "true", **fields}
    return client_for(user).post("/api/interviews/", body, format="multipart")


def _media_files(settings: Any) -> list[Path]:
    root = Path(settings.MEDIA_ROOT)
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


@pytest.fixture
def shared_set() -> QuestionSet:
    """A shared question set of our own (the seeded ones do not survive a transactional test's flush)."""
    return QuestionSet.objects.get_or_create(slug="uploads-en", defaults={"name": "Uploads", "language": "en"})[0]


@pytest.mark.parametrize("suffix", sorted(FORMATS))
def test_every_accepted_format_is_stored_and_queued(users, clip, queued, settings, suffix, shared_set):
    hints = [{"at": 0.5, "speaker": "interviewer"}, {"at": 2.0, "kind": "question", "text": "Tell me about you"}]
    response = _post(users["owner"], encode(*clip, suffix), f"interview.{suffix}", language="en",
                     candidate_name="Kim", question_set=shared_set.slug, hints=json.dumps(hints))  # fmt: skip
    assert response.status_code == 202, response.content
    body = response.json()
    interview = Interview.objects.get(pk=body["id"])
    assert response["Location"] == f"/api/interviews/{interview.pk}/"
    assert queued == [str(interview.pk)]
    assert interview.owner == users["owner"] and interview.status == Interview.Status.FINALIZING
    assert interview.language == "en" and interview.candidate_name == "Kim" and interview.consent
    assert interview.question_set == shared_set
    assert abs(interview.duration_s - 5.0) < 0.1
    stored, sr = sf.read(interview.audio.path, dtype="float32", always_2d=True)
    assert sr == 16000 and stored.shape[1] == 1 and abs(len(stored) / sr - 5.0) < 0.1
    recording = RecordingImport.objects.get(interview=interview)
    assert recording.filename == f"interview.{suffix}" and recording.stage == "queued"
    assert body["recording"]["stage"] == "queued" and body["recording"]["codec"] == recording.codec
    notes = list(Note.objects.filter(interview=interview).order_by("at"))
    assert [(n.at, n.speaker, n.kind) for n in notes] == [(0.5, "interviewer", "note"), (2.0, "", "question")]
    detail = client_for(users["owner"]).get(f"/api/interviews/{interview.pk}/").json()
    assert detail["recording"]["stage"] == "queued" and detail["status"] == "finalizing"


@pytest.mark.parametrize("case", ["random", "truncated", "image", "empty"])
def test_corrupt_or_unsupported_files_are_refused_and_nothing_is_stored(users, clip, queued, settings, case):
    m4a = encode(*clip, "m4a")
    png = (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x02\x00\x00\x00\x90wS\xde"
           b"\x00\x00\x00\x0cIDATx\x9cc\xf8\x0f\x00\x00\x01\x01\x00\x05\x18\xd8N\x00\x00\x00\x00IEND\xaeB`\x82")
    data = {"random": os.urandom(30_000), "truncated": m4a[: len(m4a) // 3], "image": png, "empty": b""}[case]
    response = _post(users["owner"], data, "interview.m4a")
    assert response.status_code == 400, response.content
    body = response.json()
    if case == "empty":
        assert "empty" in body["file"][0]  # DRF's own check, before decoding
    else:
        assert body["code"] in {"corrupt", "unsupported_format", "no_audio"} and body["detail"], body
    assert not Interview.objects.exists() and not RecordingImport.objects.exists() and not Note.objects.exists()
    assert _media_files(settings) == [] and queued == []


def test_form_errors(users, clip, queued, settings):
    wav = encode(*clip, "wav")
    cases = [
        ({"consent": "false"}, "consent"),
        ({"language": "fr"}, "language"),
        ({"layout": "quad"}, "layout"),
        ({"question_set": "nope"}, "question_set"),
        ({"hints": "[{"}, "hints"),
        ({"hints": json.dumps([{"at": 99.0, "speaker": "candidate"}])}, None),  # beyond the 5 s recording
    ]
    for fields, field in cases:
        response = _post(users["owner"], wav, "a.wav", **fields)
        assert response.status_code == 400, (fields, response.content)
        if field:
            assert field in response.json(), response.json()
    response = client_for(users["owner"]).post("/api/interviews/", {"consent": "true"}, format="multipart")
    assert response.status_code == 400 and "file" in response.json()
    settings.RECORDING_MAX_BYTES = 1000
    assert _post(users["owner"], wav, "a.wav").status_code == 413
    assert not Interview.objects.exists() and _media_files(settings) == [] and queued == []


def test_two_channel_layout(users, queued):
    stereo_path = MOCK_EN.parents[1] / "diarization" / "faster_whisper_stereo" / "stereo_diarization.wav"
    stereo, sr = sf.read(stereo_path, dtype="float32", always_2d=True)
    response = _post(users["owner"], encode(stereo, sr, "mp4"), "call.mp4", layout="two_channel")
    assert response.status_code == 202, response.content
    interview = Interview.objects.get(pk=response.json()["id"])
    assert interview.channels == 2 and sf.info(interview.audio.path).channels == 2
    mono, sr = sf.read(MOCK_EN, dtype="float32")
    response = _post(users["owner"], encode(mono[: sr * 3], sr, "wav"), "mono.wav", layout="two_channel")
    assert response.status_code == 400 and response.json()["code"] == "layout_mismatch"


def test_uploads_need_an_account_and_stay_private(users, clip, queued):
    wav = encode(*clip, "wav")
    anon = _post(None, wav, "a.wav")
    assert anon.status_code == 401
    assert _post(users["reviewer"], wav, "a.wav").status_code == 403  # reviewing is not running interviews
    own = _post(users["owner"], wav, "a.wav").json()["id"]
    assert client_for(users["other"]).get(f"/api/interviews/{own}/").status_code == 404
    assert client_for(users["staff"]).get(f"/api/interviews/{own}/").status_code == 200
    others_set = QuestionSet.objects.create(slug="private-set", name="private", language="en", owner=users["other"])
    response = _post(users["owner"], wav, "a.wav", question_set=others_set.slug)
    assert response.status_code == 400 and "question_set" in response.json()


def test_schema_documents_the_upload(users):
    from django.test import Client

    client = Client()
    client.force_login(users["staff"])
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/json")
    if schema.status_code != 200:
        pytest.skip("schema route not exposed")
    doc = json.loads(schema.content) if schema["Content-Type"].startswith("application/json") else None
    if doc is None:
        import yaml

        doc = yaml.safe_load(io.BytesIO(schema.content))
    post = doc["paths"]["/api/interviews/"]["post"]
    assert "multipart/form-data" in post["requestBody"]["content"] and "202" in post["responses"]


def test_report_page_shows_the_progress_of_an_upload(users, clip, queued):
    from django.test import Client

    pk = _post(users["owner"], encode(*clip, "mp3"), "call.mp3").json()["id"]
    RecordingImport.objects.filter(pk=pk).update(stage="diarize", progress=0.5)
    page = Client()
    page.force_login(users["owner"])
    html = page.get(f"/interviews/{pk}/report/").content.decode()
    assert 'id="recording-progress"' in html and "separating speakers" in html and "50 %" in html
    assert 'http-equiv="refresh"' in html
    RecordingImport.objects.filter(pk=pk).update(stage="failed", error_message="RuntimeError: boom")
    Interview.objects.filter(pk=pk).update(status="failed")
    html = page.get(f"/interviews/{pk}/report/").content.decode()
    assert "could not be analysed: RuntimeError: boom" in html and 'http-equiv="refresh"' not in html
