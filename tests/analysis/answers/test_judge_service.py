"""The LLM judgement off the live chain: queued after commit, stored with the answer, pushed on its own, once."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest
from test_answers_llm import ANSWER, _Server

from analysis import judge_service
from analysis.models import AnswerAnalysis
from sessions.models import Interview

pytestmark = pytest.mark.django_db

QUESTION = "Tell me about a time you improved performance."


@pytest.fixture(scope="module")
def server() -> Iterator[_Server]:
    srv = _Server()
    thread = threading.Thread(target=srv.httpd.serve_forever, daemon=True)
    thread.start()
    yield srv
    srv.httpd.shutdown()
    srv.httpd.server_close()


@pytest.fixture
def llm_env(server: _Server, monkeypatch: pytest.MonkeyPatch) -> _Server:
    monkeypatch.setenv("OPENAI_API_KEY", "test-key")
    monkeypatch.setenv("OPENAI_BASE_URL", server.url)
    monkeypatch.setenv("OPENAI_MODEL", "local-test")
    monkeypatch.setenv("OPENAI_MAX_RETRIES", "0")
    monkeypatch.setenv("OPENAI_TIMEOUT_S", "5")
    server.requests.clear()
    server.mode = "ok"
    return server


def _answer() -> AnswerAnalysis:
    interview = Interview.objects.create(language="en")
    return AnswerAnalysis.objects.create(
        interview=interview, index=0, question_text=QUESTION, answer_text=ANSWER,
        analysis={"language": "en", "notes": []},
    )


def test_judgement_is_stored_with_the_answer_and_sent_as_its_own_feedback(llm_env: _Server) -> None:
    row = _answer()
    events = judge_service.answer_judge(session_id=str(row.interview_id), index=0)
    assert len(llm_env.requests) == 1
    [event] = events
    assert event["type"] == "real_time_feedback" and event["source"] == "llm" and event["answer_id"] == 0
    assert {"kind": "llm_strength", "severity": "info", "message": "Clear result with a number"} in event["items"]
    assert [e["quote"] for e in event["llm"]["evidence"]] == ["latency dropped by 40%"]  # invented quote dropped
    row.refresh_from_db()
    assert row.analysis["llm"] == event["llm"] and row.analysis["llm_status"] == "done"

    # a redelivered task finds the judgement stored: no second call, no second event
    assert judge_service.answer_judge(session_id=str(row.interview_id), index=0) == []
    assert len(llm_env.requests) == 1


def test_a_failed_judgement_leaves_a_note_and_sends_nothing(llm_env: _Server) -> None:
    llm_env.mode = "500"
    row = _answer()
    assert judge_service.answer_judge(session_id=str(row.interview_id), index=0) == []
    row.refresh_from_db()
    assert row.analysis["llm"] is None and row.analysis["llm_status"] == "failed"
    assert any("HTTP 500" in note for note in row.analysis["notes"])


def test_request_is_queued_on_the_slow_queue_after_commit(
    llm_env: _Server, monkeypatch: pytest.MonkeyPatch, django_capture_on_commit_callbacks: Any
) -> None:
    sent: list[tuple[str, Any, Any]] = []
    monkeypatch.setattr(judge_service.current_app, "send_task",
                        lambda name, args=None, queue=None, **kw: sent.append((name, args, queue)))
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        assert judge_service.answer_judge_request(session_id="s1", index=3)
    assert sent == []  # nothing leaves before the answer row is committed
    for callback in callbacks:
        callback()
    assert sent == [("interview.answer_judge", ["s1", 3], "interviews_slow")]
    assert llm_env.requests == []  # the live step itself never calls the LLM


def test_no_key_means_nothing_queued(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    assert judge_service.answer_judge_request(session_id="s1", index=0) is False
