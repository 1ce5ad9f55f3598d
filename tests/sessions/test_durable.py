"""Never lose an interview, in production mode (``DEBUG=0``: tickets, consent) on the embedded shape, through the
real ASGI app with its worker thread. Each fault is compared with an uninterrupted run of the same recording:
the same committed transcript, every seq answered once and in order, stored duration == audio sent, completed.

The same guarantees on the process shape (daphne + Celery worker + own Redis + MariaDB) are in
``tests/reliability/``.
"""

from __future__ import annotations

import asyncio
import json
import struct
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from channels.testing import WebsocketCommunicator
from django.test import override_settings

from analysis.audio.preprocess import file_to_16k_mono
from interview_project.asgi import application
from sessions import state
from clients.python.interview_client import pcm16
from sessions.models import Interview
from sessions.recording import Recording
from sessions.tickets import ticket_issue

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.models]

ORIGIN = [(b"origin", b"http://127.0.0.1")]
CHUNK = 4000  # 250 ms at 16 kHz


@pytest.fixture(autouse=True)
def _production(settings, tmp_path):
    settings.DEBUG = False
    settings.FINAL_PASS = False
    settings.MEDIA_ROOT = tmp_path / "media"
    with override_settings(DEBUG=False):
        yield
    from celery.worker import state as worker_state

    for _ in range(400):  # let the embedded worker finish what the test started
        if not worker_state.active_requests:
            break
        time.sleep(0.05)


@pytest.fixture
def owner(django_user_model: Any, grant: Any) -> Any:
    return grant(django_user_model.objects.create_user("owner"), "interviewer")


@pytest.fixture
def pieces(shared_data: Path) -> list[np.ndarray]:
    audio = file_to_16k_mono(str(shared_data / "en" / "jfk.flac"))
    return [audio[i : i + CHUNK] for i in range(0, len(audio), CHUNK)]


def frame(seq: int, piece: np.ndarray) -> bytes:
    return struct.pack(">I", seq) + pcm16(piece)


async def open_socket(query: str) -> tuple[WebsocketCommunicator, dict[str, Any]]:
    communicator = WebsocketCommunicator(application, f"/ws/interviews/?{query}", headers=ORIGIN)
    connected, _ = await communicator.connect(timeout=10)
    assert connected
    return communicator, await communicator.receive_json_from(timeout=10)


async def ticket(user: Any) -> str:
    from asgiref.sync import sync_to_async

    return (await sync_to_async(ticket_issue)(user_id=user.pk)).ticket


async def collect_until(communicator: WebsocketCommunicator, kind: str, out: list[dict[str, Any]], timeout: float = 120) -> dict[str, Any]:
    while True:
        message = await communicator.receive_json_from(timeout=timeout)
        out.append(message)
        if message["type"] == kind:
            return message


async def wait_processed(communicator: WebsocketCommunicator, seq: int, out: list[dict[str, Any]]) -> None:
    while not any(m["type"] == "audio_processed" and m["seq"] == seq for m in out):
        out.append(await communicator.receive_json_from(timeout=120))


def answered(events: list[dict[str, Any]]) -> list[int]:
    return [m["seq"] for m in events if m["type"] == "audio_processed"]


def transcript(complete: dict[str, Any]) -> list[str]:
    return [s["text"] for s in sorted(complete["segments"], key=lambda s: s["id"])]


_REFERENCE: dict[str, list[str]] = {}


async def reference(owner: Any, pieces: list[np.ndarray]) -> list[str]:
    """The uninterrupted run of the same recording (computed once per test session)."""
    if "jfk" not in _REFERENCE:
        communicator, ack = await open_socket(f"language=en&consent=1&ticket={await ticket(owner)}")
        events: list[dict[str, Any]] = []
        for seq, piece in enumerate(pieces):
            await communicator.send_to(bytes_data=frame(seq, piece))
        await communicator.send_json_to({"type": "session_end"})
        complete = await collect_until(communicator, "session_complete", events)
        assert answered(events) == list(range(len(pieces)))
        _REFERENCE["jfk"] = transcript(complete)
        assert any("country" in t for t in _REFERENCE["jfk"])
    return _REFERENCE["jfk"]


async def assert_complete_like_reference(session_id: str, complete: dict[str, Any], expected: list[str],
                                         pieces: list[np.ndarray]) -> None:
    assert transcript(complete) == expected
    interview = await Interview.objects.aget(pk=session_id)
    sent_s = sum(len(p) for p in pieces) / 16000
    assert interview.status == Interview.Status.COMPLETED and interview.audio
    assert interview.duration_s == pytest.approx(sent_s, abs=1e-3)
    assert interview.last_seq == len(pieces) - 1


async def test_resume_in_production_needs_no_second_consent_and_only_the_owner(owner, pieces, django_user_model, grant):
    from asgiref.sync import sync_to_async

    expected = await reference(owner, pieces)
    other = await sync_to_async(grant)(await django_user_model.objects.acreate(username="other"), "interviewer")
    communicator, ack = await open_socket(f"language=en&consent=1&ticket={await ticket(owner)}")
    events: list[dict[str, Any]] = []
    half = len(pieces) // 2
    for seq in range(half):
        await communicator.send_to(bytes_data=frame(seq, pieces[seq]))
    await wait_processed(communicator, half - 1, events)
    await communicator.disconnect()

    token = ack["resume_token"]
    for query, code, close in [
        (f"resume={token}&ticket={await ticket(other)}", "forbidden", 4403),  # not the owner
        (f"resume={token}", "unauthorized", 4401),  # a token alone is not enough
    ]:
        refused, error = await open_socket(query)
        assert error["type"] == "error_message" and error["code"] == code and error["fatal"]
        assert (await refused.receive_output(timeout=5))["code"] == close

    resumed, ack2 = await open_socket(f"resume={token}&ticket={await ticket(owner)}")  # no consent again
    assert ack2["type"] == "connection_ack" and ack2["session_id"] == ack["session_id"] and ack2["last_seq"] == half - 1
    for seq in range(half, len(pieces)):
        await resumed.send_to(bytes_data=frame(seq, pieces[seq]))
    await resumed.send_json_to({"type": "session_end"})
    complete = await collect_until(resumed, "session_complete", events)
    assert answered(events) == list(range(len(pieces)))  # every seq once, in order, across the resume
    await assert_complete_like_reference(ack["session_id"], complete, expected, pieces)

    # a resume after the end is told again that the session is complete
    again, ack3 = await open_socket(f"resume={token}&ticket={await ticket(owner)}")
    assert ack3["status"] == "complete"
    repeated = await collect_until(again, "session_complete", [])
    assert transcript(repeated) == expected
    assert (await again.receive_output(timeout=10))["code"] == 1000


async def test_a_second_socket_closes_the_first_with_4409(owner, pieces):
    first, ack = await open_socket(f"language=en&consent=1&ticket={await ticket(owner)}")
    await first.send_to(bytes_data=frame(0, pieces[0]))
    second, ack2 = await open_socket(f"resume={ack['resume_token']}&ticket={await ticket(owner)}")
    assert ack2["session_id"] == ack["session_id"]
    events: list[dict[str, Any]] = []
    error = await collect_until(first, "error_message", events)
    assert error["code"] == "superseded" and error["fatal"]
    assert (await first.receive_output(timeout=5)) == {"type": "websocket.close", "code": 4409}
    await second.send_json_to({"type": "ping", "ts": 1})
    assert (await collect_until(second, "pong", [])) == {"type": "pong", "ts": 1}
    await second.disconnect()


async def test_a_silent_socket_is_closed_after_the_heartbeat_timeout(owner, settings):
    settings.HEARTBEAT_TIMEOUT_S = 0.6
    communicator, ack = await open_socket(f"language=en&consent=1&ticket={await ticket(owner)}")
    for _ in range(3):  # pings keep it open
        await asyncio.sleep(0.3)
        await communicator.send_json_to({"type": "ping", "ts": 2})
        assert (await collect_until(communicator, "pong", []))["ts"] == 2
    error = await collect_until(communicator, "error_message", [], timeout=5)
    assert error["code"] == "heartbeat_timeout" and error["fatal"]
    assert (await communicator.receive_output(timeout=5)) == {"type": "websocket.close", "code": 4408}


async def test_redis_loss_mid_session_is_reported_then_rebuilt_from_the_recording(owner, pieces):
    expected = await reference(owner, pieces)
    communicator, ack = await open_socket(f"language=en&consent=1&ticket={await ticket(owner)}")
    session_id = ack["session_id"]
    events: list[dict[str, Any]] = []
    half = len(pieces) // 2
    for seq in range(half):
        await communicator.send_to(bytes_data=frame(seq, pieces[seq]))
    await wait_processed(communicator, half - 1, events)
    client = state.sync_client()
    lost = list(client.scan_iter(match=state.session_glob(session_id))) + [state.resume_key(ack["resume_token"])]
    client.delete(*lost)  # what a Redis restart without persistence does to the session

    for seq in range(half, len(pieces)):
        await communicator.send_to(bytes_data=frame(seq, pieces[seq]))
    await communicator.send_json_to({"type": "session_end"})
    complete = await collect_until(communicator, "session_complete", events)
    lost_errors = [m for m in events if m["type"] == "error_message"]
    assert [m["code"] for m in lost_errors] == ["state_lost"] and not lost_errors[0]["fatal"]
    assert answered(events) == list(range(len(pieces)))
    await assert_complete_like_reference(session_id, complete, expected, pieces)


async def test_an_abandoned_session_is_finalised_by_the_sweeper(owner, pieces, settings):
    expected = await reference(owner, pieces)
    communicator, ack = await open_socket(f"language=en&consent=1&ticket={await ticket(owner)}")
    session_id = ack["session_id"]
    for seq, piece in enumerate(pieces):
        await communicator.send_to(bytes_data=frame(seq, piece))
    # Every chunk answered first: the in-memory test database (SQLite, shared cache) fails a write with "table
    # is locked" instead of waiting, so the sweeper's update must not meet a chain's open transaction.
    await wait_processed(communicator, len(pieces) - 1, [])
    # the tab is closed: no session_end, nobody resumes. (The default 1-s wait cancelled the consumer with
    # frames still queued under load - audio the server had received but never stored, unlike daphne.)
    await communicator.disconnect(timeout=60)

    from asgiref.sync import sync_to_async

    from analysis.tasks import sweep_idle

    settings.SESSION_IDLE_FINALIZE_S = 3600
    assert await sync_to_async(sweep_idle)() == {}  # not idle long enough: left alone
    settings.SESSION_IDLE_FINALIZE_S = 0
    assert await sync_to_async(sweep_idle)() == {"finalize": 1}
    from scoring.models import InterviewReport

    for _ in range(600):  # the report is stored right after the status turns completed
        interview = await Interview.objects.aget(pk=session_id)
        if interview.status == Interview.Status.FAILED or await InterviewReport.objects.filter(interview_id=session_id).aexists():
            break
        await asyncio.sleep(0.2)
    assert interview.status == Interview.Status.COMPLETED, interview.end_reason
    assert "no session_end" in interview.end_reason
    segments = [s.text async for s in interview.segments.order_by("index")]
    assert segments == expected
    assert interview.duration_s == pytest.approx(sum(len(p) for p in pieces) / 16000, abs=1e-3)
    assert interview.audio


async def test_an_empty_idle_session_is_abandoned(owner, settings):
    communicator, ack = await open_socket(f"language=en&consent=1&ticket={await ticket(owner)}")
    await communicator.disconnect()
    from asgiref.sync import sync_to_async

    from analysis.tasks import sweep_idle

    settings.SESSION_IDLE_FINALIZE_S = 0
    assert await sync_to_async(sweep_idle)() == {"abandoned": 1}
    interview = await Interview.objects.aget(pk=ack["session_id"])
    assert interview.status == Interview.Status.ABANDONED and "no audio" in interview.end_reason


async def test_erasure_during_a_live_session_leaves_nothing(owner, pieces):
    communicator, ack = await open_socket(f"language=en&consent=1&ticket={await ticket(owner)}")
    session_id = ack["session_id"]
    events: list[dict[str, Any]] = []
    for seq in range(4):
        await communicator.send_to(bytes_data=frame(seq, pieces[seq]))
    await wait_processed(communicator, 3, events)
    from asgiref.sync import sync_to_async

    from sessions.retention import interview_erase

    interview = await Interview.objects.aget(pk=session_id)
    await sync_to_async(interview_erase)(interview=interview)
    await communicator.send_to(bytes_data=frame(4, pieces[4]))
    error = await collect_until(communicator, "error_message", events)
    assert error["code"] == "session_ended" and error["fatal"]
    await asyncio.sleep(2)  # whatever the worker still had queued
    assert not await Interview.objects.filter(pk=session_id).aexists()
    assert not Recording(session_id, sample_rate=16000, channels=1).exists()
    assert json.dumps(events)  # nothing else to check: the socket is closed


async def test_redis_keeps_a_bounded_window_and_the_transcript_is_unchanged(owner, pieces, settings):
    expected = await reference(owner, pieces)
    settings.LIVE_WINDOW_S = 1.0  # four 250-ms chunks: older audio is read back from the recording
    communicator, ack = await open_socket(f"language=en&consent=1&ticket={await ticket(owner)}")
    session_id = ack["session_id"]
    events: list[dict[str, Any]] = []
    for seq, piece in enumerate(pieces):
        await communicator.send_to(bytes_data=frame(seq, piece))
        if seq % 4 == 3 or seq == len(pieces) - 1:  # a second of audio at a time, as a live client sends it
            await wait_processed(communicator, seq, events)
    keys = state.Keys(session_id)
    client = state.sync_client()
    held = {name: client.hlen(key) for name, key in [("recv", keys.recv), ("result", keys.result)]}
    # of 44 chunks: the 1-s window (4 chunks) plus what publish and the client have not caught up with yet (a
    # burst's chunks share one chain, so its publish step is the last to trim until the next chunk arrives)
    assert max(held.values()) <= 10, held
    # audio: the window, plus the transcriber's uncommitted buffer (re-read from the recording when needed)
    first_seq = json.loads(client.get(keys.stt))["first_seq"]
    kept = sorted(int(s) for s in client.hkeys(keys.pcm))
    assert all(s >= min(first_seq, len(pieces) - 6) for s in kept), (first_seq, kept)
    await communicator.send_json_to({"type": "session_end"})
    complete = await collect_until(communicator, "session_complete", events)
    assert answered(events) == list(range(len(pieces)))
    await assert_complete_like_reference(session_id, complete, expected, pieces)


async def test_fifty_random_socket_drops_in_production_mode(owner, pieces):
    import random

    expected = await reference(owner, pieces)
    rng = random.Random(11)
    communicator, ack = await open_socket(f"language=en&consent=1&ticket={await ticket(owner)}")
    session_id, token = ack["session_id"], ack["resume_token"]
    events: list[dict[str, Any]] = []
    next_seq, drops = 0, 0
    while next_seq < len(pieces) or drops < 50:
        for _ in range(rng.randint(0, 2)):
            if next_seq < len(pieces):
                await communicator.send_to(bytes_data=frame(next_seq, pieces[next_seq]))
                next_seq += 1
        while not await communicator.receive_nothing(timeout=rng.choice([0.01, 0.05, 0.2])):
            events.append(await communicator.receive_json_from())
        await communicator.disconnect()  # a blip: whatever was in flight is lost
        drops += 1
        have = answered(events)
        delivered = have[-1] if have else -1
        communicator, ack2 = await open_socket(f"resume={token}&ticket={await ticket(owner)}&delivered={delivered}")
        assert ack2["type"] == "connection_ack" and ack2["session_id"] == session_id, ack2
        next_seq = ack2["last_seq"] + 1
    await communicator.send_json_to({"type": "session_end"})
    complete = await collect_until(communicator, "session_complete", events)
    assert answered(events) == list(range(len(pieces)))  # once each, in order, across 50 sockets
    await assert_complete_like_reference(session_id, complete, expected, pieces)
