"""Fixtures of the console tests: the shared recordings, a real server process, and Debian's Chromium.

The server runs exactly as `make run` would (daphne through ``interview_project.serve``, embedded Celery
worker, in-memory channel layer, real Whisper), on a free port with its own SQLite file and MEDIA_ROOT, so
the browser test exercises the whole live path and leaves nothing behind.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from servers import OUTPUT_DIR, REPO, serve

CHROMIUM = Path("/usr/bin/chromium")


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
