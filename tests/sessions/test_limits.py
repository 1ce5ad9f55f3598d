"""Each limit on one client hit once, through the real ASGI app outside DEBUG (tickets, consent), and
answered with its documented code (docs/protocol.md "Limits"); malformed JSON gets an error, not a 1011.

No models load here: chunk processing and evaluations are not enqueued (their own tests cover them).
"""

from __future__ import annotations

import struct
import time
from typing import Any

import pytest
from channels.testing import WebsocketCommunicator
from django.test import override_settings

from sessions import limits, services, state
from sessions.protocol import ACCEPTED_SAMPLE_RATES, AudioChunk, CloseCode, ErrorCode, ProtocolError, parse_connect
from sessions.state import SessionMeta
from sessions.tickets import ticket_issue

pytestmark = [pytest.mark.django_db(transaction=True)]
SILENCE_100MS = b"\x00\x00" * 1600


@pytest.fixture
def app(monkeypatch: pytest.MonkeyPatch) -> Any:
    import analysis.embedded
    import analysis.tasks

    monkeypatch.setattr(analysis.embedded, "start_embedded_worker", lambda: None)
    monkeypatch.setattr(analysis.tasks, "enqueue_chunk", lambda session_id, seq: None)
    monkeypatch.setattr(analysis.tasks, "enqueue_finalize", lambda session_id: None)
    # session_end queues finalize by name (services._send): an embedded worker left running by an earlier test
    # then finalised the session while the next socket's INSERT met its write ("database table is locked")
    monkeypatch.setattr(services, "_send", lambda *args, **kwargs: None)

    async def no_evaluation(**kwargs: Any) -> None:
        return None

    monkeypatch.setattr(services, "evaluation_enqueue", no_evaluation)
    from interview_project.asgi import application

    return application


@pytest.fixture
def user(django_user_model: Any, grant: Any) -> Any:
    return grant(django_user_model.objects.create_user("limited"), "interviewer")


async def open_socket(app: Any, user: Any, query: str = "language=en&consent=1") -> tuple[WebsocketCommunicator, dict]:
    ticket = ticket_issue(user_id=user.pk).ticket
    communicator = WebsocketCommunicator(app, f"/ws/interviews/?{query}&ticket={ticket}",
                                         headers=[(b"origin", b"http://127.0.0.1")])  # fmt: skip
    connected, _ = await communicator.connect(timeout=10)
    assert connected
    return communicator, await communicator.receive_json_from(timeout=10)


def frame(seq: int, pcm: bytes = SILENCE_100MS) -> bytes:
    return struct.pack(">I", seq) + pcm


@override_settings(DEBUG=False, WS_TEXT_FRAMES_PER_S=1.0, WS_TEXT_FRAMES_BURST=5.0)
async def test_text_frame_flood_is_answered_with_rate_limited(app, user):
    communicator, ack = await open_socket(app, user)
    for n in range(12):
        await communicator.send_json_to({"type": "ping", "ts": n})
    answers = [await communicator.receive_json_from(timeout=5) for _ in range(12)]
    kinds = [a["type"] if a["type"] == "pong" else a["code"] for a in answers]
    assert kinds[:5] == ["pong"] * 5 and set(kinds[5:]) == {ErrorCode.RATE_LIMITED}, kinds
    assert all(not a.get("fatal") for a in answers)
    await communicator.disconnect()
    state.delete_session(ack["session_id"])


@override_settings(DEBUG=False)
async def test_one_pending_evaluation_per_session(app, user):
    communicator, ack = await open_socket(app, user)
    await communicator.send_json_to({"type": "evaluation_request", "scope": "session"})
    assert (await communicator.receive_json_from(timeout=5))["type"] == "evaluation_status"
    await communicator.send_json_to({"type": "evaluation_request", "scope": "answer"})
    refused = await communicator.receive_json_from(timeout=5)
    assert refused["code"] == ErrorCode.EVALUATION_PENDING and not refused["fatal"]
    limits.evaluation_release(session_id=ack["session_id"])  # what the evaluation task does when it is done
    await communicator.send_json_to({"type": "evaluation_request", "scope": "session"})
    assert (await communicator.receive_json_from(timeout=5))["type"] == "evaluation_status"
    await communicator.disconnect()
    state.delete_session(ack["session_id"])


@override_settings(DEBUG=False, MAX_SESSIONS_PER_USER=1)
async def test_concurrent_sessions_per_user(app, user):
    from sessions.models import Interview

    first, ack = await open_socket(app, user)
    second, refused = await open_socket(app, user)
    assert refused["code"] == ErrorCode.TOO_MANY_SESSIONS and refused["fatal"]
    assert (await second.receive_output(timeout=5)) == {"type": "websocket.close", "code": CloseCode.TOO_MANY_SESSIONS}
    assert await Interview.objects.acount() == 1  # the refused socket created nothing
    # a disconnect keeps the session resumable, so it still counts; session_end frees the slot
    await first.send_json_to({"type": "session_end"})
    await first.disconnect()
    third, ack3 = await open_socket(app, user)
    assert ack3["type"] == "connection_ack"
    await third.disconnect()
    for session_id in (ack["session_id"], ack3["session_id"]):
        state.delete_session(session_id)


@override_settings(DEBUG=False, MAX_SESSION_S=0.25)
async def test_maximum_session_length(app, user):
    communicator, ack = await open_socket(app, user)
    await communicator.send_to(bytes_data=frame(0))
    await communicator.send_to(bytes_data=frame(1))
    await communicator.send_to(bytes_data=frame(2))
    error = await communicator.receive_json_from(timeout=5)
    assert error["code"] == ErrorCode.SESSION_TOO_LONG and error["seq"] == 2 and not error["fatal"]
    assert (await state.async_client().hget(state.Keys(ack["session_id"]).meta, "last_seq")) == b"1"
    await communicator.disconnect()
    state.delete_session(ack["session_id"])


@override_settings(AUDIO_MAX_SPEED=4.0, AUDIO_RATE_WINDOW_S=10.0)
async def test_speed_limit_is_a_sliding_window_without_idle_credit():
    """14 idle minutes buy nothing: after them the client still gets one window's budget (4 × 10 s)."""
    meta = SessionMeta(session_id="speed-test", language="en", sample_rate=16000, channels=1, started_wall=0.0)
    two_s = b"\x00\x00" * 32000
    await services.chunk_accept(meta=meta, chunk=AudioChunk(seq=0, pcm=two_s), now=0.0)
    later = 14 * 60.0
    for seq in range(1, 21):  # 20 × 2 s = 40 s within the window: the whole budget
        await services.chunk_accept(meta=meta, chunk=AudioChunk(seq=seq, pcm=two_s), now=later + seq * 0.01)
    with pytest.raises(ProtocolError) as refused:
        await services.chunk_accept(meta=meta, chunk=AudioChunk(seq=21, pcm=two_s), now=later + 0.5)
    assert refused.value.code == ErrorCode.TOO_FAST and refused.value.seq == 21
    # the window slides: ten seconds later the same chunk is accepted
    await services.chunk_accept(meta=meta, chunk=AudioChunk(seq=21, pcm=two_s), now=later + 10.3)
    assert meta.last_seq == 21
    keys = state.Keys("speed-test")
    await state.async_client().delete(*keys.all(), limits.speed_window_key("speed-test"))


def test_only_the_listed_sample_rates_are_accepted():
    for rate in ACCEPTED_SAMPLE_RATES:
        assert parse_connect(f"sample_rate={rate}").sample_rate == rate
    for rate in ("47999", "8001", "96000", "9" * 5000):
        with pytest.raises(ProtocolError) as refused:
            parse_connect(f"sample_rate={rate}")
        assert refused.value.code == ErrorCode.BAD_PARAMETERS and refused.value.fatal


@override_settings(DEBUG=False)
async def test_nested_json_surrogates_and_huge_numbers_get_an_error_message(app, user):
    communicator, ack = await open_socket(app, user)
    cases = [
        ("[" * 40_000 + "]" * 40_000, ErrorCode.BAD_JSON),
        ('{"type": "speaker_note", "text": "\\ud800"}', ErrorCode.BAD_JSON),
        ('{"type": "ping", "ts": ' + "9" * 5000 + "}", ErrorCode.BAD_JSON),
        ('{"type": "ping", "ts": 1e999}', ErrorCode.INVALID_FIELD),
        ('{"type": "audio_chunk", "seq": ' + "1" * 30 + ', "audio": ""}', ErrorCode.INVALID_FIELD),
        ("x" * 200_000, ErrorCode.MESSAGE_TOO_LARGE),
    ]
    for text, code in cases:
        await communicator.send_to(text_data=text)
        error = await communicator.receive_json_from(timeout=10)
        assert error["type"] == "error_message" and error["code"] == code and not error["fatal"], (text[:40], error)
    await communicator.send_json_to({"type": "ping", "ts": time.time()})
    assert (await communicator.receive_json_from(timeout=5))["type"] == "pong"
    await communicator.disconnect()
    state.delete_session(ack["session_id"])


@override_settings(DEBUG=False)
async def test_the_candidate_name_travels_in_session_info_not_in_the_url(app, user):
    from sessions.models import Interview

    communicator, refused = await open_socket(app, user, "language=en&consent=1&candidate=Eve")
    assert refused["code"] == ErrorCode.BAD_PARAMETERS and "never goes in a URL" in refused["message"]
    assert await Interview.objects.acount() == 0
    communicator, ack = await open_socket(app, user)
    await communicator.send_json_to({"type": "session_info", "candidate_name": "  Eve Kim "})
    assert (await communicator.receive_json_from(timeout=5))["type"] == "session_info_ack"
    assert (await Interview.objects.aget(pk=ack["session_id"])).candidate_name == "Eve Kim"
    await communicator.send_json_to({"type": "session_info", "candidate_name": "x" * 201})
    assert (await communicator.receive_json_from(timeout=5))["code"] == ErrorCode.INVALID_FIELD
    await communicator.disconnect()
    state.delete_session(ack["session_id"])
