"""A real server process for the tests that need one (browser, fuzz): `python -m interview_project.serve` on a
free port with its own SQLite file, MEDIA_ROOT and STATIC_ROOT, in the `make run` shape (DEBUG=1) or the
production shape of one host (DEBUG=0), with two accounts: a superuser and a non-staff interviewer.
"""

from __future__ import annotations

import contextlib
import secrets
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

REPO = Path(__file__).resolve().parents[1]
OUTPUT_DIR = REPO / "test-output"


def free_port() -> int:
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
def serve(workdir: Path, *, debug: bool, log_name: str, extra_env: dict[str, str] | None = None,
          collect_static: bool = True) -> Iterator[str]:
    """Migrate, collect static files, create the test accounts, start ``python -m interview_project.serve``.

    ``debug=False`` is the production shape of a single host (DEBUG=0, a real SECRET_KEY, WhiteNoise serving
    the collected files), over plain HTTP, which is why SECURE_COOKIES=0 (the README says the same).
    """
    port = free_port()
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
        LIVE_SESSION_CAPACITY="32",  # the pages' sessions (some abandoned) never fill the live slots
    )
    if not debug:
        env.update(SECRET_KEY="browser-test-" + "s" * 40, SECURE_COOKIES="0")
    env.update(extra_env or {})
    manage = [sys.executable, "manage.py"]
    subprocess.run([*manage, "migrate", "-v0", "--noinput"], cwd=REPO, env=env, check=True, timeout=120)
    if collect_static:
        subprocess.run([*manage, "collectstatic", "-v0", "--noinput"], cwd=REPO, env=env, check=True, timeout=180)
    subprocess.run([*manage, "shell", "-c", CREATE_ACCOUNTS], cwd=REPO, env=env, check=True, timeout=60)
    log_path = workdir / "server.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen([sys.executable, "-m", "interview_project.serve"], cwd=REPO, env=env,
                                   stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    SERVER_PIDS[base] = process.pid
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


SERVER_PIDS: dict[str, int] = {}
"""Base URL -> pid of the server process (for RSS readings)."""
ACCOUNTS = {"admin": "admin-pass-1234", "ivy": "ivy-pass-1234"}
IVY_TOKEN = secrets.token_hex(20)
"""The interviewer's API token (for WebSocket tickets from a script)."""
CREATE_ACCOUNTS = f"""
from django.contrib.auth.models import Group, User
User.objects.create_superuser("admin", "admin@example.com", {ACCOUNTS['admin']!r})
ivy = User.objects.create_user("ivy", password={ACCOUNTS['ivy']!r})
ivy.groups.add(Group.objects.get(name="interviewer"))
from rest_framework.authtoken.models import Token
Token.objects.create(user=ivy, key={IVY_TOKEN!r})
"""
"""A superuser for the admin and a non-staff interviewer for the console (roles come from the migration)."""


