"""docs/protocol.schema.json against what the server really sends: one interview through the consumer
(real speech, questions, an evaluation request, a ping, a bad frame, a resume, the end) and the final
pass's progress events; every frame must validate, and every documented client message we send too."""

from __future__ import annotations

import json
import struct
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from channels.testing import WebsocketCommunicator
from shareddata import DATA

from analysis.audio.preprocess import file_to_16k_mono
from interview_project.asgi import application
from sessions import events
from clients.python.interview_client import pcm16

SCHEMA = json.loads((Path(__file__).resolve().parents[2] / "docs" / "protocol.schema.json").read_text())
ORIGIN = [(b"origin", b"http://127.0.0.1")]
MOCK = DATA / "interviews" / "mock_interview_en.wav"


def validator(kind: str) -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator({**{k: v for k, v in SCHEMA.items() if k != "anyOf"}, "$ref": f"#/$defs/{kind}"})


SERVER, CLIENT = validator("ServerMessage"), validator("ClientMessage")


def check(v: jsonschema.Draft202012Validator, message: dict[str, Any]) -> None:
    errors = sorted(v.iter_errors(message), key=lambda e: e.path)
    assert not errors, f"{message.get('type')}: {[e.message for e in errors][:3]}\n{json.dumps(message)[:500]}"


def test_schema_is_valid_and_rejects_wrong_frames():
    jsonschema.Draft202012Validator.check_schema(SCHEMA)
    assert not SERVER.is_valid({"type": "audio_processed", "seq": 1})
    assert not SERVER.is_valid({"type": "teleport"})
    assert not CLIENT.is_valid({"type": "speaker_note", "text": "x", "kind": "shout"})
    assert CLIENT.is_valid({"type": "audio_chunk", "seq": 0, "audio": "AAA="})


def test_final_progress_events_match() -> None:
    for stage, done in (("transcribe", 0.0), ("diarize", 0.5), ("analyze", 0.75), ("done", 1.0)):
        check(SERVER, json.loads(json.dumps(events.final_progress(stage=stage, done=done))))


@pytest.mark.models
@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(not MOCK.exists(), reason="shared data not available")
async def test_every_frame_of_a_real_interview_matches_the_schema(settings: Any) -> None:
    settings.DEBUG = True
    settings.FINAL_PASS = False
    settings.AUDIO_BURST_S = 120.0
    turns = json.loads(MOCK.with_name("mock_interview_en.turns.json").read_text(encoding="utf-8"))
    audio = file_to_16k_mono(str(MOCK))
    chunk = 3200  # 200 ms
    questions = {int(t["start"] * 16000) // chunk: t["text"] for t in turns if t["role"] == "interviewer"}
    received: list[dict[str, Any]] = []

    async def connect(query: str) -> WebsocketCommunicator:
        communicator = WebsocketCommunicator(application, f"/ws/interviews/?{query}", headers=ORIGIN)
        assert (await communicator.connect(timeout=10))[0]
        received.append(await communicator.receive_json_from(timeout=10))
        return communicator

    async def send(communicator: WebsocketCommunicator, message: dict[str, Any]) -> None:
        check(CLIENT, message)
        await communicator.send_json_to(message)

    async def drain(communicator: WebsocketCommunicator) -> None:
        """Whatever has arrived (receive_nothing peeks; a receive timeout would cancel the app)."""
        while not await communicator.receive_nothing(timeout=0.01):
            output = await communicator.receive_output(timeout=5)
            assert output["type"] == "websocket.send", (output, received[-3:])
            received.append(json.loads(output["text"]))

    from analysis.models import Question, QuestionSet

    qs, _ = await QuestionSet.objects.aget_or_create(slug="schema-check", defaults={"name": "Schema", "language": "en"})
    await Question.objects.acreate(question_set=qs, order=0, text=turns[0]["text"], expected_keywords=["printing"])
    ws = await connect("language=en&question_set=schema-check&consent=1")
    ack = received[0]
    await send(ws, {"type": "ping", "ts": 1})
    await ws.send_to(bytes_data=b"\x00\x01")  # shorter than its seq header: error_message
    pieces = [audio[i:i + chunk] for i in range(0, len(audio), chunk)]
    half = len(pieces) // 2
    for seq, piece in enumerate(pieces):
        if seq == half:  # a dropped socket and a resume in the middle
            await ws.disconnect()
            ws = await connect(f"resume={ack['resume_token']}")
        if seq in questions:
            await send(ws, {"type": "speaker_note", "text": questions[seq], "kind": "question", "speaker": "interviewer"})
        await ws.send_to(bytes_data=struct.pack(">I", seq) + pcm16(piece))
        await drain(ws)
    await send(ws, {"type": "evaluation_request", "scope": "session"})
    await send(ws, {"type": "session_end"})
    while not received or received[-1]["type"] != "session_complete":
        received.append(await ws.receive_json_from(timeout=240))
    closed = await ws.receive_output(timeout=10)
    assert closed == {"type": "websocket.close", "code": 1000}

    for message in received:
        check(SERVER, message)
    seen = {m["type"] for m in received}
    expected = {"connection_ack", "pong", "error_message", "note_ack", "audio_processed", "evaluation_status",
                "score_update", "real_time_feedback", "session_complete"}
    assert expected <= seen, expected - seen
    assert any(m["type"] == "audio_processed" and m["segments"] for m in received)
