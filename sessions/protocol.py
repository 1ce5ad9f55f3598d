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
MODES = ("interview", "practice")
MAX_SPEAKERS = 6
# Interviewer enrollment (``enroll_s``): the first seconds of the session are the interviewer reading a short
# prompt. Under 3 s is too little voice to pin (two 1.5 s windows); over 30 s is no longer "a prompt".
MIN_ENROLL_S, MAX_ENROLL_S = 3.0, 30.0
MIN_CHUNK_MS = 20
ENCODINGS = ("pcm_s16le", "opus")
OPUS_SAMPLE_RATE = 48000


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
    encoding: str = "pcm_s16le"
    terms: tuple[str, ...] = ()
    queue: bool = False  # wait for a live slot instead of being refused with server_busy
    mode: str = "interview"  # "practice": a candidate rehearsing alone, every voice is the candidate
    num_speakers: int | None = None  # how many people speak, when the client knows (bounds diarization)
    delivered: int | None = None  # on resume: the highest audio_processed seq the client already has
    enroll_s: float = 0.0  # the first enroll_s seconds are the interviewer's voice enrollment (0: none)


@dataclass(frozen=True)
class AudioChunk:
    seq: int
    pcm: bytes  # PCM16 frames, or length-prefixed Opus packets with encoding=opus
    frames: int | None = None  # frames at the session's sample rate when ``pcm`` is not PCM


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
    encoding = query.get("encoding") or "pcm_s16le"
    if encoding not in ENCODINGS:
        raise ProtocolError(ErrorCode.BAD_PARAMETERS, f"encoding must be one of {', '.join(ENCODINGS)}", fatal=True)
    if encoding == "opus":
        if "sample_rate" in query and sample_rate != OPUS_SAMPLE_RATE:
            raise ProtocolError(ErrorCode.BAD_PARAMETERS, "with encoding=opus the sample_rate is 48000", fatal=True)
        sample_rate = OPUS_SAMPLE_RATE
    if "candidate" in query:
        raise ProtocolError(
            ErrorCode.BAD_PARAMETERS,
            "the candidate's name never goes in a URL (logs keep URLs); send it in a session_info message",
            fatal=True,
        )
    affect = query.get("analysis_affect")
    mode = query.get("mode", "interview") or "interview"
    if mode not in MODES:
        raise ProtocolError(ErrorCode.BAD_PARAMETERS, f"mode must be one of {', '.join(MODES)}", fatal=True)
    num_speakers = None
    if query.get("num_speakers"):
        try:
            num_speakers = int(query["num_speakers"])
        except ValueError:
            num_speakers = 0
        if not 1 <= num_speakers <= MAX_SPEAKERS:
            raise ProtocolError(ErrorCode.BAD_PARAMETERS, f"num_speakers must be 1-{MAX_SPEAKERS}", fatal=True)
    if mode == "practice":
        num_speakers = 1
    enroll_s = _enroll_seconds(query.get("enroll_s"), mode=mode)
    return ConnectParams(
        language=language,
        sample_rate=sample_rate,
        channels=channels,
        resume_token=query.get("resume") or None,
        ticket=query.get("ticket") or None,
        question_set=query.get("question_set") or None,
        consent=_bool(query.get("consent", "0")),
        analysis_affect=None if affect is None else _bool(affect),
        encoding=encoding,
        terms=tuple(t.strip()[:40] for t in (query.get("terms") or "").split(",") if t.strip())[:40],
        queue=_bool(query.get("queue", "0")),
        mode=mode,
        num_speakers=num_speakers,
        delivered=_optional_seq(query.get("delivered")),
        enroll_s=enroll_s,
    )


def _enroll_seconds(raw: str | None, *, mode: str) -> float:
    """``enroll_s``: 0 (none) or MIN_ENROLL_S-MAX_ENROLL_S; a practice session has no interviewer to enroll."""
    if raw is None or raw in ("", "0"):
        return 0.0
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not MIN_ENROLL_S <= value <= MAX_ENROLL_S:
        raise ProtocolError(ErrorCode.BAD_PARAMETERS,
                            f"enroll_s must be 0 or {MIN_ENROLL_S:g}-{MAX_ENROLL_S:g} seconds", fatal=True)
    if mode == "practice":
        raise ProtocolError(ErrorCode.BAD_PARAMETERS, "enroll_s enrolls an interviewer: not with mode=practice",
                            fatal=True)
    return round(value, 2)


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


# --- Opus framing (encoding=opus): length-prefixed raw packets; durations from their TOC bytes ---------------
_OPUS_FRAME = {**{c: (480, 960, 1920, 2880)[c % 4] for c in range(12)}, **{c: (480, 960)[c % 2] for c in range(12, 16)},
               **{c: (120, 240, 480, 960)[c % 4] for c in range(16, 32)}}  # RFC 6716 table 2, in 1/48000 s


class OpusFrameError(ValueError):
    pass


def opus_packet_samples(packet: bytes) -> int:
    """Samples (48 kHz, per channel) of one Opus packet, from its TOC byte (and frame-count byte)."""
    if not packet:
        raise OpusFrameError("empty Opus packet")
    code = packet[0] & 0x3
    if code == 3 and len(packet) < 2:
        raise OpusFrameError("Opus packet with code 3 lacks its frame count byte")
    count = 1 if code == 0 else 2 if code < 3 else packet[1] & 0x3F
    if count == 0:
        raise OpusFrameError("Opus packet with zero frames")
    samples = count * _OPUS_FRAME[packet[0] >> 3]
    if samples > 120 * 48:
        raise OpusFrameError("Opus packet longer than 120 ms")
    return samples


def opus_payload_samples(payload: bytes) -> int:
    """Samples of a chunk payload ``(u16 big-endian length, packet)*``; validates the framing."""
    total, offset = 0, 0
    while offset < len(payload):
        if offset + 2 > len(payload):
            raise OpusFrameError(f"truncated length prefix at byte {offset}")
        (length,) = struct.unpack_from(">H", payload, offset)
        if length == 0 or offset + 2 + length > len(payload):
            raise OpusFrameError(f"packet of {length} bytes at byte {offset} does not fit the payload")
        total += opus_packet_samples(payload[offset + 2 : offset + 2 + length])
        offset += 2 + length
    if total == 0:
        raise OpusFrameError("no Opus packets in the chunk")
    return total


def _check_opus(payload: bytes, seq: int, *, sample_rate: int, max_chunk_ms: int) -> int:
    """Frames (at 48 kHz) of an Opus chunk, from the packets' TOC bytes; the framing is validated."""
    try:
        frames = opus_payload_samples(payload)
    except OpusFrameError as exc:
        raise ProtocolError(ErrorCode.BAD_AUDIO, f"not length-prefixed Opus packets: {exc}", seq=seq) from None
    if frames * 1000 > sample_rate * max_chunk_ms:
        raise ProtocolError(ErrorCode.CHUNK_TOO_LARGE, f"chunk of {frames / 48:.0f} ms exceeds {max_chunk_ms} ms", seq=seq)
    if frames * 1000 < sample_rate * MIN_CHUNK_MS:
        raise ProtocolError(ErrorCode.CHUNK_TOO_SHORT, f"chunks must hold at least {MIN_CHUNK_MS} ms of audio", seq=seq)
    return frames


def _chunk(seq: int, payload: bytes, *, sample_rate: int, channels: int, max_chunk_ms: int, encoding: str) -> AudioChunk:
    if encoding == "opus":
        frames = _check_opus(payload, seq, sample_rate=sample_rate, max_chunk_ms=max_chunk_ms)
        return AudioChunk(seq=seq, pcm=payload, frames=frames)
    _check_pcm(payload, seq, sample_rate=sample_rate, channels=channels, max_chunk_ms=max_chunk_ms)
    return AudioChunk(seq=seq, pcm=payload)


def parse_binary(data: bytes, *, sample_rate: int, channels: int, max_chunk_ms: int,
                 encoding: str = "pcm_s16le") -> AudioChunk:
    if len(data) < 4:
        raise ProtocolError(ErrorCode.BAD_AUDIO, "binary frame shorter than its 4-byte seq header")
    (seq,) = struct.unpack(">I", data[:4])
    return _chunk(seq, data[4:], sample_rate=sample_rate, channels=channels, max_chunk_ms=max_chunk_ms,
                  encoding=encoding)  # fmt: skip


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


def parse_text(text: str, *, sample_rate: int, channels: int, max_chunk_ms: int,
               encoding: str = "pcm_s16le") -> ClientMessage:
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
        return _chunk(seq, pcm, sample_rate=sample_rate, channels=channels, max_chunk_ms=max_chunk_ms,
                      encoding=encoding)  # fmt: skip
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
