"""A reference protocol-v1 client (asyncio + websockets): streams a file, collects every event.

Standalone (no import of the server's packages): numpy, websockets, and PyAV for ``encoding="opus"``.
Used by the integration tests, ``bench/`` and anyone scripting the service (docs/protocol.md). It paces audio in
real time (or ``speed`` times faster), keeps unacknowledged chunks and resends them after a resume.
"""

from __future__ import annotations

import asyncio
import json
import struct
import time
from dataclasses import dataclass, field
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlencode

import numpy as np
import websockets

OPUS_RATE = 48000
_OPUS_FRAME = {**{c: [480, 960, 1920, 2880][c % 4] for c in range(12)}, **{c: [480, 960][c % 2] for c in range(12, 16)},
               **{c: [120, 240, 480, 960][c % 4] for c in range(16, 32)}}  # RFC 6716 table 2, in 1/48000 s


def pcm16(audio: np.ndarray) -> bytes:
    return (np.clip(audio, -1.0, 1.0) * 32767.0).astype("<i2").tobytes()


def binary_frame(seq: int, pcm: bytes) -> bytes:
    return struct.pack(">I", seq) + pcm


def opus_packet_samples(packet: bytes) -> int:
    """Samples at 48 kHz of one Opus packet, from its TOC byte."""
    code = packet[0] & 3
    count = 1 if code == 0 else 2 if code < 3 else packet[1] & 0x3F
    return count * _OPUS_FRAME[packet[0] >> 3]


def opus_join(packets: list[bytes]) -> bytes:
    """A chunk payload for ``encoding=opus``: each packet prefixed by its length (u16 big-endian)."""
    return b"".join(struct.pack(">H", len(p)) + p for p in packets)


def opus_packets(audio: np.ndarray, sample_rate: int, *, channels: int = 1, bitrate: int = 24000) -> list[bytes]:
    """Raw 20 ms Opus packets of ``audio`` (float32, (n,) or (n, channels)), as WebCodecs' AudioEncoder makes them."""
    from fractions import Fraction

    import av  # only needed for Opus

    layout = "stereo" if channels == 2 else "mono"
    encoder = av.CodecContext.create("libopus", "w")
    encoder.sample_rate, encoder.layout, encoder.format, encoder.bit_rate = OPUS_RATE, layout, "s16", bitrate
    encoder.options = {"frame_duration": "20", "application": "voip"}
    encoder.time_base = Fraction(1, OPUS_RATE)
    encoder.open()
    resampler = av.AudioResampler(format="s16", layout=layout, rate=OPUS_RATE, frame_size=encoder.frame_size)
    x = np.asarray(audio, dtype=np.float32).reshape(len(audio), -1)
    frame = av.AudioFrame.from_ndarray((np.clip(x, -1, 1) * 32767).astype(np.int16).reshape(1, -1), format="s16",
                                       layout=layout)  # fmt: skip
    frame.sample_rate, frame.pts, frame.time_base = sample_rate, 0, Fraction(1, sample_rate)
    packets: list[bytes] = []
    for resampled in [*resampler.resample(frame), *resampler.resample(None)]:
        packets += [bytes(p) for p in encoder.encode(resampled)]
    return packets + [bytes(p) for p in encoder.encode(None)]


@dataclass
class StreamLog:
    """Everything that came back, with client-side timestamps (time.monotonic())."""

    ack: dict[str, Any] | None = None
    events: list[tuple[float, dict[str, Any]]] = field(default_factory=list)
    sent_at: dict[int, float] = field(default_factory=dict)  # seq -> when its last sample was sent
    chunk_end_s: dict[int, float] = field(default_factory=dict)  # seq -> session time of its last sample
    end_sent_at: float | None = None
    close_code: int | None = None
    resumes: int = 0
    bytes_received: int = 0
    bytes_sent: int = 0  # binary audio frames, resends included

    def of_type(self, kind: str) -> list[dict[str, Any]]:
        return [e for _, e in self.events if e.get("type") == kind]

    @property
    def segments(self) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for event in self.of_type("audio_processed"):
            out.extend(event["segments"])
        return out

    @property
    def complete(self) -> dict[str, Any] | None:
        done = self.of_type("session_complete")
        return done[-1] if done else None

    def transcript(self) -> str:
        complete = self.complete
        segments = complete["segments"] if complete else self.segments
        return " ".join(s["text"] for s in sorted(segments, key=lambda s: s["id"]))


async def stream_audio(
    url: str,
    audio: np.ndarray,
    *,
    sample_rate: int = 16000,
    channels: int = 1,
    params: dict[str, str] | None = None,
    chunk_ms: int = 250,
    speed: float = 1.0,
    origin: str = "http://127.0.0.1",
    notes: list[tuple[float, dict[str, Any]]] | None = None,
    drop_at_s: float | None = None,
    timeout_s: float = 300.0,
    compression: str | None = "deflate",
    encoding: str = "pcm_s16le",
    opus_bitrate: int = 24000,
    get_ticket: Callable[[], Awaitable[str]] | None = None,
    connect_params: Callable[[], dict[str, str]] | None = None,
    auto_resume: bool = False,
    on_chunk: Callable[[int], Awaitable[None]] | None = None,
) -> StreamLog:
    """Stream ``audio`` (float32, shape (n,) or (n, channels)) and return everything received.

    ``notes`` are (session time, message) pairs sent when the stream reaches that time. ``drop_at_s`` closes
    the socket abruptly at that point and resumes with the token, resending unacknowledged chunks.
    ``encoding="opus"`` sends raw Opus packets (20 ms, ``opus_bitrate`` bit/s), length-prefixed, as a
    browser's WebCodecs AudioEncoder would (docs/protocol.md).
    ``get_ticket`` (outside DEBUG) returns a fresh one-time ticket (``POST /api/ws-tickets/``) for each
    connect and resume.
    ``connect_params`` adds query parameters to every connect (a fresh one-time ``ticket`` in production);
    ``auto_resume`` resumes whenever the server closes the socket before ``session_complete``; ``on_chunk`` is
    awaited after each chunk is sent (fault injection in the reliability tests).
    """
    log = StreamLog()
    pending_notes = sorted(notes or [], key=lambda n: n[0])
    payloads: list[bytes] = []
    ends_s: list[float] = []
    if encoding == "opus":
        query = {"encoding": "opus", "channels": str(channels), **(params or {})}
        packets = opus_packets(audio, sample_rate, channels=channels, bitrate=opus_bitrate)
        per_chunk = max(1, chunk_ms // 20)
        total = 0
        for i in range(0, len(packets), per_chunk):
            group = packets[i : i + per_chunk]
            total += sum(opus_packet_samples(p) for p in group)
            payloads.append(opus_join(group))
            ends_s.append(total / OPUS_RATE)
    else:
        query = {"sample_rate": str(sample_rate), "channels": str(channels), **(params or {})}
        frames_per_chunk = int(sample_rate * chunk_ms / 1000)
        chunks = [audio[i : i + frames_per_chunk] for i in range(0, len(audio), frames_per_chunk)]
        if len(chunks) > 1 and len(chunks[-1]) < sample_rate // 50:  # chunks hold at least 20 ms: merge the tail
            chunks[-2:] = [np.concatenate([chunks[-2], chunks[-1]])]
        done_frames = 0
        for chunk in chunks:
            payloads.append(pcm16(chunk.reshape(-1)))
            done_frames += len(chunk)
            ends_s.append(done_frames / sample_rate)
    done = asyncio.Event()
    dropped = False
    next_seq = 0
    t0 = time.monotonic()

    async def reader(ws: Any) -> None:
        try:
            async for raw in ws:
                log.bytes_received += len(raw)
                event = json.loads(raw)
                log.events.append((time.monotonic(), event))
                if event.get("type") == "session_complete":
                    done.set()
        except websockets.ConnectionClosed:
            pass

    async def connect(extra: dict[str, str]) -> Any:
        if get_ticket is not None:
            extra = {**extra, "ticket": await get_ticket()}
        fresh = connect_params() if connect_params is not None else {}
        ws = await websockets.connect(
            f"{url}?{urlencode({**query, **fresh, **extra})}",
            origin=origin,
            compression=compression,
            max_size=2**24,
            open_timeout=30,
        )
        ack = json.loads(await ws.recv())
        if ack.get("type") != "connection_ack":
            raise RuntimeError(f"expected connection_ack, got {ack}")
        return ws, ack

    resumed: list[dict[str, Any]] = []  # the server's connection_ack of every resume

    async def resume() -> tuple[Any, int]:
        nonlocal read_task
        read_task.cancel()
        for attempt in range(60):  # the server may be restarting
            try:
                have = [e["seq"] for e in log.of_type("audio_processed")]
                ws, ack = await connect({"resume": log.ack["resume_token"], "delivered": str(max(have, default=-1))})
                break
            except (OSError, websockets.WebSocketException, RuntimeError):
                await asyncio.sleep(0.5)
        else:
            raise RuntimeError("could not resume the session")
        log.resumes += 1
        resumed.append(ack)
        read_task = asyncio.create_task(reader(ws))
        return ws, ack["last_seq"] + 1

    ws, log.ack = await connect({})
    read_task = asyncio.create_task(reader(ws))
    try:
        while True:  # (re)send what the server has not stored, then session_end
            while next_seq < len(payloads):
                seq = next_seq
                session_t = ends_s[seq]
                due = t0 + session_t / speed
                await asyncio.sleep(max(0.0, due - time.monotonic()))
                while pending_notes and pending_notes[0][0] <= session_t:
                    await ws.send(json.dumps(pending_notes.pop(0)[1]))
                if drop_at_s is not None and not dropped and session_t >= drop_at_s:
                    dropped = True
                    ws.transport.abort()  # a network blip: no close frame, the server just loses the socket
                    await asyncio.sleep(0.5)
                    read_task.cancel()
                    ws, ack = await connect({"resume": log.ack["resume_token"]})
                    log.resumes += 1
                    read_task = asyncio.create_task(reader(ws))
                    next_seq = ack["last_seq"] + 1
                    continue
                frame = binary_frame(seq, payloads[seq])
                try:
                    await ws.send(frame)
                except websockets.ConnectionClosed:
                    if not auto_resume:
                        raise
                    ws, next_seq = await resume()
                    continue
                log.bytes_sent += len(frame)
                log.sent_at[seq] = time.monotonic()
                log.chunk_end_s[seq] = ends_s[seq]
                next_seq += 1
                if on_chunk is not None:
                    await on_chunk(seq)
            try:
                await ws.send(json.dumps({"type": "session_end"}))
                break
            except websockets.ConnectionClosed:
                if not auto_resume:
                    raise
                ws, next_seq = await resume()  # chunks sent into the dead socket go again, before session_end
        log.end_sent_at = time.monotonic()
        deadline = time.monotonic() + timeout_s
        while auto_resume and not done.is_set():  # a socket closed while finalising: resume to hear the end
            if read_task.done():
                ws, next_seq = await resume()
                if resumed[-1].get("status") == "live":  # session_end (and maybe chunks) died with the socket
                    try:
                        for seq in range(next_seq, len(payloads)):
                            await ws.send(binary_frame(seq, payloads[seq]))
                        await ws.send(json.dumps({"type": "session_end"}))
                    except websockets.ConnectionClosed:
                        continue
            if time.monotonic() > deadline:
                raise TimeoutError("no session_complete")
            try:
                await asyncio.wait_for(asyncio.shield(done.wait()), timeout=0.5)
            except TimeoutError:
                pass
        await asyncio.wait_for(done.wait(), timeout=max(0.1, deadline - time.monotonic()))
        await asyncio.wait_for(read_task, timeout=10)
        log.close_code = ws.close_code
    finally:
        read_task.cancel()
        await ws.close()
    return log
