"""Every server event that ``sessions.events`` builds: JSON round-trip, and the same keys as docs/protocol.md."""

from __future__ import annotations

import json
import re
import typing
from pathlib import Path
from typing import Any

import pytest

from scoring.types import AnswerScore, SessionScore
from sessions import events

PROTOCOL = Path(__file__).resolve().parents[2] / "docs" / "protocol.md"

SEGMENT = {"id": 0, "start": 0.5, "end": 1.5, "text": "안녕하세요", "confidence": 0.9,
           "words": [{"w": "안녕하세요", "start": 0.5, "end": 1.5, "p": 0.9}], "language": "ko", "speaker": "S1",
           "role": "candidate", "role_confidence": 0.8}
ANSWER = AnswerScore(scores={"relevance": 70.0}, overall=70.0, evidence={})
SESSION = SessionScore(scores={"relevance": 70.0}, overall=70.0, band=(61.04, 78.96), n_answers=2)

BUILT: list[tuple[type, dict[str, Any]]] = [
    (events.AudioProcessed, events.audio_processed(seq=3, segments=[SEGMENT], partial="네", lag_ms=120,
                                                   timings_ms={"stt_step": 80.0})),
    (events.FinalProgress, events.final_progress(stage="diarize", done=0.5)),
    (events.SessionComplete, events.session_complete(session_id="x", duration_s=12.5, segments=[SEGMENT],
                                                     report_url="/interviews/x/report/",
                                                     report={"stage": "live", "overall": {}, "answers": [],
                                                             "speakers": []})),
    (events.SessionComplete, events.session_complete(session_id="x", duration_s=None, segments=[],
                                                     report_url="/interviews/x/report/", report=None)),
    (events.RealTimeFeedback, events.live_feedback(answer_id=1, question="Why?", metrics={"rate": 300.0},
                                                   items=[{"kind": "pace", "severity": "warn", "message": "…"}])),
    *[(events.RealTimeFeedback if e["type"] == "real_time_feedback" else events.ScoreUpdate, e)
      for e in events.answer_scored(answer_id=1, question="Why?", feedback=[], delivery={"rate": 300.0},
                                    score=ANSWER)],
    (events.ScoreUpdate, events.answer_score(answer_id=1, score=ANSWER, provisional=True)),
    (events.ScoreUpdate, events.session_score(SESSION)),
    (events.ScoreUpdate, events.no_score("session")),
    (events.ScoreUpdate, events.no_score("answer")),
    (events.EvaluationStatus, events.evaluation_status(scope="answer", audio_s=12.345, segments=3, words=20,
                                                       transcribed_s=11.2)),
    (events.ErrorMessage, events.error_message(code="processing_failed", message="…", fatal=False, seq=4)),
    (events.ErrorMessage, events.error_message(code="processing_failed", message="…", fatal=False)),
    (events.AudioProcessed, events.audio_processed(seq=4, segments=[], partial="", lag_ms=2500, timings_ms={},
                                                   degraded=["partials", "feedback"])),
    (events.RealTimeFeedback, events.llm_feedback(answer_id=1, question="Why?",
                                                  items=[{"kind": "llm_strength", "severity": "info", "message": "…"}],
                                                  judgement={"strengths": ["…"], "improvements": [], "evidence": []})),
    (events.Queued, events.queued(position=2, capacity=4)),
    (events.RoleCorrection, events.role_correction(
        speakers=[{"speaker": "S1", "previous_role": "interviewer", "role": "candidate", "role_confidence": 0.93,
                   "reason": "evidence"}],
        segment_ids=[3, 0])),
]


def _keys(shape: type) -> tuple[set[str], set[str]]:
    """(required, optional) keys of a TypedDict (read from the hints: ``__required_keys__`` misses
    ``NotRequired`` under postponed annotations on Python 3.11)."""
    hints = typing.get_type_hints(shape, include_extras=True)
    optional = {k for k, v in hints.items() if typing.get_origin(v) is typing.NotRequired}
    return set(hints) - optional, optional


def _documented() -> dict[str, tuple[set[str], set[str]]]:
    """type -> (required keys, optional keys) from the Server → client section of docs/protocol.md."""
    text = PROTOCOL.read_text()
    section = text[text.index("## Server → client"):]
    section = section[: section.index("\n## ", 1)]
    out: dict[str, tuple[set[str], set[str]]] = {}
    for shape in re.findall(r"`(\{\"type\":\"\w+\".*?\})`", section):
        top, depth = [], 0
        for ch in shape:  # keep only the top level: nested objects and lists are the payload's business
            depth += ch in "{["
            depth -= ch in "}]"
            if depth == 1 or (depth == 0 and ch == "}"):
                top.append(ch)
        flat = "".join(top)
        keys = re.findall(r"[{,]\s*\"(\w+)\"(\??)", flat)
        kind = re.match(r'\{"type":"(\w+)"', shape).group(1)
        out[kind] = ({k for k, opt in keys if not opt}, {k for k, opt in keys if opt})
    return out


@pytest.mark.parametrize("shape,event", BUILT, ids=[f"{e['type']}-{i}" for i, (_, e) in enumerate(BUILT)])
def test_every_event_round_trips_and_matches_its_type_and_the_protocol(shape: type, event: dict[str, Any]) -> None:
    assert json.loads(json.dumps(event, ensure_ascii=False)) == event
    required, optional = _keys(shape)
    assert required <= set(event) <= required | optional
    assert typing.get_args(typing.get_type_hints(shape)["type"]) == (event["type"],)
    doc_required, doc_optional = _documented()[event["type"]]
    assert (set(required), set(optional)) == (doc_required, doc_optional), "events.py and docs/protocol.md differ"


def test_every_event_type_is_built_and_documented() -> None:
    types = {typing.get_args(typing.get_type_hints(t)["type"])[0] for t in typing.get_args(events.Event)}
    assert types == {e["type"] for _, e in BUILT}
    assert types == set(_documented())


def test_a_worker_publishes_every_event_on_one_loop_that_keeps_its_redis_connections(monkeypatch):
    """A worker process (no server loop) sends on one long-lived loop: async_to_sync made a new loop, a new
    thread and new Redis connections for every event. Real Redis, its own database."""
    import threading

    import redis
    from asgiref.sync import async_to_sync
    from channels_redis.core import RedisChannelLayer

    url = "redis://127.0.0.1:6379/13"
    try:
        redis.Redis.from_url(url, socket_connect_timeout=2).ping()
    except redis.ConnectionError:
        pytest.skip("no Redis on 127.0.0.1:6379")
    layer = RedisChannelLayer(hosts=[url])  # the test's end, on its own loops
    sender = RedisChannelLayer(hosts=[url])  # the worker's, used only on its publisher loop
    monkeypatch.setattr(events, "get_channel_layer", lambda: sender)
    monkeypatch.setattr(events, "_server_loop", None)
    monkeypatch.setattr(events, "_publisher", events._PublisherLoop())
    async def join() -> str:
        channel = await layer.new_channel()
        await layer.group_add(events.group_name("s"), channel)
        return channel

    channel = async_to_sync(join)()
    loops = []

    def worker() -> None:  # a Celery task's thread: no event loop of its own
        for seq in range(3):
            events.publish("s", events.audio_processed(seq=seq, segments=[], partial="", lag_ms=0, timings_ms={}))
            loops.append(events._publisher.loop)

    thread = threading.Thread(target=worker)
    thread.start()
    thread.join(30)
    async def receive_three() -> list[int]:
        received = [(await layer.receive(channel))["event"]["seq"] for _ in range(3)]
        await layer.flush()
        return received

    received = async_to_sync(receive_three)()
    assert received == [0, 1, 2]
    assert len(set(map(id, loops))) == 1 and loops[0].is_running()
    assert sum(t.name == "event-publisher" for t in threading.enumerate()) == 1


def test_a_late_event_for_an_ended_server_loop_is_dropped_not_sent_from_a_worker_thread(monkeypatch):
    """Embedded mode: the in-memory layer is not thread-safe, so a worker thread hands its sends to the server's
    loop; once that loop has ended (a test's loop, a stopped server) nobody can receive, and nothing is sent."""
    import asyncio
    import threading

    from channels.layers import InMemoryChannelLayer

    layer = InMemoryChannelLayer()
    sent: list[str] = []

    async def group_send(group: str, message: dict) -> None:
        sent.append(group)

    monkeypatch.setattr(layer, "group_send", group_send)
    monkeypatch.setattr(events, "get_channel_layer", lambda: layer)
    ended = asyncio.new_event_loop()
    ended.close()
    monkeypatch.setattr(events, "_server_loop", ended)

    def worker() -> None:
        events.publish("s", events.audio_processed(seq=0, segments=[], partial="", lag_ms=0, timings_ms={}))

    thread = threading.Thread(target=worker)
    thread.start()
    thread.join(10)
    assert sent == []
    monkeypatch.setattr(events, "_server_loop", None)  # no server loop yet: sent as before (async_to_sync)
    thread = threading.Thread(target=worker)
    thread.start()
    thread.join(10)
    assert sent == [events.group_name("s")]
