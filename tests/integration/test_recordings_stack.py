"""A recorded interview on the production shape: upload to daphne over HTTP, the pass in the separate
Celery worker (queue ``interviews_final``) on Redis and MariaDB, progress polled through the API."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from typing import Any

import pytest
import soundfile as sf
from bench.audioencode import encode
from shareddata import DATA, REPO, manifest
from textnorm import error_rate

pytestmark = [pytest.mark.integration, pytest.mark.models]
MOCK = DATA / "interviews" / "mock_interview_en.wav"


def _manage(live_stack: dict[str, Any], *args: str) -> str:
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "interview_project.settings",
           "DATABASE_URL": f"mysql://root@127.0.0.1:3306/{live_stack['db']}", "REDIS_URL": live_stack["redis_url"],
           "MEDIA_ROOT": str(live_stack["media"]), "DJANGO_SUPERUSER_PASSWORD": "it-password-not-used"}  # fmt: skip
    done = subprocess.run([sys.executable, "manage.py", *args], cwd=REPO, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return done.stdout


def _request(url: str, token: str, *, data: bytes | None = None, content_type: str = "") -> tuple[int, Any]:
    headers = {"Authorization": f"Token {token}", "Origin": url.split("/api/")[0]}
    if content_type:
        headers["Content-Type"] = content_type
    request = urllib.request.Request(url, data=data, headers=headers, method="POST" if data is not None else "GET")
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"null")


def _multipart(fields: dict[str, str], filename: str, payload: bytes) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    parts = [f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode() for k, v in fields.items()]
    parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{filename}"\r\n'
                 f"Content-Type: application/octet-stream\r\n\r\n".encode() + payload + b"\r\n")  # fmt: skip
    return b"".join(parts) + f"--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}"


def test_upload_is_analysed_by_the_worker_with_progress_in_the_api(live_stack: dict[str, Any]) -> None:
    username = f"it-{uuid.uuid4().hex[:8]}"
    _manage(live_stack, "createsuperuser", "--noinput", "--username", username, "--email", f"{username}@example.com")
    token = _manage(live_stack, "drf_create_token", username).split()[2]
    base = live_stack["http"]

    body, content_type = _multipart({"consent": "true", "language": "auto"}, "garbage.m4a", os.urandom(20_000))
    status, refused = _request(f"{base}/api/interviews/", token, data=body, content_type=content_type)
    assert status == 400 and refused["code"] == "corrupt", refused

    audio, sr = sf.read(MOCK, dtype="float32")
    body, content_type = _multipart({"consent": "true", "language": "auto", "question_set": "common-en"},
                                    "call.webm", encode(audio, sr, "webm"))  # fmt: skip
    status, created = _request(f"{base}/api/interviews/", token, data=body, content_type=content_type)
    assert status == 202, created
    seen: list[str] = []
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        _, detail = _request(f"{base}/api/interviews/{created['id']}/", token)
        seen.append(detail["recording"]["stage"])
        if detail["recording"]["stage"] in ("done", "failed"):
            break
        time.sleep(1)
    assert detail["recording"]["stage"] == "done" and detail["status"] == "completed", (detail, seen)
    assert detail["detected_language"] == "en"
    status, report = _request(f"{base}/api/interviews/{created['id']}/report.json", token)
    assert status == 200 and report["stage"] == "final"
    _, transcript = _request(f"{base}/api/interviews/{created['id']}/transcript.json", token)
    reference = next(m for m in manifest("interviews") if m["path"] == MOCK.name)["text"]
    hypothesis = " ".join(s["text"] for s in transcript["segments"])
    assert error_rate(reference, hypothesis, "en") < 0.3, hypothesis
