"""The LLM path against a local OpenAI-compatible server: success, fallbacks and every failure mode."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from analysis.answers.llm import LlmConfig, llm_judge, parse_json_reply

ANSWER = "When I was at Acme, our checkout was slow. I decided to add caching. As a result, latency dropped by 40%."
GOOD = {
    "strengths": ["Clear result with a number"],
    "improvements": ["Explain the trade-offs of caching"],
    "evidence": [
        {"criterion": "specificity", "quote": "latency dropped by 40%"},
        {"criterion": "action", "quote": "I rewrote the whole platform"},  # invented: must be dropped
    ],
}


class _Server:
    def __init__(self) -> None:
        self.mode = "ok"
        self.requests: list[dict[str, Any]] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                server.requests.append({"path": self.path, "body": body})
                mode = server.mode
                if mode == "slow":
                    time.sleep(2.0)
                if mode == "500":
                    return self._send(500, {"error": {"message": "boom", "type": "server_error"}})
                if mode == "no_schema" and "response_format" in body:
                    return self._send(400, {"error": {"message": "response_format not supported", "type": "invalid_request_error"}})
                content = {
                    "ok": json.dumps(GOOD),
                    "slow": json.dumps(GOOD),
                    "no_schema": "Here you go:\n```json\n" + json.dumps(GOOD) + "\n```",
                    "malformed": "strengths: good answer, improvements: none {not json",
                    "wrong_shape": json.dumps({"strengths": "one string", "improvements": []}),
                }[mode]
                self._send(200, {
                    "id": "chatcmpl-test", "object": "chat.completion", "created": 0, "model": body["model"],
                    "choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": content}}],
                    "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
                })

            def _send(self, status: int, payload: dict[str, Any]) -> None:
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                try:
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"


@pytest.fixture(scope="module")
def server() -> Iterator[_Server]:
    srv = _Server()
    thread = threading.Thread(target=srv.httpd.serve_forever, daemon=True)
    thread.start()
    yield srv
    srv.httpd.shutdown()
    srv.httpd.server_close()


def config(server: _Server, **kw: Any) -> LlmConfig:
    return LlmConfig(api_key="test-key", base_url=server.url, model="local-test", **{"timeout_s": 5.0, "max_retries": 0, **kw})


def judge(server: _Server, mode: str, **kw: Any) -> tuple[Any, list[str]]:
    server.mode = mode
    server.requests.clear()
    return llm_judge(question="Tell me about a time you improved performance.", answer=ANSWER, language="en", config=config(server, **kw))


def test_success_uses_json_schema_and_keeps_only_real_quotes(server: _Server) -> None:
    result, notes = judge(server, "ok")
    assert result is not None
    assert result.strengths == GOOD["strengths"] and result.improvements == GOOD["improvements"]
    assert result.evidence == [{"criterion": "specificity", "quote": "latency dropped by 40%"}]
    assert notes == ["LLM evidence: 1 quote(s) not found in the answer were dropped"]
    req = server.requests[0]
    assert req["path"] == "/v1/chat/completions"
    assert req["body"]["response_format"]["type"] == "json_schema"
    assert req["body"]["model"] == "local-test"


def test_endpoint_without_json_schema_falls_back_to_json_in_text(server: _Server) -> None:
    result, _ = judge(server, "no_schema")
    assert result is not None and result.strengths == GOOD["strengths"]
    assert len(server.requests) == 2 and "response_format" not in server.requests[1]["body"]


def test_timeout_returns_none_with_a_note_quickly(server: _Server) -> None:
    started = time.monotonic()
    result, notes = judge(server, "slow", timeout_s=0.5)
    assert result is None and notes == ["LLM judgement failed: no reply within 0.5 s"]
    assert time.monotonic() - started < 1.9


def test_http_500_is_retried_a_bounded_number_of_times(server: _Server) -> None:
    result, notes = judge(server, "500", max_retries=1)
    assert result is None and notes == ["LLM judgement failed: HTTP 500"]
    assert len(server.requests) == 2


def test_malformed_and_wrong_shape_replies(server: _Server) -> None:
    result, notes = judge(server, "malformed")
    assert result is None and notes == ["LLM judgement failed: reply was not valid JSON"]
    result, notes = judge(server, "wrong_shape")
    assert result is None and "schema" in notes[0]


def test_no_key_means_no_call(server: _Server) -> None:
    server.requests.clear()
    result, notes = llm_judge(question="q", answer=ANSWER, language="en", config=LlmConfig(api_key=None, base_url=server.url))
    assert result is None and "OPENAI_API_KEY" in notes[0] and server.requests == []
    env = LlmConfig.from_env({"OPENAI_API_KEY": "k", "OPENAI_BASE_URL": "http://x/v1", "OPENAI_MODEL": "m"})
    assert (env.api_key, env.base_url, env.model, env.enabled) == ("k", "http://x/v1", "m", True)
    assert LlmConfig.from_env({}).enabled is False


def test_parse_json_reply_variants() -> None:
    assert parse_json_reply('{"a": 1}') == {"a": 1}
    assert parse_json_reply('text ```json\n{"a": 2}\n``` more') == {"a": 2}
    assert parse_json_reply('Sure! {"a": 3} hope this helps') == {"a": 3}
    assert parse_json_reply("[1, 2]") is None and parse_json_reply("nope") is None
