"""Fixtures of the console tests: the shared recordings, a real server process, and Debian's Chromium.

The server runs exactly as `make run` would (daphne through ``interview_project.serve``, embedded Celery
worker, in-memory channel layer, real Whisper), on a free port with its own SQLite file and MEDIA_ROOT, so
the browser test exercises the whole live path and leaves nothing behind.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
OUTPUT_DIR = REPO / "test-output"


def shared_data_dir() -> Path:
    return Path(os.environ.get("SHARED_DATA_DIR", str(REPO.parent / "shared" / "data")))


def manifest_entry(folder: str, name: str) -> dict[str, Any]:
    path = shared_data_dir() / folder / "manifest.jsonl"
    if not path.exists():
        pytest.skip(f"shared data not found at {path} (set SHARED_DATA_DIR)")
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            entry = json.loads(line)
            if entry["path"] == name:
                return entry
    raise LookupError(f"{name} is not in {folder}/manifest.jsonl")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_healthy(url: str, process: subprocess.Popen[bytes], timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the server exited with {process.returncode} before it was healthy")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.3)
    raise TimeoutError(f"{url} did not answer within {timeout_s:.0f} s")


@contextlib.contextmanager
def serve(workdir: Path, *, debug: bool, log_name: str, extra_env: dict[str, str] | None = None) -> Iterator[str]:
    """Migrate, collect static files, create the test accounts, start ``python -m interview_project.serve``.

    ``debug=False`` is the production shape of a single host (DEBUG=0, a real SECRET_KEY, WhiteNoise serving
    the collected files), over plain HTTP, which is why SECURE_COOKIES=0 (the README says the same).
    """
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "DATABASE_URL", "DJANGO_SETTINGS_MODULE")}
    env.update(
        PORT=str(port),
        HOST="127.0.0.1",
        DEBUG="1" if debug else "0",
        SQLITE_PATH=str(workdir / "db.sqlite3"),
        MEDIA_ROOT=str(workdir / "media"),
        STATIC_ROOT=str(workdir / "static"),
        DJANGO_SETTINGS_MODULE="interview_project.settings",
        PYTHONUNBUFFERED="1",
    )
    if not debug:
        env.update(SECRET_KEY="browser-test-" + "s" * 40, SECURE_COOKIES="0")
    env.update(extra_env or {})
    manage = [sys.executable, "manage.py"]
    subprocess.run([*manage, "migrate", "-v0", "--noinput"], cwd=REPO, env=env, check=True, timeout=120)
    subprocess.run([*manage, "collectstatic", "-v0", "--noinput"], cwd=REPO, env=env, check=True, timeout=180)
    subprocess.run([*manage, "shell", "-c", CREATE_ACCOUNTS], cwd=REPO, env=env, check=True, timeout=60)
    log_path = workdir / "server.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen([sys.executable, "-m", "interview_project.serve"], cwd=REPO, env=env,
                                   stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_healthy(f"{base}/healthz", process, timeout_s=90)
        yield base
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
        OUTPUT_DIR.mkdir(exist_ok=True)
        shutil.copyfile(log_path, OUTPUT_DIR / log_name)


ACCOUNTS = {"admin": "admin-pass-1234", "ivy": "ivy-pass-1234"}
CREATE_ACCOUNTS = f"""
from django.contrib.auth.models import Group, User
User.objects.create_superuser("admin", "admin@example.com", {ACCOUNTS['admin']!r})
ivy = User.objects.create_user("ivy", password={ACCOUNTS['ivy']!r})
ivy.groups.add(Group.objects.get(name="interviewer"))
"""
"""A superuser for the admin and a non-staff interviewer for the console (roles come from the migration)."""


@pytest.fixture(scope="module")
def console_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Base URL of a freshly migrated server process as `make run` starts it (DEBUG on)."""
    with serve(tmp_path_factory.mktemp("console-server"), debug=True, log_name="console-server.log") as base:
        yield base


@pytest.fixture(scope="module", params=["debug", "production"])
def any_mode_server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """(mode, base URL): the `make run` shape and the production shape (DEBUG=0), one after the other."""
    mode = request.param
    with serve(tmp_path_factory.mktemp(f"server-{mode}"), debug=mode == "debug", log_name=f"server-{mode}.log") as base:
        yield mode, base


@pytest.fixture(scope="session")
def mock_interview_en() -> tuple[Path, dict[str, Any]]:
    """The English mock interview (16 kHz mono PCM16 WAV, which Chromium's fake capture accepts) and its
    manifest entry (reference text, duration)."""
    entry = manifest_entry("interviews", "mock_interview_en.wav")
    wav = shared_data_dir() / "interviews" / entry["path"]
    if not wav.exists():
        pytest.skip(f"{wav} is missing (set SHARED_DATA_DIR)")
    return wav, entry


@pytest.fixture(scope="session")
def output_dir() -> Path:
    """Screenshots and the server log of the browser tests (gitignored)."""
    OUTPUT_DIR.mkdir(exist_ok=True)
    return OUTPUT_DIR


def chromium_args(fake_audio: Path) -> list[str]:
    return [
        "--no-sandbox",
        "--use-fake-ui-for-media-stream",
        "--use-fake-device-for-media-stream",
        f"--use-file-for-fake-audio-capture={fake_audio}%noloop",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--no-first-run",
        "--disable-sync",
    ]


@pytest.fixture(scope="module")
def chromium_for(request: pytest.FixtureRequest) -> Iterator[Any]:
    """A function that launches Chromium with a given fake microphone file; every browser is closed after."""
    if not CHROMIUM.exists():
        pytest.skip("Debian's Chromium is not installed (make browser-deps)")
    sync_api = pytest.importorskip("playwright.sync_api")
    playwright = sync_api.sync_playwright().start()
    browsers: list[Any] = []

    def launch(fake_audio: Path) -> Any:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=chromium_args(fake_audio))
        browsers.append(browser)
        return browser

    try:
        yield launch
    finally:
        for browser in browsers:
            browser.close()
        playwright.stop()
