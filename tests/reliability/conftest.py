"""The production shape under faults: daphne, a Celery worker (with beat, so the sweeper runs), this test's
OWN redis-server on a free port (so it may be restarted) and its OWN mariadbd (a fresh data directory, own port
and socket, so it may be stopped), with ``DEBUG=0``, tickets and consent.

Never touches the shared Redis or the system MariaDB (others use them). Where ``mariadbd`` is not installed the
stack falls back to the MariaDB on 3306 (database ``$IT_DB_NAME`` + ``_rel``) and the database-outage test skips.
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
DB_NAME = os.environ.get("IT_DB_NAME", "interview_it") + "_rel"
IDLE_FINALIZE_S = 6


class PrivateMariaDB:
    """A mariadbd of our own: ``mariadb-install-db`` into a temp dir, started and stopped at will (the data
    directory survives a stop, as a real server's does)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.datadir = root / "data"
        self.socket = root / "mariadb.sock"
        self.port = _free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @staticmethod
    def available() -> bool:
        return shutil.which("mariadbd", path=f"{os.environ.get('PATH', '')}:/usr/sbin") is not None and (
            shutil.which("mariadb-install-db") is not None
        )

    def install(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            ["mariadb-install-db", "--no-defaults", f"--datadir={self.datadir}", "--skip-test-db",
             "--auth-root-authentication-method=normal", f"--user={_user()}"],
            stdout=open(self.root / "install.log", "a"), stderr=subprocess.STDOUT, check=True,
        )

    def start(self) -> None:
        binary = shutil.which("mariadbd", path=f"{os.environ.get('PATH', '')}:/usr/sbin")
        assert binary is not None
        self.process = subprocess.Popen(
            [binary, "--no-defaults", f"--datadir={self.datadir}", f"--port={self.port}", "--bind-address=127.0.0.1",
             f"--socket={self.socket}", f"--pid-file={self.root / 'mariadb.pid'}", f"--user={_user()}",
             "--skip-log-bin", "--skip-name-resolve", "--innodb-buffer-pool-size=64M",
             "--innodb-flush-log-at-trx-commit=2", "--character-set-server=utf8mb4",
             "--collation-server=utf8mb4_unicode_ci"],
            stdout=open(self.root / "mariadb.log", "a"), stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 60
        while not _port_open(self.port):
            if time.monotonic() > deadline or self.process.poll() is not None:
                raise RuntimeError(f"mariadbd did not start; see {self.root}/mariadb.log")
            time.sleep(0.1)

    def stop(self) -> None:
        """A clean shutdown (SIGTERM): connections are refused until ``start``."""
        assert self.process is not None
        self.process.terminate()
        try:
            self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.process = None


def _user() -> str:
    import pwd

    return pwd.getpwuid(os.getuid()).pw_name


def _port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(1)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Stack:
    workdir: Path
    env: dict[str, str]
    redis_port: int
    http_port: int
    redis: subprocess.Popen[bytes] | None = None
    mariadb: PrivateMariaDB | None = None
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    user_id: int = 0
    api_token: str = ""
    db_port: int = 3306

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.http_port}/ws/interviews/"

    @property
    def http(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    @property
    def redis_url(self) -> str:
        return f"redis://127.0.0.1:{self.redis_port}/0"

    # --- redis ------------------------------------------------------------------------------------------------
    def start_redis(self) -> None:
        """An empty, non-persistent redis-server of our own (a restart loses everything, like a failover)."""
        self.redis = subprocess.Popen(
            ["redis-server", "--port", str(self.redis_port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
            stdout=open(self.workdir / "redis.log", "a"), stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 20
        while not _port_open(self.redis_port):
            if time.monotonic() > deadline:
                raise RuntimeError("redis-server did not start")
            time.sleep(0.1)

    def restart_redis(self, down_s: float = 1.0) -> None:
        assert self.redis is not None
        self.redis.kill()
        self.redis.wait()
        time.sleep(down_s)
        self.start_redis()

    # --- mariadb ------------------------------------------------------------------------------------------------
    def stop_mariadb(self) -> None:
        assert self.mariadb is not None, "the stack runs on the shared MariaDB, which a test may not stop"
        self.mariadb.stop()

    def start_mariadb(self) -> None:
        assert self.mariadb is not None
        self.mariadb.start()

    # --- the service --------------------------------------------------------------------------------------------
    def start_worker(self) -> None:
        self.processes["worker"] = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "celery_app", "worker", "-B", "-s", str(self.workdir / "beat"),
             "-Q", "interviews,interviews_final", "--concurrency=2", "--loglevel=WARNING", "-n", f"rel-{self.http_port}@%h"],
            cwd=REPO, env=self.env, stdout=open(self.workdir / "worker.log", "a"), stderr=subprocess.STDOUT,
        )
        ping = [sys.executable, "-m", "celery", "-A", "celery_app", "inspect", "ping", "-d",
                f"rel-{self.http_port}@{socket.gethostname()}"]
        deadline = time.monotonic() + 180
        while subprocess.run(ping, cwd=REPO, env=self.env, capture_output=True).returncode != 0:
            if time.monotonic() > deadline or self.processes["worker"].poll() is not None:
                raise RuntimeError(f"the worker did not start; see {self.workdir}/worker.log")
            time.sleep(1)

    def worker_children(self) -> list[int]:
        out = subprocess.run(["pgrep", "-P", str(self.processes["worker"].pid)], capture_output=True, text=True)
        return [int(p) for p in out.stdout.split()]

    def kill_worker_child(self) -> int:
        children = self.worker_children()
        assert children, "the worker has no pool processes"
        os.kill(children[0], signal.SIGKILL)
        return children[0]

    def kill_worker_and_restart(self) -> None:
        """kill -9 the worker's main process and its pool (a crashed host), then start a fresh worker."""
        main = self.processes["worker"]
        children = self.worker_children()
        main.kill()
        for pid in children:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        main.wait()
        self.start_worker()

    def ticket(self) -> str:
        """A one-time WebSocket ticket for our user, stored as POST /api/ws-tickets/ stores it."""
        import redis

        from sessions.tickets import ticket_key

        value = secrets.token_urlsafe(24)
        redis.Redis.from_url(self.redis_url).set(ticket_key(value), str(self.user_id), ex=60)
        return value

    def status(self, session_id: str) -> str | None:
        """The interview row's status, straight from the database (milliseconds, where ``interview`` takes a
        ``manage.py shell``)."""
        import MySQLdb

        connection = MySQLdb.connect(host="127.0.0.1", port=self.db_port, user="root", passwd="", db=DB_NAME)
        try:
            cursor = connection.cursor()
            cursor.execute("SELECT status FROM interview_sessions_interview WHERE id = %s", (session_id.replace("-", ""),))
            row = cursor.fetchone()
        finally:
            connection.close()
        return None if row is None else str(row[0])

    def manage(self, code: str) -> str:
        result = subprocess.run([sys.executable, "manage.py", "shell", "-c", code], cwd=REPO, env=self.env,
                                capture_output=True, text=True, check=True)
        return result.stdout.strip()

    def interview(self, session_id: str) -> dict[str, Any]:
        import json

        code = (
            "import json; from sessions.models import Interview; from scoring.models import InterviewReport; "
            f"i = Interview.objects.filter(pk='{session_id}').first(); "
            "print(json.dumps(None if i is None else {'status': i.status, 'duration_s': i.duration_s, "
            "'last_seq': i.last_seq, 'audio': i.audio.name, 'end_reason': i.end_reason, "
            "'segments': [s.text for s in i.segments.order_by('index')], "
            "'report': InterviewReport.objects.filter(interview=i).exists()}))"
        )
        return json.loads(self.manage(code).splitlines()[-1])


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    private = PrivateMariaDB.available()
    if shutil.which("redis-server") is None or not (private or _port_open(3306)):
        pytest.skip("redis-server and MariaDB (mariadbd, or a server on 3306) are needed for the reliability tests")
    import MySQLdb

    workdir = tmp_path_factory.mktemp("reliability")
    mariadb = PrivateMariaDB(workdir / "mariadb") if private else None
    db_port = 3306
    if mariadb is not None:
        mariadb.install()
        mariadb.start()
        db_port = mariadb.port
    connection = MySQLdb.connect(host="127.0.0.1", port=db_port, user="root", passwd="")
    cursor = connection.cursor()
    cursor.execute(f"DROP DATABASE IF EXISTS {DB_NAME}")
    cursor.execute(f"CREATE DATABASE {DB_NAME} CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci")
    connection.close()

    redis_port, http_port = _free_port(), _free_port()
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "interview_project.settings",
        "DEBUG": "0",
        "SECRET_KEY": secrets.token_urlsafe(48),
        "DATABASE_URL": f"mysql://root@127.0.0.1:{db_port}/{DB_NAME}",
        "REDIS_URL": f"redis://127.0.0.1:{redis_port}/0",
        "MEDIA_ROOT": str(workdir / "media"),
        "PORT": str(http_port),
        "WHISPER_CPU_THREADS": "1",
        "FINAL_PASS": "0",
        "SESSION_IDLE_FINALIZE_S": str(IDLE_FINALIZE_S),
        "SESSION_SWEEP_EVERY_S": "2",
        "PYTHONUNBUFFERED": "1",
    }
    stack = Stack(workdir=workdir, env=env, redis_port=redis_port, http_port=http_port, mariadb=mariadb,
                  db_port=db_port)
    try:
        stack.start_redis()
        subprocess.run([sys.executable, "manage.py", "migrate", "--noinput", "-v0"], cwd=REPO, env=env, check=True)
        ids = stack.manage(
            "from django.contrib.auth.models import Group, User; from rest_framework.authtoken.models import Token; "
            "u = User.objects.create_user('reliability'); u.groups.add(Group.objects.get(name='interviewer')); "
            "print(u.pk, Token.objects.create(user=u).key)"
        ).split()
        stack.user_id, stack.api_token = int(ids[-2]), ids[-1]
        stack.processes["daphne"] = subprocess.Popen(
            [sys.executable, "-m", "interview_project.serve"], cwd=REPO, env=env,
            stdout=open(workdir / "daphne.log", "a"), stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 120
        while not _port_open(http_port):
            if time.monotonic() > deadline or stack.processes["daphne"].poll() is not None:
                raise RuntimeError(f"daphne did not start; see {workdir}/daphne.log")
            time.sleep(0.3)
        stack.start_worker()
        yield stack
    finally:
        for process in stack.processes.values():
            process.terminate()
        for process in stack.processes.values():
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
        if stack.redis is not None:
            stack.redis.kill()
            stack.redis.wait()
        if mariadb is not None and mariadb.process is not None:
            mariadb.stop()
