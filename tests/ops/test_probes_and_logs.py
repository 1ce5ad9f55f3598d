"""Probes, the scrape, JSON logs and the monitoring page on the embedded default (no services needed)."""

from __future__ import annotations

import io
import json
import logging

import pytest
from django.contrib.auth import get_user_model
from django.test import Client, override_settings

from interview_project import health, logs, metrics
from interview_project.logs import AccessLog, ContextFilter, JsonFormatter
from sessions import monitor, state


@pytest.fixture
def client() -> Client:
    return Client(HTTP_HOST="10.11.12.13:8000")  # an address, as load balancers and kubelets send


@pytest.mark.django_db
@override_settings(ALLOWED_HOSTS=["interviews.example.com"], DEBUG=False)
def test_probes_answer_whatever_the_host_header(client):
    response = client.get("/healthz")
    assert response.status_code == 200 and response.json()["status"] == "ok"
    assert response["Cache-Control"] == "no-store"
    assert client.get("/metrics").status_code == 200
    assert client.get("/readyz").status_code in (200, 503)
    # every other URL still validates the Host header
    assert client.get("/api/interviews/").status_code == 400


@pytest.mark.django_db
def test_readyz_lists_each_check_and_fails_without_the_embedded_worker(client, monkeypatch):
    monkeypatch.setattr(health.embedded, "worker_alive", lambda: False)
    response = client.get("/readyz")
    body = response.json()
    assert response.status_code == 503 and body["status"] == "not_ready"
    assert set(body["checks"]) == {"database", "redis", "broker", "workers", "models"}
    assert body["checks"]["database"]["ok"] and body["checks"]["redis"]["ok"] and body["checks"]["broker"]["ok"]
    assert not body["checks"]["workers"]["ok"] and body["checks"]["workers"]["error"]


@pytest.mark.django_db
def test_readyz_is_200_when_every_check_passes(client, monkeypatch):
    monkeypatch.setattr(health.embedded, "worker_alive", lambda: True)
    monkeypatch.setattr(health.embedded, "models_loaded", lambda: True)
    response = client.get("/readyz")
    assert response.status_code == 200, response.json()
    assert response.json()["checks"]["broker"]["queue_depth"] == {"interviews": 0, "interviews_final": 0}


@pytest.mark.django_db
def test_readyz_reports_a_broken_redis(client, monkeypatch):
    class Down:
        def ping(self) -> None:
            raise ConnectionError("Error 111 connecting to 127.0.0.1:1. Connection refused.")

    monkeypatch.setattr(health.state, "probe_client", lambda: Down())
    body = client.get("/readyz").json()
    assert body["checks"]["redis"] == {"ok": False, "ms": body["checks"]["redis"]["ms"],
                                       "error": "ConnectionError: Error 111 connecting to 127.0.0.1:1. Connection refused."}


@pytest.mark.django_db
@override_settings(EMBEDDED=False)
def test_readyz_asks_no_worker_census_while_the_broker_is_down(client, monkeypatch):
    """The census and the models' heartbeats go through the broker and Redis: asked while those are down, their
    clients' retries made /readyz take 15 s, past a load balancer's probe timeout."""
    monkeypatch.setattr(health, "check_broker", lambda: health.Check(ok=False, error="OperationalError: down"))
    monkeypatch.setattr(health, "check_redis", lambda: health.Check(ok=False, error="ConnectionError: down"))

    def never(*args: object) -> health.Check:
        raise AssertionError("asked while its transport is down")

    monkeypatch.setattr(health, "check_workers", never)
    monkeypatch.setattr(health, "check_models", never)
    response = client.get("/readyz")
    body = response.json()
    assert response.status_code == 503
    assert body["checks"]["workers"]["error"] == "the broker is unreachable"
    assert body["checks"]["models"]["error"] == "Redis is unreachable"


@override_settings(METRICS_TOKEN="s3cret")
def test_metrics_can_require_a_bearer_token(client):
    assert client.get("/metrics").status_code == 401
    response = client.get("/metrics", HTTP_AUTHORIZATION="Bearer s3cret")
    assert response.status_code == 200 and b"interview_stage_seconds" in response.content


def test_metric_names_and_labels():
    metrics.ws_connected(resumed=True)
    metrics.ws_closed(4404)
    metrics.stt_suppressed(["silence_phrase"])
    metrics.event_published({"type": "audio_processed", "seq": 0, "lag_ms": 420})
    metrics.event_published({"type": "error_message", "code": "processing_failed"})
    metrics.stage_observed("transcribe", 0.3)
    text = metrics.render()[0].decode()
    for series in ('interview_ws_connects_total{kind="resume"}', 'interview_ws_closes_total{code="4404"}',
                   'interview_stt_suppressed_total{reason="silence_phrase"}', "interview_lag_ms_bucket",
                   'interview_errors_total{code="processing_failed"}', 'interview_stage_seconds_count{stage="transcribe"}',
                   'interview_stage_seconds_count{stage="publish"}', 'interview_stt_suppressed_total{reason="no_speech"}'):
        assert series in text, series


def _formatted(message: str, **extra: object) -> dict:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(ContextFilter())
    logger = logging.getLogger("test.ops.json")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        logger.warning(message, extra=extra)
    finally:
        logger.removeHandler(handler)
    return json.loads(stream.getvalue())


def test_json_lines_carry_the_context_and_never_text():
    with logs.bound(session_id="abc", seq=7, task_id="t-1", stage="transcribe"):
        line = _formatted("step done", text="the candidate said something", ms=12)
    assert line["session_id"] == "abc" and line["seq"] == 7 and line["task_id"] == "t-1" and line["stage"] == "transcribe"
    assert line["message"] == "step done" and line["ms"] == 12 and line["level"] == "WARNING" and "ts" in line
    assert "text" not in line
    assert _formatted("outside")["session_id"] is None


def test_access_log_drops_query_strings(caplog):
    with caplog.at_level(logging.INFO, logger="daphne.access"):
        AccessLog()("websocket", "connecting", {"client": ["1.2.3.4", 5], "path": "/ws/interviews/?resume=SECRET"})
        AccessLog()("http", "complete", {"client": ["1.2.3.4", 5], "method": "GET", "path": "/readyz", "status": 503,
                                         "size": 10})
    assert [r.getMessage() for r in caplog.records] == ["WSCONNECTING /ws/interviews/", "GET /readyz"]
    assert caplog.records[1].status == 503 and "SECRET" not in caplog.text


@pytest.mark.django_db
def test_monitoring_page_is_for_staff_and_lists_live_sessions():
    user_model = get_user_model()
    user_model.objects.create_user("viewer", password="pw")
    user_model.objects.create_user("ops", password="pw", is_staff=True)
    meta = state.SessionMeta(session_id="5b0c7f4e-0000-4000-8000-000000000001", language="en", sample_rate=16000,
                             channels=1, last_seq=3, audio_s=1.0)
    client = state.sync_client()
    client.hset(state.Keys(meta.session_id).meta, mapping=meta.to_redis())
    client.hset(state.Keys(meta.session_id).recv, 3, "1.0|0")
    client.zadd(monitor.LIVE_INDEX, {meta.session_id: 9e12})
    monitor.stage_done(session_id=meta.session_id, stage="transcribe", seconds=0.25, worker="w1@host")
    monitor.event_sent(session_id=meta.session_id, event={"type": "audio_processed", "seq": 3, "lag_ms": 640,
                                                          "timings_ms": {"stt": 200.0}})
    try:
        browser = Client()
        assert browser.get("/ops/live/").status_code == 302  # to the admin login
        browser.login(username="viewer", password="pw")
        assert browser.get("/ops/live.json").status_code == 302
        browser.login(username="ops", password="pw")
        page = browser.get("/ops/live/")
        assert page.status_code == 200 and b"Live sessions" in page.content
        data = browser.get("/ops/live.json").json()
        (row,) = [s for s in data["sessions"] if s["session_id"] == meta.session_id]
        assert row["lag_ms"] == 640 and row["worker"] == "w1@host" and row["stage_ms"] == {"transcribe": 250.0}
        assert row["last_seq"] == 3 and row["published_seq"] == 3 and row["last_chunk_age_s"] > 0
        assert data["queues"] == {"interviews": 0, "interviews_final": 0, "interviews_slow": 0}
        # a finished session leaves the index
        client.hset(state.Keys(meta.session_id).meta, "status", "complete")
        assert meta.session_id not in monitor.live_session_ids()
    finally:
        state.delete_session(meta.session_id)
        client.delete(monitor.mon_key(meta.session_id))


def test_the_grafana_dashboard_only_queries_metrics_we_export():
    import re
    from pathlib import Path

    from prometheus_client import REGISTRY

    exported = {name for family in REGISTRY.collect() for name in [family.name] + [s.name for s in family.samples]}
    exported |= {"interview_live_sessions", "interview_queue_depth", "interview_scrape_backends_up"}  # at scrape time
    dashboard = json.loads((Path(__file__).resolve().parents[2] / "deploy" / "grafana-dashboard.json").read_text())
    queried = {name for panel in dashboard["panels"] for target in panel["targets"]
               for name in re.findall(r"\binterview_\w+", target["expr"])}
    assert queried and queried <= exported, queried - exported


def test_sentry_events_carry_the_context_but_no_bodies_or_variables():
    event = {
        "request": {"url": "/ws", "data": "notes", "cookies": {"sessionid": "x"}},
        "exception": {"values": [{"stacktrace": {"frames": [{"function": "f", "vars": {"text": "said"}}]}}]},
    }
    with logs.bound(session_id="abc", stage="score"):
        scrubbed = logs._scrub(event, {})
    assert "data" not in scrubbed["request"] and "cookies" not in scrubbed["request"]
    assert "vars" not in scrubbed["exception"]["values"][0]["stacktrace"]["frames"][0]
    assert scrubbed["tags"] == {"session_id": "abc", "stage": "score"}


def test_sentry_switches_on_with_a_dsn_and_sends_no_pii():
    import os
    import subprocess
    import sys
    from pathlib import Path

    script = ("import django, json; django.setup(); import sentry_sdk; c = sentry_sdk.get_client(); "
              "print(json.dumps([c.is_active(), c.options['send_default_pii'], c.options['include_local_variables'], "
              "sorted(type(i).__name__ for i in c.integrations.values())]))")
    env = {**os.environ, "SENTRY_DSN": "http://key@127.0.0.1:9/1", "DJANGO_SETTINGS_MODULE": "interview_project.settings"}
    out = subprocess.run([sys.executable, "-c", script], cwd=Path(__file__).resolve().parents[2], env=env,
                         capture_output=True, text=True, check=True).stdout
    active, pii, local_vars, integrations = json.loads(out.strip().splitlines()[-1])
    assert active and not pii and not local_vars
    assert {"DjangoIntegration", "CeleryIntegration"} <= set(integrations)
