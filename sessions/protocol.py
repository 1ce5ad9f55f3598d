"""Protocol v1 parsing (docs/protocol.md): client frames in, typed messages or a ProtocolError out.

Pure and synchronous so it is tested without a socket; the consumer only calls ``parse_*``.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import struct
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import parse_qs

PROTOCOL_VERSION = 1
LANGUAGES = ("ko", "en", "auto")
ACCEPTED_SAMPLE_RATES = (8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000)
"""The rates devices and browsers use. Each shares a large factor with 16 kHz, so resampling stays a short
polyphase filter; an arbitrary rate (say 47 999 Hz) would cost ~200x more CPU per second of audio."""
MIN_SAMPLE_RATE, MAX_SAMPLE_RATE = ACCEPTED_SAMPLE_RATES[0], ACCEPTED_SAMPLE_RATES[-1]
MIN_CHUNK_MS = 20


class ErrorCode:
    BAD_JSON = "bad_json"
    BAD_MESSAGE = "bad_message"
    UNKNOWN_TYPE = "unknown_type"
    MISSING_FIELD = "missing_field"
    INVALID_FIELD = "invalid_field"
    BAD_AUDIO = "bad_audio"
    CHUNK_TOO_SHORT = "chunk_too_short"
    CHUNK_TOO_LARGE = "chunk_too_large"
    DUPLICATE_SEQ = "duplicate_seq"
    SEQ_GAP = "seq_gap"
    TOO_FAST = "too_fast"
    SESSION_ENDED = "session_ended"
    BAD_PARAMETERS = "bad_parameters"
    UNKNOWN_SESSION = "unknown_session"
    UNAUTHORIZED = "unauthorized"
    FORBIDDEN = "forbidden"
    SUPERSEDED = "superseded"
    HEARTBEAT_TIMEOUT = "heartbeat_timeout"
    STATE_LOST = "state_lost"
    PROCESSING_FAILED = "processing_failed"
    SERVER_BUSY = "server_busy"
    RATE_LIMITED = "rate_limited"
    EVALUATION_PENDING = "evaluation_pending"
    TOO_MANY_SESSIONS = "too_many_sessions"
    SESSION_TOO_LONG = "session_too_long"
    MESSAGE_TOO_LARGE = "message_too_large"
    INTERNAL = "internal_error"


class CloseCode:
    """WebSocket close codes for fatal errors (4000-4999 are for applications)."""

    NORMAL = 1000
    BAD_PARAMETERS = 4400
    UNAUTHORIZED = 4401
    FORBIDDEN = 4403
    UNKNOWN_SESSION = 4404
    HEARTBEAT_TIMEOUT = 4408
    SUPERSEDED = 4409
    SERVER_BUSY = 4503
    TOO_MANY_SESSIONS = 4429
    INTERNAL = 4500


class ProtocolError(Exception):
    def __init__(self, code: str, message: str, *, seq: int | None = None, fatal: bool = False) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.seq = seq
        self.fatal = fatal


@dataclass(frozen=True)
class ConnectParams:
    language: str
    sample_rate: int
    channels: int
    resume_token: str | None
    ticket: str | None
    question_set: str | None
    consent: bool
    analysis_affect: bool | None
    queue: bool = False  # wait for a live slot instead of being refused with server_busy
    delivered: int | None = None  # on resume: the highest audio_processed seq the client already has


@dataclass(frozen=True)
class AudioChunk:
    seq: int
    pcm: bytes


@dataclass(frozen=True)
class SpeakerNote:
    text: str
    speaker: Literal["interviewer", "candidate"] | None
    kind: Literal["note", "question"]


@dataclass(frozen=True)
class EvaluationRequest:
    scope: Literal["answer", "session"]


@dataclass(frozen=True)
class SessionEnd:
    pass


@dataclass(frozen=True)
class SessionInfo:
    """Details that must not travel in the URL (proxies and servers log URLs): the candidate's name."""

    candidate_name: str


@dataclass(frozen=True)
class Ping:
    ts: Any


ClientMessage = AudioChunk | SpeakerNote | EvaluationRequest | SessionEnd | SessionInfo | Ping


def _bool(value: str) -> bool:
    return value.strip().lower() in {"1", "true", "yes", "on"}


def parse_connect(query_string: bytes | str) -> ConnectParams:
    raw = query_string.decode("latin-1") if isinstance(query_string, bytes) else query_string
    query = {k: v[-1] for k, v in parse_qs(raw, keep_blank_values=True).items()}
    language = query.get("language", "auto") or "auto"
    if language not in LANGUAGES:
        raise ProtocolError(ErrorCode.BAD_PARAMETERS, f"language must be one of {', '.join(LANGUAGES)}", fatal=True)
    try:
        sample_rate = int(query.get("sample_rate", "16000") or 16000)
        channels = int(query.get("channels", "1") or 1)
    except ValueError:
        raise ProtocolError(ErrorCode.BAD_PARAMETERS, "sample_rate and channels must be integers", fatal=True) from None
    if sample_rate not in ACCEPTED_SAMPLE_RATES:
        raise ProtocolError(
            ErrorCode.BAD_PARAMETERS,
            f"sample_rate must be one of {', '.join(str(r) for r in ACCEPTED_SAMPLE_RATES)}", fatal=True,
        )
    if channels not in (1, 2):
        raise ProtocolError(ErrorCode.BAD_PARAMETERS, "channels must be 1 or 2", fatal=True)
    if "candidate" in query:
        raise ProtocolError(
            ErrorCode.BAD_PARAMETERS,
            "the candidate's name never goes in a URL (logs keep URLs); send it in a session_info message",
            fatal=True,
        )
    affect = query.get("analysis_affect")
    return ConnectParams(
        language=language,
        sample_rate=sample_rate,
        channels=channels,
        resume_token=query.get("resume") or None,
        ticket=query.get("ticket") or None,
        question_set=query.get("question_set") or None,
        consent=_bool(query.get("consent", "0")),
        analysis_affect=None if affect is None else _bool(affect),
        queue=_bool(query.get("queue", "0")),
        delivered=_optional_seq(query.get("delivered")),
    )


def _optional_seq(raw: str | None) -> int | None:
    if raw is None or raw == "":
        return None
    try:
        return max(-1, int(raw))
    except ValueError:
        raise ProtocolError(ErrorCode.BAD_PARAMETERS, "delivered must be an integer", fatal=True) from None


def max_chunk_bytes(*, sample_rate: int, channels: int, max_chunk_ms: int) -> int:
    return sample_rate * channels * 2 * max_chunk_ms // 1000


def _check_pcm(pcm: bytes, seq: int, *, sample_rate: int, channels: int, max_chunk_ms: int) -> None:
    frame = 2 * channels
    if len(pcm) % frame:
        raise ProtocolError(
            ErrorCode.BAD_AUDIO,
            f"PCM byte count {len(pcm)} is not a multiple of {frame} (16-bit, {channels} channel(s))",
            seq=seq,
        )
    limit = max_chunk_bytes(sample_rate=sample_rate, channels=channels, max_chunk_ms=max_chunk_ms)
    if len(pcm) > limit:
        raise ProtocolError(
            ErrorCode.CHUNK_TOO_LARGE, f"chunk of {len(pcm)} bytes exceeds {max_chunk_ms} ms ({limit} bytes)", seq=seq
        )
    if len(pcm) < sample_rate * frame * MIN_CHUNK_MS // 1000:
        raise ProtocolError(ErrorCode.CHUNK_TOO_SHORT, f"chunks must hold at least {MIN_CHUNK_MS} ms of audio", seq=seq)


def parse_binary(data: bytes, *, sample_rate: int, channels: int, max_chunk_ms: int) -> AudioChunk:
    if len(data) < 4:
        raise ProtocolError(ErrorCode.BAD_AUDIO, "binary frame shorter than its 4-byte seq header")
    (seq,) = struct.unpack(">I", data[:4])
    pcm = data[4:]
    _check_pcm(pcm, seq, sample_rate=sample_rate, channels=channels, max_chunk_ms=max_chunk_ms)
    return AudioChunk(seq=seq, pcm=pcm)


def _require(message: dict[str, Any], name: str, kind: type | tuple[type, ...]) -> Any:
    if name not in message:
        raise ProtocolError(ErrorCode.MISSING_FIELD, f"'{message.get('type')}' needs the field '{name}'")
    value = message[name]
    if not isinstance(value, kind) or isinstance(value, bool) and kind is not bool:
        raise ProtocolError(ErrorCode.INVALID_FIELD, f"field '{name}' has the wrong type")
    return value


def max_text_chars(*, sample_rate: int, channels: int, max_chunk_ms: int) -> int:
    """The longest text frame worth parsing: a JSON ``audio_chunk`` of the largest chunk in base64, plus slack."""
    return max_chunk_bytes(sample_rate=sample_rate, channels=channels, max_chunk_ms=max_chunk_ms) * 4 // 3 + 4096


def has_lone_surrogate(value: Any) -> bool:
    """True if any string in the decoded JSON holds a lone UTF-16 surrogate (``"\\ud800"``): it cannot be
    stored or sent back as UTF-8, so such a message is refused before anything touches it."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                return True
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False


def _echoable(value: Any) -> bool:
    """``ping.ts`` comes back in ``pong``: a finite number, a short string or null, nothing else."""
    if value is None or (isinstance(value, str) and len(value) <= 64):
        return True
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    return math.isfinite(value) and abs(value) < 1e18


def parse_text(text: str, *, sample_rate: int, channels: int, max_chunk_ms: int) -> ClientMessage:
    limit = max_text_chars(sample_rate=sample_rate, channels=channels, max_chunk_ms=max_chunk_ms)
    if len(text) > limit:
        raise ProtocolError(ErrorCode.MESSAGE_TOO_LARGE, f"text messages are limited to {limit} characters")
    try:
        message = json.loads(text)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ProtocolError(ErrorCode.BAD_JSON, f"message is not valid JSON: {exc.msg}") from None
    except RecursionError:
        raise ProtocolError(ErrorCode.BAD_JSON, "message is nested too deeply") from None
    except ValueError:  # e.g. an integer of more than 4300 digits
        raise ProtocolError(ErrorCode.BAD_JSON, "message holds a number too large to read") from None
    if has_lone_surrogate(message):
        raise ProtocolError(ErrorCode.BAD_JSON, "message holds a lone UTF-16 surrogate (not valid Unicode text)")
    if not isinstance(message, dict):
        raise ProtocolError(ErrorCode.BAD_MESSAGE, "message must be a JSON object")
    kind = message.get("type")
    if not isinstance(kind, str):
        raise ProtocolError(ErrorCode.MISSING_FIELD, "message needs a string field 'type'")
    if kind == "audio_chunk":
        seq = _require(message, "seq", int)
        if seq < 0 or seq > 0xFFFFFFFF:
            raise ProtocolError(ErrorCode.INVALID_FIELD, "seq must be a non-negative 32-bit integer")
        encoded = _require(message, "audio", str)
        try:
            pcm = base64.b64decode(encoded, validate=True)
        except (binascii.Error, ValueError):
            raise ProtocolError(ErrorCode.BAD_AUDIO, "audio is not valid base64", seq=seq) from None
        _check_pcm(pcm, seq, sample_rate=sample_rate, channels=channels, max_chunk_ms=max_chunk_ms)
        return AudioChunk(seq=seq, pcm=pcm)
    if kind == "speaker_note":
        text_value = _require(message, "text", str)
        speaker = message.get("speaker")
        if speaker not in (None, "interviewer", "candidate"):
            raise ProtocolError(ErrorCode.INVALID_FIELD, "speaker must be 'interviewer' or 'candidate'")
        note_kind = message.get("kind", "note")
        if note_kind not in ("note", "question"):
            raise ProtocolError(ErrorCode.INVALID_FIELD, "kind must be 'note' or 'question'")
        if len(text_value) > 4000:
            raise ProtocolError(ErrorCode.INVALID_FIELD, "text is longer than 4000 characters")
        return SpeakerNote(text=text_value, speaker=speaker, kind=note_kind)
    if kind == "evaluation_request":
        scope = message.get("scope", "session")
        if scope not in ("answer", "session"):
            raise ProtocolError(ErrorCode.INVALID_FIELD, "scope must be 'answer' or 'session'")
        return EvaluationRequest(scope=scope)
    if kind == "session_end":
        return SessionEnd()
    if kind == "session_info":
        name = _require(message, "candidate_name", str).strip()
        if len(name) > 200:
            raise ProtocolError(ErrorCode.INVALID_FIELD, "candidate_name is longer than 200 characters")
        return SessionInfo(candidate_name=name)
    if kind == "ping":
        ts = message.get("ts")
        if not _echoable(ts):
            raise ProtocolError(ErrorCode.INVALID_FIELD, "ts must be a finite number or a short string")
        return Ping(ts=ts)
    raise ProtocolError(ErrorCode.UNKNOWN_TYPE, f"unknown message type '{kind[:40]}'")
