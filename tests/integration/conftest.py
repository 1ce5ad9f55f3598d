"""The production shape for real: daphne and a separate Celery worker process on Redis and MariaDB, with
DEBUG=0 as deployed: every socket needs a one-time ticket of an interviewer account and the consent flag."""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import socket
import urllib.request
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
# Overridable so that several checkouts can run the production-shape tests side by side.
DB_NAME = os.environ.get("IT_DB_NAME", "interview_it")
REDIS_DB = int(os.environ.get("IT_REDIS_DB", "7"))
IT_CAPACITY = int(os.environ.get("IT_CAPACITY", "12"))  # the stack's live slots: above the most sessions a test streams at once (4)


CREATE_INTERVIEWER = """
from django.contrib.auth.models import Group, User
from rest_framework.authtoken.models import Token
user = User.objects.create_user("it-interviewer")
user.groups.add(Group.objects.get(name="interviewer"))
Token.objects.create(user=user, key="{token}")
"""


def ticket_source(http: str, token: str):  # noqa: ANN201
    """An async function returning a fresh WebSocket ticket of the test's interviewer account."""

    def issue() -> str:
        request = urllib.request.Request(f"{http}/api/ws-tickets/", method="POST",
                                         headers={"Authorization": f"Token {token}"})  # fmt: skip
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.loads(response.read())["ticket"]

    async def get_ticket() -> str:
        return await asyncio.to_thread(issue)

    return get_ticket


def _port_open(host: str, port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(1)
        return sock.connect_ex((host, port)) == 0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def live_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, object]]:
    if not (_port_open("127.0.0.1", 6379) and _port_open("127.0.0.1", 3306)):
        pytest.skip("Redis (6379) and MariaDB (3306) must run for the integration tests (.ci/run starts them)")
    import MySQLdb
    import redis

    connection = MySQLdb.connect(host="127.0.0.1", user="root", passwd="")
    cursor = connection.cursor()
    cursor.execute(f"DROP DATABASE IF EXISTS {DB_NAME}")
    cursor.execute(f"CREATE DATABASE {DB_NAME} CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci")
    connection.close()
    redis_url = f"redis://127.0.0.1:6379/{REDIS_DB}"
    redis.Redis.from_url(redis_url).flushdb()

    workdir = tmp_path_factory.mktemp("stack")
    port = _free_port()
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "interview_project.settings",
        "DATABASE_URL": f"mysql://root@127.0.0.1:3306/{DB_NAME}",
        "REDIS_URL": redis_url,
        "MEDIA_ROOT": str(workdir / "media"),
        "STATIC_ROOT": str(workdir / "static"),
        "DEBUG": "0",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "SECURE_COOKIES": "0",  # plain HTTP on localhost
        "MAX_SESSIONS_PER_USER": "10",  # the tests stream four sessions of one account at once
        "API_THROTTLE_WS_TICKET": "120/min",  # one account opens every test's sockets (a ticket each)
        "PORT": str(port),
        "WHISPER_CPU_THREADS": "1",
        "PYTHONUNBUFFERED": "1",
        "LIVE_SESSION_CAPACITY": str(IT_CAPACITY),
    }
    subprocess.run([sys.executable, "manage.py", "migrate", "--noinput", "-v0"], cwd=REPO, env=env, check=True)
    subprocess.run([sys.executable, "manage.py", "collectstatic", "--noinput", "-v0"], cwd=REPO, env=env, check=True)
    token = secrets.token_hex(20)
    subprocess.run([sys.executable, "manage.py", "shell", "-c", CREATE_INTERVIEWER.format(token=token)], cwd=REPO,
                   env=env, check=True)  # fmt: skip
    logs = {name: open(workdir / f"{name}.log", "w") for name in ("daphne", "worker")}
    processes = [
        subprocess.Popen([sys.executable, "-m", "interview_project.serve"], cwd=REPO, env=env,
                         stdout=logs["daphne"], stderr=subprocess.STDOUT),
        subprocess.Popen([sys.executable, "-m", "celery", "-A", "celery_app", "worker", "-Q", "interviews,interviews_final,interviews_slow",
                          "--concurrency=2", "--loglevel=WARNING", "-n", f"it-{port}@%h"],
                         cwd=REPO, env=env, stdout=logs["worker"], stderr=subprocess.STDOUT),
    ]
    try:
        deadline = time.monotonic() + 120
        while not _port_open("127.0.0.1", port):
            if time.monotonic() > deadline or any(p.poll() is not None for p in processes):
                raise RuntimeError(f"the stack did not start; see {workdir}")
            time.sleep(0.5)
        # the worker is ready when it answers a ping
        ping = [sys.executable, "-m", "celery", "-A", "celery_app", "inspect", "ping", "-d", f"it-{port}@{socket.gethostname()}"]
        while subprocess.run(ping, cwd=REPO, env=env, capture_output=True).returncode != 0:
            if time.monotonic() > deadline or any(p.poll() is not None for p in processes):
                raise RuntimeError(f"the worker did not start; see {workdir}")
            time.sleep(1)
        http = f"http://127.0.0.1:{port}"
        yield {"url": f"ws://127.0.0.1:{port}/ws/interviews/", "http": http, "db": DB_NAME,
               "media": workdir / "media", "logs": workdir, "redis_url": redis_url,
               "get_ticket": ticket_source(http, token), "token": token}
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
        for handle in logs.values():
            handle.close()
