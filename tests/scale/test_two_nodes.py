"""Two daphne nodes behind HAProxy, two Celery workers, one Redis and MariaDB: resume across nodes, events
from any worker, the metrics a scrape shows after a session, and /readyz following Redis and the workers.

The tests of this module share one deployment and run in file order; the readiness test, which stops Redis
and the workers, comes last.
"""

from __future__ import annotations

import asyncio
import json
import re

import pytest
import redis
import websockets
from scalestack import http_get, wait_for
from shareddata import manifest
from textnorm import error_rate

from analysis.audio.preprocess import load_audio_file
from clients.python.interview_client import StreamLog, stream_audio

pytestmark = [pytest.mark.scale, pytest.mark.integration, pytest.mark.models]
PARAMS = {"language": "en", "consent": "1"}


@pytest.fixture(scope="module")
def runs(two_nodes, shared_data) -> dict[str, object]:
    """The same interview twice at once: straight to daphne-a, and through HAProxy with a dropped socket."""
    deployment, _ = two_nodes
    entry = manifest("interviews")[0]
    audio, sr = load_audio_file(str(shared_data / "interviews" / entry["path"]))

    async def ticket() -> str:
        # straight from a node (tickets live in Redis): through the balancer, the ticket requests would take
        # turns in its round robin with the sockets, and the resume could land on the first node again
        return await deployment.aws_ticket("daphne-b")

    async def both() -> list[StreamLog]:
        return await asyncio.gather(
            stream_audio(deployment.ws_url("daphne-a"), audio[:, 0], sample_rate=sr, params=PARAMS,
                         get_ticket=ticket),
            stream_audio(deployment.ws_url(), audio[:, 0], sample_rate=sr, params=PARAMS, drop_at_s=15.0,
                         get_ticket=ticket),
        )

    clean, dropped = asyncio.run(both())
    return {"clean": clean, "dropped": dropped, "ref": entry["text"]}


def _socket_lines(deployment, session_id: str) -> dict[str, list[str]]:
    """Per daphne node: the socket lifecycle messages it logged for the session (JSON lines)."""
    return {name: [line["message"] for line in proc.json_lines()
                   if line.get("session_id") == session_id and line.get("message", "").startswith("websocket")]
            for name, (proc, _) in deployment.daphnes.items()}


def test_a_dropped_socket_resumes_on_the_other_node_with_the_same_transcript(runs, two_nodes):
    deployment, _ = two_nodes
    clean, dropped = runs["clean"], runs["dropped"]
    for log in (clean, dropped):
        assert [e["seq"] for e in log.of_type("audio_processed")][-1] == len(log.sent_at) - 1
        assert log.complete is not None and log.close_code == 1000, log.of_type("error_message")
    assert dropped.resumes == 1 and dropped.ack["session_id"] == dropped.complete["session_id"]
    assert sorted({e["seq"] for e in dropped.of_type("audio_processed")}) == list(range(len(dropped.sent_at)))
    assert dropped.transcript() == clean.transcript()
    assert error_rate(runs["ref"], clean.transcript(), "en") <= 0.15

    lines = _socket_lines(deployment, dropped.ack["session_id"])
    opened = [name for name, messages in lines.items() if "websocket opened" in messages]
    resumed = [name for name, messages in lines.items() if "websocket resumed" in messages]
    assert len(opened) == 1 and len(resumed) == 1 and opened != resumed, lines


def test_events_from_both_workers_reach_the_socket_wherever_it_is(runs, two_nodes):
    deployment, server = two_nodes
    client = redis.Redis.from_url(f"{server.url}/0")
    session_id = runs["dropped"].ack["session_id"]
    mon = {k.decode(): v.decode() for k, v in client.hgetall(f"iv:{{{session_id}}}:mon").items()}
    workers = {k.split(":", 1)[1].split("@")[0]: int(v) for k, v in mon.items() if k.startswith("worker:")}
    assert set(workers) == {"w1", "w2"} and min(workers.values()) > 0, workers
    # every chunk's result reached the client, before and after the move between nodes
    assert len(runs["dropped"].of_type("audio_processed")) >= len(runs["dropped"].sent_at)


class Samples(dict):
    """Exposition text as {(name, frozenset of label pairs): value}, whatever order the labels come in."""

    def __init__(self, text: str) -> None:
        super().__init__()
        for line in text.splitlines():
            if not line or line.startswith("#"):
                continue
            series, value = line.rsplit(" ", 1)
            name, _, labels = series.partition("{")
            pairs = frozenset(re.findall(r'(\w+)="([^"]*)"', labels))
            self[(name, pairs)] = float(value)

    def get_value(self, name: str, **labels: str) -> float | None:
        return self.get((name, frozenset(labels.items())))

    def __call__(self, name: str, **labels: str) -> float:
        value = self.get_value(name, **labels)
        assert value is not None, f"{name}{labels} not scraped"
        return value


def test_metrics_after_a_session(runs, two_nodes):
    deployment, _ = two_nodes

    async def bad_frame() -> None:
        ticket = await deployment.aws_ticket("daphne-b")
        async with websockets.connect(deployment.ws_url("daphne-b") + "?language=en&sample_rate=16000&channels=1"
                                      f"&consent=1&ticket={ticket}", origin="http://127.0.0.1") as ws:
            await ws.recv()  # connection_ack
            await ws.send("{not json")
            assert json.loads(await ws.recv())["code"] == "bad_json"
            await ws.send(json.dumps({"type": "session_end"}))

    asyncio.run(bad_frame())
    # the final passes of both sessions land on interviews_final; wait for their duration to be observed
    def scrape() -> Samples:
        status, body = http_get(deployment.url("daphne-b") + "/metrics", host="10.1.2.3")
        assert status == 200
        return Samples(body.decode())

    wait_for(lambda: (scrape().get_value("interview_final_pass_seconds_count") or 0) >= 2, timeout_s=300,
             what="two final passes observed", step_s=2)
    m = scrape()
    chunks = len(runs["clean"].sent_at) + len(runs["dropped"].sent_at)
    assert m("interview_chunks_accepted_total") >= chunks
    assert m("interview_ws_connects_total", kind="resume") >= 1
    assert m("interview_ws_connects_total", kind="new") >= 3
    assert m("interview_ws_closes_total", code="1000") >= 2
    assert m("interview_errors_total", code="bad_json") >= 1
    for stage in ("preprocess", "transcribe", "diarize", "analyze", "score", "publish"):
        assert m("interview_stage_seconds_count", stage=stage) > 0, stage
        assert m("interview_stage_seconds_bucket", stage=stage, le="+Inf") == m("interview_stage_seconds_count", stage=stage)
    assert m("interview_lag_ms_count") >= chunks
    assert m("interview_finalize_seconds_count") >= 2
    for queue in ("interviews", "interviews_final"):
        assert m("interview_queue_depth", queue=queue) >= 0
    assert m("interview_live_sessions") >= 0 and m("interview_scrape_backends_up") == 1
    assert m("interview_stt_suppressed_total", reason="no_speech") >= 0
    assert m("interview_ws_connections") >= 0
    assert m("interview_events_published_total", type="session_complete") >= 2
    # a worker serves its own processes' metrics too
    status, body = http_get(f"http://127.0.0.1:{deployment.workers['w1'][1]}/metrics")
    assert status == 200 and re.search(rb'interview_stage_seconds_count\{stage="transcribe"\} [1-9]', body)


def test_logs_are_json_with_the_session_context_and_no_transcript(runs, two_nodes):
    deployment, _ = two_nodes
    session_id = runs["dropped"].ack["session_id"]
    procs = [proc for proc, _ in [*deployment.daphnes.values(), *deployment.workers.values()]]
    lines = [line for proc in procs for line in proc.json_lines()]
    assert all({"ts", "level", "logger", "message", "session_id", "seq", "task_id", "stage", "node"} <= set(line)
               for line in lines)
    socket_lines = [line for line in lines if line["session_id"] == session_id and line["logger"] == "sessions.consumers"]
    assert socket_lines and all(line["node"] in ("daphne-a", "daphne-b") for line in socket_lines)
    task_lines = [line for line in lines if line["session_id"] and line["task_id"] and line["stage"]]
    assert task_lines and all(line["node"] and "@" in line["node"] for line in task_lines)
    # never transcript text: none of the interview's long words appears in any log, JSON or not
    words = {w for w in re.findall(r"[a-z]{9,}", runs["clean"].transcript().lower())}
    assert words
    for proc in procs:
        text = proc.log.read_text(errors="replace").lower()
        assert not [w for w in words if w in text], proc.name


def test_readyz_follows_redis_and_the_workers(two_nodes):
    deployment, server = two_nodes
    status, body = deployment.readyz("daphne-a", host="198.51.100.7")  # any Host header
    assert status == 200 and body["status"] == "ready", body
    assert set(body["checks"]) == {"database", "redis", "broker", "workers", "models"}

    server.stop()
    status, body = deployment.readyz("daphne-a")
    assert status == 503 and not body["checks"]["redis"]["ok"] and not body["checks"]["broker"]["ok"], body
    assert body["checks"]["database"]["ok"]
    assert http_get(deployment.url("daphne-a") + "/healthz", host="198.51.100.7")[0] == 200

    server.start()  # same port, empty: workers reconnect and announce their models again
    deployment.wait_ready("daphne-a", timeout_s=120)

    for proc, _ in deployment.workers.values():
        proc.stop()
    wait_for(lambda: deployment.readyz("daphne-b")[0] == 503, timeout_s=30, what="503 without workers")
    status, body = deployment.readyz("daphne-b")
    assert not body["checks"]["workers"]["ok"] and "interviews" in body["checks"]["workers"]["missing_queues"]
    assert body["checks"]["redis"]["ok"] and body["checks"]["broker"]["ok"]

    deployment.add_worker("w1")
    body = deployment.wait_ready("daphne-b", timeout_s=240)
    assert [name.split("@")[0] for name in body["checks"]["workers"]["workers"]] == ["w1"]
