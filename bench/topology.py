"""Processes of a multi-node deployment on this machine, for bench/nodes.py and tests/scale.

Everything here is started by the caller in a temporary directory on ports chosen by binding to port 0: its
own redis-server instances (plain or a Redis Cluster), daphne nodes, Celery workers and HAProxy in front.
The shared Redis on 6379 is never touched; MariaDB gets a database of the caller's name.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
HAPROXY = shutil.which("haproxy") or ("/usr/sbin/haproxy" if Path("/usr/sbin/haproxy").exists() else None)
REDIS_SERVER = shutil.which("redis-server")
REDIS_CLI = shutil.which("redis-cli")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def free_cluster_port() -> int:
    """A port whose cluster bus port (+10000) is free too, so both stay below 65536."""
    for _ in range(200):
        port = random.randint(20000, 45000)
        if all(_bindable(p) for p in (port, port + 10000)):
            return port
    raise RuntimeError("no free port pair for a cluster node")


def _bindable(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


def wait_for(predicate: Callable[[], bool], *, timeout_s: float, what: str, step_s: float = 0.5) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout_s:.0f} s waiting for {what}")
        time.sleep(step_s)


def http_get(url: str, *, host: str | None = None, timeout: float = 10.0) -> tuple[int, bytes]:
    request = urllib.request.Request(url, headers={"Host": host} if host else {})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()
    except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
        return 0, b""


def mariadb_available() -> bool:
    return port_open(3306)


def create_database(name: str) -> str:
    import MySQLdb

    connection = MySQLdb.connect(host="127.0.0.1", user="root", passwd="")
    try:
        cursor = connection.cursor()
        cursor.execute(f"DROP DATABASE IF EXISTS `{name}`")
        cursor.execute(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci")
    finally:
        connection.close()
    return f"mysql://root@127.0.0.1:3306/{name}"


def drop_database(name: str) -> None:
    import MySQLdb

    connection = MySQLdb.connect(host="127.0.0.1", user="root", passwd="")
    try:
        connection.cursor().execute(f"DROP DATABASE IF EXISTS `{name}`")
    finally:
        connection.close()


# --- Redis ------------------------------------------------------------------------------------------------------
@dataclass
class RedisServer:
    """One redis-server of our own (no persistence), optionally a cluster node."""

    workdir: Path
    port: int = 0
    cluster: bool = False
    process: subprocess.Popen[bytes] | None = None

    def __post_init__(self) -> None:
        self.port = self.port or (free_cluster_port() if self.cluster else free_port())
        self.dir = self.workdir / f"redis-{self.port}"
        self.dir.mkdir(parents=True, exist_ok=True)

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}"

    def start(self) -> RedisServer:
        args = [REDIS_SERVER or "redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                "--appendonly", "no", "--dir", str(self.dir), "--logfile", str(self.dir / "redis.log")]
        if self.cluster:
            args += ["--cluster-enabled", "yes", "--cluster-config-file", str(self.dir / "nodes.conf"),
                     "--cluster-node-timeout", "3000"]
        self.process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for(lambda: self.cli("ping") == "PONG", timeout_s=20, what=f"redis-server on {self.port}", step_s=0.1)
        return self

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def cli(self, *args: str) -> str:
        result = subprocess.run([REDIS_CLI or "redis-cli", "-p", str(self.port), *args], capture_output=True, text=True)
        return result.stdout.strip()


def start_cluster(workdir: Path, masters: int = 3) -> list[RedisServer]:
    """A local Redis Cluster of ``masters`` masters (no replicas), every slot assigned, state ok."""
    nodes = [RedisServer(workdir, cluster=True).start() for _ in range(masters)]
    subprocess.run([REDIS_CLI or "redis-cli", "--cluster", "create", *[f"127.0.0.1:{n.port}" for n in nodes],
                    "--cluster-replicas", "0", "--cluster-yes"], check=True, capture_output=True)
    wait_for(lambda: all("cluster_state:ok" in n.cli("cluster", "info") for n in nodes), timeout_s=30,
             what="cluster_state:ok on every node")
    return nodes


# --- service processes -------------------------------------------------------------------------------------------
@dataclass
class Proc:
    name: str
    args: list[str]
    env: dict[str, str]
    log: Path
    process: subprocess.Popen[bytes] | None = None
    stopped: bool = False

    def start(self) -> Proc:
        handle = open(self.log, "ab")
        self.process = subprocess.Popen(self.args, cwd=REPO, env=self.env, stdout=handle, stderr=subprocess.STDOUT,
                                        start_new_session=True)
        handle.close()
        return self

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stop(self, *, timeout_s: float = 30) -> None:
        self.terminate()
        self.reap(deadline=time.monotonic() + timeout_s)

    def terminate(self) -> None:
        self.stopped = True
        if self.alive():
            assert self.process is not None
            self.process.terminate()  # a Celery worker's warm shutdown: its children finish their task

    def reap(self, *, deadline: float) -> None:
        """Wait for a terminated process until ``deadline``, then kill what is left of it."""
        if self.process is None or self.process.returncode is not None:
            return
        try:
            self.process.wait(timeout=max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            pass
        try:
            os.killpg(self.process.pid, signal.SIGKILL)  # its own session: whatever is left, pool children too
        except ProcessLookupError:
            pass
        self.process.wait()

    def tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except FileNotFoundError:
            return ""

    def json_lines(self) -> list[dict[str, Any]]:
        out = []
        for line in self.log.read_text(errors="replace").splitlines():
            if line.startswith("{"):
                try:
                    out.append(json.loads(line))
                except json.JSONDecodeError:
                    pass
        return out


@dataclass
class Deployment:
    """Daphne nodes, Celery workers and a balancer sharing one environment."""

    workdir: Path
    env: dict[str, str]
    daphnes: dict[str, tuple[Proc, int]] = field(default_factory=dict)
    workers: dict[str, tuple[Proc, int]] = field(default_factory=dict)
    balancer: Proc | None = None
    balancer_port: int = 0
    api_token: str = ""

    def migrate(self) -> None:
        subprocess.run([sys.executable, "manage.py", "migrate", "--noinput", "-v0"], cwd=REPO, env=self.env, check=True)

    def create_interviewer(self) -> str:
        """An interviewer account and its REST token (made with manage.py, as an operator would); the token
        is kept for :meth:`ws_ticket`."""
        script = ("from django.contrib.auth import get_user_model; from django.contrib.auth.models import Group; "
                  "from rest_framework.authtoken.models import Token; "
                  "u = get_user_model().objects.create_user('ops-interviewer'); "
                  "u.groups.add(Group.objects.get(name='interviewer')); print(Token.objects.create(user=u).key)")
        result = subprocess.run([sys.executable, "manage.py", "shell", "-c", script], cwd=REPO, env=self.env,
                                check=True, capture_output=True, text=True)
        self.api_token = result.stdout.strip().splitlines()[-1]
        return self.api_token

    def ws_ticket(self, name: str | None = None) -> str:
        """A fresh one-time WebSocket ticket (POST /api/ws-tickets/) through ``name`` or the balancer."""
        request = urllib.request.Request(self.url(name) + "/api/ws-tickets/", data=b"", method="POST",
                                         headers={"Authorization": f"Token {self.api_token}"})
        with urllib.request.urlopen(request, timeout=10) as response:
            return str(json.loads(response.read())["ticket"])

    async def aws_ticket(self, name: str | None = None) -> str:
        return await asyncio.to_thread(self.ws_ticket, name)

    def add_daphne(self, name: str) -> Proc:
        port = free_port()
        env = {**self.env, "PORT": str(port), "NODE_NAME": name}
        proc = Proc(name, [sys.executable, "-m", "interview_project.serve"], env, self.workdir / f"{name}.log").start()
        self.daphnes[name] = (proc, port)
        return proc

    def add_worker(self, name: str, *, queues: str = "interviews,interviews_final", concurrency: int = 1) -> Proc:
        port = self.workers[name][1] if name in self.workers else free_port()
        env = {**self.env, "WORKER_METRICS_PORT": str(port)}
        args = [sys.executable, "-m", "celery", "-A", "celery_app", "worker", "-Q", queues,
                f"--concurrency={concurrency}", "--loglevel=INFO", "-n", f"{name}@%h"]
        proc = Proc(name, args, env, self.workdir / f"{name}.log").start()
        self.workers[name] = (proc, port)
        return proc

    def add_balancer(self) -> Proc:
        assert HAPROXY, "haproxy is not installed"
        self.balancer_port = free_port()
        servers = "\n".join(f"    server {name} 127.0.0.1:{port} check inter 3s fall 2 rise 1"
                            for name, (_, port) in self.daphnes.items())
        config = self.workdir / "haproxy.cfg"
        config.write_text(HAPROXY_CONFIG.format(port=self.balancer_port, servers=servers))
        subprocess.run([HAPROXY, "-c", "-f", str(config)], check=True, capture_output=True)
        self.balancer = Proc("haproxy", [HAPROXY, "-db", "-f", str(config)], dict(os.environ),
                             self.workdir / "haproxy.log").start()
        wait_for(lambda: port_open(self.balancer_port), timeout_s=10, what="haproxy")
        return self.balancer

    def url(self, name: str | None = None) -> str:
        port = self.balancer_port if name is None else self.daphnes[name][1]
        return f"http://127.0.0.1:{port}"

    def ws_url(self, name: str | None = None) -> str:
        return self.url(name).replace("http://", "ws://") + "/ws/interviews/"

    def readyz(self, name: str, *, host: str = "10.20.30.40") -> tuple[int, dict[str, Any]]:
        status, body = http_get(self.url(name) + "/readyz", host=host)
        try:
            return status, json.loads(body) if body else {}
        except json.JSONDecodeError:
            return status, {}

    def wait_ready(self, name: str, *, timeout_s: float = 240) -> dict[str, Any]:
        seen: dict[str, Any] = {}

        def ready() -> bool:
            status, body = self.readyz(name)
            seen.update(body)
            self.check_alive()
            return status == 200

        try:
            wait_for(ready, timeout_s=timeout_s, what=f"{name} /readyz 200", step_s=1.0)
        except TimeoutError as exc:
            raise TimeoutError(f"{exc}; last answer {json.dumps(seen)[:600]}") from exc
        return seen

    def check_alive(self) -> None:
        for proc, _ in [*self.daphnes.values(), *self.workers.values()]:
            if not proc.stopped and proc.process is not None and proc.process.poll() is not None:
                raise RuntimeError(f"{proc.name} exited ({proc.process.returncode}):\n{proc.tail()}")

    def stop(self) -> None:
        procs = [*(p for p, _ in self.daphnes.values()), *(p for p, _ in self.workers.values())]
        if self.balancer is not None:
            procs.append(self.balancer)
        for proc in procs:  # all at once: their shutdowns overlap instead of adding up
            proc.terminate()
        deadline = time.monotonic() + 30
        for proc in procs:
            proc.reap(deadline=deadline)


HAPROXY_CONFIG = """\
global
    log stdout format raw local0 info
    maxconn 2000

defaults
    mode http
    log global
    option httplog
    option forwardfor
    timeout connect 5s
    timeout client 60s
    timeout server 60s
    # WebSockets: an upgraded connection is a tunnel; interviews last long
    timeout tunnel 2h
    timeout client-fin 10s

frontend interviews
    bind 127.0.0.1:{port}
    default_backend daphne

backend daphne
    balance roundrobin
    # readiness decides who gets new interviews; a resumed socket lands on any ready node
    option httpchk
    http-check send meth GET uri /readyz ver HTTP/1.1 hdr Host health.internal
    http-check expect status 200
{servers}
"""


def base_env(workdir: Path, *, redis_url: str, database_url: str, **extra: str) -> dict[str, str]:
    """The environment every node shares (the production shape; DEBUG as the caller says)."""
    multiproc = workdir / "prometheus"
    multiproc.mkdir(exist_ok=True)
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "interview_project.settings",
        "REDIS_URL": redis_url,
        "DATABASE_URL": database_url,
        "MEDIA_ROOT": str(workdir / "media"),
        "WHISPER_CPU_THREADS": "1",
        "PYTHONUNBUFFERED": "1",
        "LOG_FORMAT": "json",
        "PROMETHEUS_MULTIPROC_DIR": str(multiproc),
        "READY_TIMEOUT_S": "1.0",
    }
    env.update(extra)
    return env
