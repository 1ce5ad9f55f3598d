"""clients/js (the console's modules as a package) built and run under Node's test runner against a
live server process; what it received is checked against docs/protocol.schema.json and the reference text."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import jsonschema
import numpy as np
import pytest
from shareddata import DATA, manifest
from textnorm import error_rate

from analysis.audio.preprocess import file_to_16k_mono

REPO = Path(__file__).resolve().parents[2]
PACKAGE = REPO / "clients" / "js"
CLIP = "1089-134686-0000.flac"
NODE = shutil.which("node")
needs_node = pytest.mark.skipif(NODE is None, reason="node is not installed")


def _node(*args: str, env: dict[str, str] | None = None, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([NODE or "node", *args], cwd=PACKAGE, capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, **(env or {})})  # fmt: skip


@needs_node
def test_package_builds_and_declares_its_exports() -> None:
    assert _node("build.mjs").returncode == 0
    result = _node("--experimental-websocket", "--test", "test/exports.test.mjs")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    for name in ("connection.js", "ledger.js", "capture.js", "opus-encoder.js"):  # the console's code, unchanged
        assert (PACKAGE / "dist" / name).read_bytes() == (REPO / "static" / "console" / name).read_bytes()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory):
    workdir = tmp_path_factory.mktemp("js-client-server")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "DATABASE_URL")}
    env.update(PORT=str(port), HOST="127.0.0.1", DEBUG="1", SQLITE_PATH=str(workdir / "db.sqlite3"),
               MEDIA_ROOT=str(workdir / "media"), DJANGO_SETTINGS_MODULE="interview_project.settings", FINAL_PASS="0")
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0", "--noinput"], cwd=REPO, env=env, check=True, timeout=120)
    log = open(workdir / "server.log", "wb")  # noqa: SIM115 - closed after the process
    process = subprocess.Popen([sys.executable, "-m", "interview_project.serve"], cwd=REPO, env=env, stdout=log,
                               stderr=subprocess.STDOUT)  # fmt: skip
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2):
                    break
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError((workdir / "server.log").read_text()[-3000:]) from None
                time.sleep(0.3)
        yield f"ws://127.0.0.1:{port}/ws/interviews/"
    finally:
        process.terminate()
        process.wait(timeout=20)
        log.close()


@needs_node
@pytest.mark.models
def test_js_client_streams_a_live_interview_with_a_resume(server: str, tmp_path: Path) -> None:
    entry = next(m for m in manifest("en") if m["path"] == CLIP)
    audio = file_to_16k_mono(str(DATA / "en" / CLIP))
    pcm = tmp_path / "speech.s16le"
    pcm.write_bytes((np.clip(audio, -1, 1) * 32767).astype("<i2").tobytes())
    out = tmp_path / "received.json"
    assert _node("build.mjs").returncode == 0
    result = _node("--experimental-websocket", "--test", "test/live.test.mjs", timeout=300,
                   env={"INTERVIEW_WS_URL": server, "INTERVIEW_PCM": str(pcm), "INTERVIEW_OUT": str(out)})  # fmt: skip
    assert result.returncode == 0 and "# pass 1" in result.stdout, result.stdout[-4000:] + result.stderr[-2000:]
    received = json.loads(out.read_text())
    schema = json.loads((REPO / "docs" / "protocol.schema.json").read_text())
    validator = jsonschema.Draft202012Validator({k: v for k, v in schema.items() if k != "anyOf"} |
                                                {"$ref": "#/$defs/ServerMessage"})  # fmt: skip
    for event in received["events"]:
        assert validator.is_valid(event), event
    complete = next(e for e in received["events"] if e["type"] == "session_complete")
    text = " ".join(s["text"] for s in complete["segments"])
    assert error_rate(entry["text"], text, "en") < 0.15, text
