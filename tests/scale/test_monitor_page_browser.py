"""The staff monitoring page in Chromium against a daphne process on our own Redis (DEBUG=0): login, a live
session's row, and the row changing by itself when the session's lag changes. No 4xx on the page's requests."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from scalestack import REPO, Deployment, RedisServer, base_env, http_get, require, wait_for

pytestmark = [pytest.mark.browser, pytest.mark.scale]
CHROMIUM = Path("/usr/bin/chromium")
SESSION = "7d1e2f3a-0000-4000-8000-00000000abcd"


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Deployment, RedisServer]]:
    require()
    if not CHROMIUM.exists():
        pytest.skip("Debian's Chromium is not installed (make browser-deps)")
    workdir = tmp_path_factory.mktemp("monitor")
    server = RedisServer(workdir).start()
    env = base_env(workdir, redis_url=f"{server.url}/0", database_url="", DEBUG="0", SECRET_KEY="m" * 40,
                   ALLOWED_HOSTS="127.0.0.1", SQLITE_PATH=str(workdir / "db.sqlite3"),
                   DJANGO_SUPERUSER_PASSWORD="ops-password")
    deployment = Deployment(workdir, env)
    try:
        deployment.migrate()
        subprocess.run([sys.executable, "manage.py", "createsuperuser", "--noinput", "--username", "ops",
                        "--email", "ops@example.com"], cwd=REPO, env=env, check=True, capture_output=True)
        deployment.add_daphne("daphne")
        wait_for(lambda: http_get(deployment.url("daphne") + "/healthz")[0] == 200, timeout_s=60, what="daphne")
        yield deployment, server
    finally:
        deployment.stop()
        server.stop()


def seed(client: redis.Redis, *, lag_ms: int) -> None:
    tag = "{" + SESSION + "}"
    now = time.time()
    client.hset(f"iv:{tag}:meta", mapping={"session_id": SESSION, "language": "ko", "sample_rate": 16000,
                                           "channels": 1, "status": "live", "last_seq": 41, "audio_s": 8.4,
                                           "started_wall": now - 9})
    client.hset(f"iv:{tag}:recv", 41, f"{now - 0.3:.6f}|0")
    client.hset(f"iv:{tag}:mon", mapping={"node": "daphne-x", "connected": 1, "worker": "live@host-1",
                                          "lag_ms": lag_ms, "published_seq": 40, "ms:transcribe": 812.5,
                                          "ms:publish": 3.1, "timings": json.dumps({"stt": 700})})
    client.zadd("iv:live", {SESSION: now})


def test_the_page_lists_live_sessions_and_refreshes_itself(node):
    deployment, server = node
    client = redis.Redis.from_url(f"{server.url}/0")
    seed(client, lag_ms=640)
    from playwright.sync_api import sync_playwright

    failures: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox", "--disable-gpu"])
        try:
            page = browser.new_page()
            page.on("response", lambda r: failures.append(f"{r.status} {r.url}") if r.status >= 400 else None)
            base = deployment.url("daphne")
            page.goto(f"{base}/ops/live/")
            assert "/admin/login/" in page.url  # staff only
            page.fill("#id_username", "ops")
            page.fill("#id_password", "ops-password")
            page.click("input[type=submit]")
            page.wait_for_url(f"{base}/ops/live/")
            # the admin login page's own static files are not this page's (daphne serves none under DEBUG=0
            # without WhiteNoise); from here on, every request must succeed
            failures.clear()
            row = page.locator("#rows tr", has_text=SESSION[:8])
            row.wait_for(timeout=15000)
            text = row.inner_text()
            assert "daphne-x" in text and "live@host-1" in text and "640" in text and "transcribe 813" in text
            assert "connected" in text and "41 / 40" in text
            seed(client, lag_ms=6400)  # no reload: the page polls
            page.wait_for_function("document.querySelector('#rows tr.bad') !== null", timeout=15000)
            assert "6400" in row.inner_text()
            (REPO / "test-output").mkdir(exist_ok=True)
            page.screenshot(path=str(REPO / "test-output" / "ops-live.png"), full_page=True)
        finally:
            browser.close()
    assert not failures, failures
