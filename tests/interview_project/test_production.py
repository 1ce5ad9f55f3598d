"""The production shape as the README writes it: `check --deploy` clean, proxies trusted only when said,
no credentials on error pages or in logs, DEBUG off unless asked for."""

from __future__ import annotations

import logging
import os
import re
import secrets
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
from django.test import RequestFactory, override_settings
from django.views.debug import technical_500_response

from interview_project.redact import (
    RedactFilter, RedactingExceptionReporter, RedactingExceptionReporterFilter, redact_text,
)  # fmt: skip
from interview_project.serve import daphne_args

REPO = Path(__file__).resolve().parents[2]
PASSWORD = "s3cret-Pa55"


def readme_production_env() -> dict[str, str]:
    """The variables of the README's production block, as a shell would set them."""
    text = (REPO / "README.md").read_text(encoding="utf-8")
    block = re.search(r"```sh\n(export REDIS_URL=.*?)\n(?=python )", text, re.S)
    assert block, "the README's production block starts with `export REDIS_URL=...`"
    command = block.group(1).replace("\\\n", " ")
    command = re.sub(r'"\$\(python -c .*?\)"', secrets.token_urlsafe(50), command)
    words = shlex.split(command)
    assert words[0] == "export"
    return dict(word.split("=", 1) for word in words[1:])


def run_manage(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "MODELS_DIR")}
    return subprocess.run([sys.executable, "manage.py", *args], cwd=REPO, capture_output=True, text=True, timeout=120,
                          env={**base, "DJANGO_SETTINGS_MODULE": "interview_project.settings", **env})  # fmt: skip


def test_readme_production_block_passes_check_deploy(tmp_path: Path) -> None:
    env = readme_production_env()
    assert env["DEBUG"] == "0" and env["PROXY_HEADERS"] == "1"
    env.update(MEDIA_ROOT=str(tmp_path / "media"), STATIC_ROOT=str(tmp_path / "static"))
    result = run_manage("check", "--deploy", "--fail-level", "WARNING", env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


def test_debug_is_off_unless_asked_for_and_then_a_secret_key_is_required() -> None:
    result = run_manage("shell", "-c", "from django.conf import settings; print(settings.DEBUG)", env={})
    assert result.returncode != 0 and "Set the SECRET_KEY environment variable" in result.stderr
    result = run_manage("shell", "-c", "from django.conf import settings; print(settings.DEBUG, settings.SESSION_COOKIE_SECURE)",
                        env={"SECRET_KEY": secrets.token_urlsafe(50)})  # fmt: skip
    assert result.stdout.split()[-2:] == ["False", "True"], result.stderr


def test_daphne_trusts_proxy_headers_only_when_configured() -> None:
    assert "--proxy-headers" not in daphne_args("127.0.0.1", "8000", {})
    assert "--proxy-headers" not in daphne_args("127.0.0.1", "8000", {"PROXY_HEADERS": "0"})
    assert "--proxy-headers" in daphne_args("0.0.0.0", "80", {"PROXY_HEADERS": "1"})


@override_settings(
    DEBUG=True,
    REDIS_URL=f"redis://:{PASSWORD}@redis:6379/0",
    CELERY_BROKER_URL=f"redis://:{PASSWORD}@redis:6379/0",
    DATABASE_URL=f"mysql://app:{PASSWORD}@db:3306/interviews",
    CHANNEL_LAYERS={"default": {"CONFIG": {"hosts": [{"address": f"rediss://user:{PASSWORD}@redis:6380/1"}]}}},
)
def test_the_debug_error_page_shows_no_credentials() -> None:
    request = RequestFactory().get("/boom", HTTP_X_API_KEY="abc")
    broker = f"amqp://guest:{PASSWORD}@rabbit//"  # a local variable in the failing frame
    try:
        raise RuntimeError(f"cannot reach {broker}")
    except RuntimeError:
        html = technical_500_response(request, *sys.exc_info()).content.decode()
        text = RedactingExceptionReporter(request, *sys.exc_info()).get_traceback_text()
    assert "REDIS_URL" in html and "redis://***@redis:6379/0" in html  # the setting is there, masked
    assert PASSWORD not in html and PASSWORD not in text
    settings_seen = RedactingExceptionReporterFilter().get_safe_settings()
    assert PASSWORD not in repr(settings_seen)


def test_logs_mask_credentials_in_urls(caplog: pytest.LogCaptureFixture) -> None:
    logger = logging.getLogger("tests.redact")
    logger.addFilter(RedactFilter())
    try:
        with caplog.at_level(logging.INFO, logger="tests.redact"):
            logger.info("connecting to %s", f"redis://:{PASSWORD}@redis:6379/0")
            try:
                raise ConnectionError(f"mysql://app:{PASSWORD}@db/x refused")
            except ConnectionError:
                logger.exception("database down")
    finally:
        logger.filters.clear()
    assert PASSWORD not in caplog.text and "redis://***@redis:6379/0" in caplog.text
    assert redact_text("see https://example.com/a@b") == "see https://example.com/a@b"  # no userinfo: unchanged
