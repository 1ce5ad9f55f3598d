"""The report webhook: a signed POST to ``REPORT_WEBHOOK_URL`` when an interview's report is ready.

Why a task: the receiver may be slow or down; delivery retries with backoff on its own, never holding up
the final pass. The body is JSON; ``X-Interview-Signature: t=<unix>,v1=<hex>`` carries
HMAC-SHA256(secret, "<unix>." + body), so a receiver checks origin and freshness (docs/recordings.md).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
import urllib.error
import urllib.request
from typing import Any, Literal, TypedDict

from celery import shared_task
from django.conf import settings
from django.db import transaction

from scoring.models import InterviewReport
from sessions.models import Interview, RecordingImport

logger = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Interview-Signature"
EVENT_HEADER = "X-Interview-Event"


class WebhookFailed(Exception):
    """The receiver did not answer 2xx (retried with backoff)."""


class ReportWebhook(TypedDict):
    event: Literal["report.ready", "report.failed"]
    interview_id: str
    status: str
    source: Literal["live", "upload"]
    overall: float | None
    error_message: str
    report_url: str
    report_json_url: str
    sent_at: int


def sign(body: bytes, secret: str, timestamp: int) -> str:
    """The signature header value for ``body`` sent at ``timestamp``."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


def verify(body: bytes, header: str, secret: str, *, tolerance_s: int = 300, now: float | None = None) -> bool:
    """What a receiver does (and the tests): constant-time compare, refuse stale timestamps."""
    try:
        parts = dict(item.split("=", 1) for item in header.split(","))
        timestamp = int(parts["t"])
    except (ValueError, KeyError):
        return False
    if abs((now if now is not None else time.time()) - timestamp) > tolerance_s:
        return False
    return hmac.compare_digest(sign(body, secret, timestamp), f"t={timestamp},v1={parts.get('v1', '')}")


def _absolute(path: str) -> str:
    return f"{settings.PUBLIC_BASE_URL.rstrip('/')}{path}" if settings.PUBLIC_BASE_URL else path


def payload_for(interview: Interview) -> ReportWebhook:
    report = InterviewReport.objects.filter(interview=interview).first()
    recording = RecordingImport.objects.filter(interview=interview).first()
    failed = interview.status == Interview.Status.FAILED or (
        recording is not None and recording.stage == RecordingImport.Stage.FAILED
    )
    return {
        "event": "report.failed" if failed else "report.ready",
        "interview_id": str(interview.pk),
        "status": interview.status,
        "source": "upload" if recording is not None else "live",
        "overall": report.overall if report is not None and not failed else None,
        "error_message": (recording.error_message if recording is not None else "") or interview.error_message,
        "report_url": _absolute(f"/interviews/{interview.pk}/report/"),
        "report_json_url": _absolute(f"/api/interviews/{interview.pk}/report.json"),
        "sent_at": int(time.time()),
    }


def deliver(url: str, payload: ReportWebhook, secret: str, *, timeout_s: float) -> int:
    """POST once; returns the HTTP status or raises ``WebhookFailed``."""
    body = json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()
    request = urllib.request.Request(url, data=body, method="POST", headers={
        "Content-Type": "application/json", "User-Agent": "interview-service-webhook/1",
        EVENT_HEADER: payload["event"], SIGNATURE_HEADER: sign(body, secret, payload["sent_at"]),
    })  # fmt: skip
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as response:  # noqa: S310 - operator-set URL
            return int(response.status)
    except urllib.error.HTTPError as exc:
        raise WebhookFailed(f"HTTP {exc.code}") from exc
    except (urllib.error.URLError, TimeoutError, ConnectionError) as exc:
        raise WebhookFailed(str(getattr(exc, "reason", exc))) from exc


@shared_task(name="interview.report_webhook", autoretry_for=(WebhookFailed,), retry_backoff=2, retry_backoff_max=300,
             retry_jitter=True, max_retries=8, acks_late=True, soft_time_limit=60, time_limit=90)
def report_webhook(interview_id: str) -> None:
    """Deliver the notice for ``interview_id``; the outcome is kept on the recording row when there is one."""
    url = settings.REPORT_WEBHOOK_URL
    interview = Interview.objects.filter(pk=interview_id).first()
    if not url or interview is None:
        return
    payload = payload_for(interview)
    try:
        code = deliver(url, payload, settings.REPORT_WEBHOOK_SECRET, timeout_s=settings.REPORT_WEBHOOK_TIMEOUT_S)
    except WebhookFailed as exc:
        logger.warning("report webhook for %s failed: %s", interview_id, exc)
        RecordingImport.objects.filter(interview_id=interview_id).update(webhook_status=f"failed: {exc}"[:64])
        raise
    RecordingImport.objects.filter(interview_id=interview_id).update(webhook_status=f"delivered {code}")
    logger.info("report webhook for %s delivered (%s)", interview_id, code)


def report_ready_notify(*, interview_id: str) -> None:
    """Queue the webhook once the current transaction commits (nothing when no URL is configured)."""
    if settings.REPORT_WEBHOOK_URL:
        transaction.on_commit(lambda: report_webhook.delay(str(interview_id)))


__all__: list[Any] = ["ReportWebhook", "deliver", "payload_for", "report_ready_notify", "report_webhook", "sign",
                      "verify"]  # fmt: skip
