"""The consumer through a real ASGI app (embedded shape: in-memory layer, fakeredis, worker thread).

Every bad input gets a clear error_message and the session keeps working afterwards.
"""

from __future__ import annotations

import base64
import json
import struct
import time

import numpy as np
import pytest
from channels.testing import WebsocketCommunicator

from analysis.audio.preprocess import file_to_16k_mono
from interview_project.asgi import application
from clients.python.interview_client import pcm16
from sessions.models import Interview, Note

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.models]

ORIGIN = [(b"origin", b"http://127.0.0.1")]
SILENCE_100MS = b"\x00\x00" * 1600


async def connect(query: str = "language=en") -> tuple[WebsocketCommunicator, dict]:
    communicator = WebsocketCommunicator(application, f"/ws/interviews/?{query}", headers=ORIGIN)
    connected, _ = await communicator.connect(timeout=10)
    assert connected
    ack = await communicator.receive_json_from(timeout=10)
    return communicator, ack


async def next_of(communicator: WebsocketCommunicator, kind: str, timeout: float = 30) -> dict:
    while True:
        message = await communicator.receive_json_from(timeout=timeout)
        if message["type"] == kind:
            return message


@pytest.fixture(autouse=True)
def _debug(settings):
    """The embedded shape as `make run` starts it: DEBUG on, anonymous sockets allowed (auth has its own tests).

    The final pass is off here (bench/final.py and the integration tests cover it): it would still be writing
    from the worker thread when the test database is flushed.
    """
    settings.DEBUG = True
    settings.FINAL_PASS = False
    yield
    from celery.worker import state as worker_state

    for _ in range(200):  # let the embedded worker finish what the test started
        if not worker_state.active_requests:
            break
        time.sleep(0.05)


def frame(seq: int, pcm: bytes = SILENCE_100MS) -> bytes:
    return struct.pack(">I", seq) + pcm


async def test_ack_ping_and_note():
    communicator, ack = await connect()
    assert ack["type"] == "connection_ack" and ack["protocol"] == 1 and ack["last_seq"] == -1
    assert ack["audio"] == {"encoding": "pcm_s16le", "sample_rate": 16000, "channels": 1, "max_chunk_ms": 2000}
    assert ack["resume_token"] and ack["heartbeat_s"] > 0
    await communicator.send_json_to({"type": "ping", "ts": 123})
    assert await next_of(communicator, "pong") == {"type": "pong", "ts": 123}
    await communicator.send_json_to({"type": "speaker_note", "text": "Why this role?", "kind": "question"})
    note_ack = await next_of(communicator, "note_ack")
    assert note_ack["kind"] == "question"
    assert await Note.objects.filter(interview_id=ack["session_id"], kind="question").acount() == 1
    assert await Interview.objects.filter(pk=ack["session_id"]).aexists()
    await communicator.disconnect()


async def test_every_bad_input_gets_an_error_and_the_session_goes_on():
    communicator, ack = await connect()
    cases = [
        ("text", "{oops", "bad_json"),
        ("text", json.dumps({"type": "teleport"}), "unknown_type"),
        ("text", json.dumps({"type": "audio_chunk", "audio": ""}), "missing_field"),
        ("bytes", frame(0, b"\x00\x00\x00"), "bad_audio"),
        ("bytes", frame(0, b"\x00\x00" * 16000 * 3), "chunk_too_large"),
    ]
    for kind, payload, code in cases:
        if kind == "text":
            await communicator.send_to(text_data=payload)
        else:
            await communicator.send_to(bytes_data=payload)
        error = await next_of(communicator, "error_message")
        assert error["code"] == code and error["fatal"] is False and error["message"]
    # a valid chunk is still accepted and answered
    await communicator.send_to(bytes_data=frame(0))
    processed = await next_of(communicator, "audio_processed")
    assert processed["seq"] == 0
    # duplicate: ignored, still acknowledged with its seq
    await communicator.send_to(bytes_data=frame(0))
    duplicate = await next_of(communicator, "error_message")
    assert duplicate["code"] == "duplicate_seq" and duplicate["seq"] == 0 and not duplicate["fatal"]
    # gap: names the expected seq, nothing stored
    await communicator.send_to(bytes_data=frame(5))
    gap = await next_of(communicator, "error_message")
    assert gap["code"] == "seq_gap" and "expected seq 1" in gap["message"]
    # JSON audio form continues the stream
    await communicator.send_json_to({"type": "audio_chunk", "seq": 1, "audio": base64.b64encode(SILENCE_100MS).decode()})
    assert (await next_of(communicator, "audio_processed"))["seq"] == 1
    await communicator.send_json_to({"type": "session_end"})
    await communicator.send_to(bytes_data=frame(2))
    late = await next_of(communicator, "error_message")
    assert late["code"] == "session_ended"
    complete = await next_of(communicator, "session_complete", timeout=60)
    assert complete["session_id"] == ack["session_id"] and complete["segments"] == []
    closed = await communicator.receive_output(timeout=10)
    assert closed == {"type": "websocket.close", "code": 1000}
    interview = await Interview.objects.aget(pk=ack["session_id"])
    assert interview.status == "completed" and interview.last_seq == 1 and interview.audio


async def test_audio_much_faster_than_real_time_is_refused(settings):
    settings.AUDIO_RATE_WINDOW_S = 0.5  # a budget of 2 s of audio (4x) in any half second
    communicator, _ack = await connect()
    second = b"\x00\x00" * 16000
    codes = []
    for seq in range(4):
        await communicator.send_to(bytes_data=frame(seq, second))
    for _ in range(4):
        message = await communicator.receive_json_from(timeout=30)
        codes.append(message.get("code") or message["type"])
    assert "too_fast" in codes
    await communicator.disconnect()


@pytest.mark.parametrize(("query", "close_code"), [("language=fr", 4400), ("sample_rate=1", 4400), ("resume=nope", 4404)])
async def test_fatal_errors_close_with_documented_codes(query, close_code):
    communicator = WebsocketCommunicator(application, f"/ws/interviews/?{query}", headers=ORIGIN)
    connected, _ = await communicator.connect(timeout=10)
    assert connected
    error = await communicator.receive_json_from(timeout=10)
    assert error["type"] == "error_message" and error["fatal"] is True
    closed = await communicator.receive_output(timeout=10)
    assert closed == {"type": "websocket.close", "code": close_code}


async def test_handshake_without_origin_is_refused():
    communicator = WebsocketCommunicator(application, "/ws/interviews/")
    connected, _ = await communicator.connect(timeout=10)
    assert not connected


async def test_korean_speech_is_transcribed_and_resume_keeps_the_session(shared_data):
    audio = file_to_16k_mono(str(shared_data / "ko" / "nea00001.wav"))
    chunk = 3200
    pieces = [audio[i : i + chunk] for i in range(0, len(audio), chunk)]
    communicator, ack = await connect("language=ko")
    half = len(pieces) // 2
    for seq, piece in enumerate(pieces[:half]):
        await communicator.send_to(bytes_data=frame(seq, pcm16(piece)))
    await communicator.disconnect()
    resumed, ack2 = await connect(f"resume={ack['resume_token']}")
    assert ack2["session_id"] == ack["session_id"] and ack2["last_seq"] == half - 1
    for seq in range(ack2["last_seq"] + 1, len(pieces)):
        await resumed.send_to(bytes_data=frame(seq, pcm16(pieces[seq])))
    await resumed.send_json_to({"type": "session_end"})
    complete = await next_of(resumed, "session_complete", timeout=120)
    text = "".join(s["text"] for s in complete["segments"]).replace(" ", "")
    assert "심폐소생술" in text or "자격증" in text
    assert np.isclose(complete["duration_s"], len(audio) / 16000, atol=0.01)


async def test_session_options_are_stored():
    from analysis.models import QuestionSet

    # transactional tests flush the seeded sets between tests: make sure this one exists
    await QuestionSet.objects.aget_or_create(slug="common-ko", defaults={"name": "Common (ko)", "language": "ko"})
    communicator, ack = await connect("language=ko&question_set=common-ko&consent=1&analysis_affect=0")
    await communicator.send_json_to({"type": "session_info", "candidate_name": "Kim"})
    assert await next_of(communicator, "session_info_ack") == {"type": "session_info_ack", "candidate_name": "Kim"}
    interview = await Interview.objects.select_related("question_set").aget(pk=ack["session_id"])
    assert interview.consent and not interview.analysis_affect and interview.candidate_name == "Kim"
    assert interview.question_set is not None and interview.question_set.slug == "common-ko"
    await communicator.disconnect()
    bad = WebsocketCommunicator(application, "/ws/interviews/?question_set=nope", headers=ORIGIN)
    await bad.connect(timeout=10)
    error = await bad.receive_json_from(timeout=10)
    assert error["code"] == "bad_parameters" and error["fatal"]


async def test_evaluation_request_is_acknowledged_then_scored():
    communicator, _ack = await connect()
    await communicator.send_json_to({"type": "evaluation_request", "scope": "session"})
    status = await next_of(communicator, "evaluation_status")
    assert status["scope"] == "session" and status["segments"] == 0
    update = await next_of(communicator, "score_update")
    assert update["scope"] == "session" and update["overall"] is None and update["band"] == [0.0, 100.0]
    await communicator.disconnect()
