"""Protocol v1 parsing: every bad input has a clear error code, good input parses to typed messages."""

from __future__ import annotations

import base64
import json
import struct

import pytest

from sessions.protocol import (
    AudioChunk,
    ErrorCode,
    EvaluationRequest,
    Ping,
    ProtocolError,
    SessionEnd,
    SpeakerNote,
    parse_binary,
    parse_connect,
    parse_text,
)

LIMITS = {"sample_rate": 16000, "channels": 1, "max_chunk_ms": 2000}
PCM_100MS = b"\x01\x00" * 1600


def code_of(func, *args, **kwargs) -> str:
    with pytest.raises(ProtocolError) as info:
        func(*args, **kwargs)
    return info.value.code


def test_connect_defaults_and_values():
    params = parse_connect(b"")
    assert (params.language, params.sample_rate, params.channels, params.resume_token) == ("auto", 16000, 1, None)
    params = parse_connect(b"language=ko&sample_rate=48000&channels=2&resume=abc&consent=1&question_set=common-ko")
    assert (params.language, params.sample_rate, params.channels, params.resume_token) == ("ko", 48000, 2, "abc")
    assert params.consent and params.question_set == "common-ko"
    assert (params.mode, params.num_speakers) == ("interview", None)


def test_connect_mode_and_num_speakers():
    assert parse_connect(b"mode=practice").mode == "practice"
    assert parse_connect(b"mode=practice").num_speakers == 1  # one person rehearsing
    assert parse_connect(b"num_speakers=3").num_speakers == 3


def test_connect_enroll_seconds():
    assert parse_connect(b"").enroll_s == 0.0
    assert parse_connect(b"enroll_s=0").enroll_s == 0.0
    assert parse_connect(b"enroll_s=8").enroll_s == 8.0
    assert parse_connect(b"enroll_s=12.345").enroll_s == 12.35


@pytest.mark.parametrize(
    "query",
    [b"language=fr", b"sample_rate=96000", b"sample_rate=abc", b"channels=3", b"mode=solo", b"num_speakers=0",
     b"num_speakers=7", b"num_speakers=two", b"enroll_s=2", b"enroll_s=31", b"enroll_s=ten",
     b"enroll_s=8&mode=practice"],
)
def test_connect_rejects_bad_parameters_fatally(query):
    with pytest.raises(ProtocolError) as info:
        parse_connect(query)
    assert info.value.code == ErrorCode.BAD_PARAMETERS and info.value.fatal


def test_binary_chunk_round_trip():
    chunk = parse_binary(struct.pack(">I", 7) + PCM_100MS, **LIMITS)
    assert chunk == AudioChunk(seq=7, pcm=PCM_100MS)


def test_binary_errors():
    assert code_of(parse_binary, b"\x00\x01", **LIMITS) == ErrorCode.BAD_AUDIO
    assert code_of(parse_binary, struct.pack(">I", 1) + PCM_100MS + b"\x00", **LIMITS) == ErrorCode.BAD_AUDIO
    too_big = struct.pack(">I", 1) + b"\x00\x00" * 16000 * 3
    assert code_of(parse_binary, too_big, **LIMITS) == ErrorCode.CHUNK_TOO_LARGE
    assert code_of(parse_binary, struct.pack(">I", 1) + b"\x00\x00" * 10, **LIMITS) == ErrorCode.CHUNK_TOO_SHORT


def test_stereo_needs_whole_frames():
    stereo = {**LIMITS, "channels": 2}
    assert code_of(parse_binary, struct.pack(">I", 0) + b"\x00" * 3202, **stereo) == ErrorCode.BAD_AUDIO
    assert parse_binary(struct.pack(">I", 0) + b"\x00" * 3200, **stereo).seq == 0


def test_json_audio_chunk():
    message = json.dumps({"type": "audio_chunk", "seq": 3, "audio": base64.b64encode(PCM_100MS).decode()})
    assert parse_text(message, **LIMITS) == AudioChunk(seq=3, pcm=PCM_100MS)
    bad = json.dumps({"type": "audio_chunk", "seq": 3, "audio": "***"})
    assert code_of(parse_text, bad, **LIMITS) == ErrorCode.BAD_AUDIO


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("{not json", ErrorCode.BAD_JSON),
        ("[1, 2]", ErrorCode.BAD_MESSAGE),
        ('{"seq": 1}', ErrorCode.MISSING_FIELD),
        ('{"type": "dance"}', ErrorCode.UNKNOWN_TYPE),
        ('{"type": "audio_chunk", "audio": ""}', ErrorCode.MISSING_FIELD),
        ('{"type": "audio_chunk", "seq": "1", "audio": ""}', ErrorCode.INVALID_FIELD),
        ('{"type": "audio_chunk", "seq": -1, "audio": ""}', ErrorCode.INVALID_FIELD),
        ('{"type": "speaker_note"}', ErrorCode.MISSING_FIELD),
        ('{"type": "speaker_note", "text": "x", "speaker": "boss"}', ErrorCode.INVALID_FIELD),
        ('{"type": "speaker_note", "text": "x", "kind": "joke"}', ErrorCode.INVALID_FIELD),
        ('{"type": "evaluation_request", "scope": "everything"}', ErrorCode.INVALID_FIELD),
    ],
)
def test_json_errors(text, code):
    error = pytest.raises(ProtocolError, parse_text, text, **LIMITS).value
    assert error.code == code and not error.fatal and error.message


def test_other_messages():
    note = parse_text('{"type":"speaker_note","text":"Why us?","speaker":"interviewer","kind":"question"}', **LIMITS)
    assert note == SpeakerNote(text="Why us?", speaker="interviewer", kind="question")
    assert parse_text('{"type":"evaluation_request","scope":"answer"}', **LIMITS) == EvaluationRequest("answer")
    assert parse_text('{"type":"session_end"}', **LIMITS) == SessionEnd()
    assert parse_text('{"type":"ping","ts":5}', **LIMITS) == Ping(ts=5)
