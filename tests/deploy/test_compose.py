"""The container definitions: compose file and HAProxy config checked by their own tools, and (marked
``docker``, where a daemon and the base images are at hand) one session through the whole compose stack."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
COMPOSE_FILE = REPO / "deploy" / "compose.yaml"
HAPROXY = shutil.which("haproxy") or ("/usr/sbin/haproxy" if Path("/usr/sbin/haproxy").exists() else None)


def compose_cli() -> list[str] | None:
    docker = shutil.which("docker")
    if docker and subprocess.run([docker, "compose", "version"], capture_output=True).returncode == 0:
        return [docker, "compose"]
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    return None


@pytest.fixture(scope="module")
def compose() -> list[str]:
    cli = compose_cli()
    if cli is None:
        pytest.skip("neither `docker compose` nor docker-compose is installed")
    return cli


def test_compose_file_is_valid_and_has_the_production_shape(compose):
    env = {**os.environ, "SECRET_KEY": "k" * 40}
    result = subprocess.run([*compose, "-f", str(COMPOSE_FILE), "config"], capture_output=True, text=True, env=env)
    assert result.returncode == 0, result.stderr
    config = yaml.safe_load(result.stdout)
    services = config["services"]
    assert {"daphne-a", "daphne-b", "lb", "worker-live", "worker-final", "beat", "redis", "mariadb", "migrate"} <= set(services)
    for name in ("daphne-a", "daphne-b"):
        assert services[name]["environment"]["HOST"] == "0.0.0.0"
        assert services[name]["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    assert services["migrate"]["command"][-2:] == ["migrate", "--noinput"] and services["migrate"]["restart"] == "no"
    assert "-Q" in services["worker-live"]["command"] and "interviews" in services["worker-live"]["command"]
    assert "interviews_final,interviews_slow" in services["worker-final"]["command"]
    assert services["worker-live"]["environment"]["REDIS_URL"].startswith("redis://redis:")
    assert services["worker-live"]["environment"]["PROMETHEUS_MULTIPROC_DIR"]
    # SECRET_KEY has no default: compose refuses to start without it
    env.pop("SECRET_KEY")
    refused = subprocess.run([*compose, "-f", str(COMPOSE_FILE), "config"], capture_output=True, text=True, env=env)
    assert refused.returncode != 0 and "SECRET_KEY" in refused.stderr


def test_dockerfile_builds_what_compose_runs():
    text = (REPO / "Dockerfile").read_text()
    assert "HOST=0.0.0.0" in text and "collectstatic" in text and "analysis.stt.models" in text and "USER app" in text
    assert "WHISPER_DEVICE=cuda" in (REPO / "deploy" / "Dockerfile.cuda").read_text()


@pytest.mark.skipif(HAPROXY is None, reason="haproxy is not installed (make ops-deps)")
def test_haproxy_config_is_valid():
    result = subprocess.run([HAPROXY, "-c", "-f", str(REPO / "deploy" / "haproxy.cfg")], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def _docker_ready() -> str | None:
    """Why the compose stack cannot run here, or None."""
    docker = shutil.which("docker")
    if docker is None or subprocess.run([docker, "info"], capture_output=True).returncode != 0:
        return "no Docker daemon"
    for image in ("python:3.11-slim-bookworm", "redis:7.2-bookworm", "mariadb:11.4", "haproxy:2.8"):
        if subprocess.run([docker, "image", "inspect", image], capture_output=True).returncode != 0:
            return f"base image {image} is not present and registries other than package indexes are out of reach"
    return None


@pytest.mark.docker
@pytest.mark.models
def test_one_session_through_the_compose_stack(compose, shared_data, tmp_path):
    reason = _docker_ready()
    if reason:
        pytest.skip(reason)
    from shareddata import manifest

    from analysis.audio.preprocess import load_audio_file
    from clients.python.interview_client import stream_audio

    project = f"interviewtest{os.getpid()}"
    # DEBUG=1: an anonymous socket (DEBUG=0 needs a ticket from the API, tested in tests/sessions)
    env = {**os.environ, "SECRET_KEY": "s" * 48, "PUBLIC_PORT": "18080", "ALLOWED_HOSTS": "127.0.0.1,localhost",
           "DEBUG": "1"}
    base = [*compose, "-p", project, "-f", str(COMPOSE_FILE)]
    try:
        subprocess.run([*base, "up", "--build", "-d"], check=True, env=env, timeout=1800)
        deadline = time.monotonic() + 600
        while True:
            try:
                with urllib.request.urlopen("http://127.0.0.1:18080/readyz", timeout=5) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            assert time.monotonic() < deadline, "the stack never became ready"
            time.sleep(3)
        entry = next(e for e in manifest("en") if e["path"] == "jfk.flac")
        audio, sr = load_audio_file(str(shared_data / "en" / entry["path"]))
        log = asyncio.run(stream_audio("ws://127.0.0.1:18080/ws/interviews/", audio, sample_rate=sr,
                                       channels=audio.shape[1], params={"language": "en"},
                                       origin="http://127.0.0.1"))
        assert log.complete is not None and log.close_code == 1000
        assert sorted({e["seq"] for e in log.of_type("audio_processed")}) == list(range(len(log.sent_at)))
    finally:
        subprocess.run([*base, "logs", "--no-color"], stdout=open(tmp_path / "compose.log", "w"), env=env)
        subprocess.run([*base, "down", "-v"], env=env, timeout=300)
        print(f"compose logs: {tmp_path / 'compose.log'}", file=sys.stderr)
