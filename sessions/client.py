"""A reference protocol-v1 client (asyncio + websockets): streams a file, collects every event.

Used by the integration tests, ``bench/stream.py`` and anyone scripting the service. It paces audio in
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


def pcm16(audio: np.ndarray) -> bytes:
    return (np.clip(audio, -1.0, 1.0) * 32767.0).astype("<i2").tobytes()


def binary_frame(seq: int, pcm: bytes) -> bytes:
    return struct.pack(">I", seq) + pcm


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
    get_ticket: Callable[[], Awaitable[str]] | None = None,
    connect_params: Callable[[], dict[str, str]] | None = None,
    auto_resume: bool = False,
    on_chunk: Callable[[int], Awaitable[None]] | None = None,
) -> StreamLog:
    """Stream ``audio`` (float32, shape (n,) or (n, channels)) and return everything received.

    ``notes`` are (session time, message) pairs sent when the stream reaches that time. ``drop_at_s`` closes
    the socket abruptly at that point and resumes with the token, resending unacknowledged chunks.
    ``get_ticket`` (outside DEBUG) returns a fresh one-time ticket (``POST /api/ws-tickets/``) for each
    connect and resume.
    ``connect_params`` adds query parameters to every connect (a fresh one-time ``ticket`` in production);
    ``auto_resume`` resumes whenever the server closes the socket before ``session_complete``; ``on_chunk`` is
    awaited after each chunk is sent (fault injection in the reliability tests).
    """
    query = {"sample_rate": str(sample_rate), "channels": str(channels), **(params or {})}
    log = StreamLog()
    frames_per_chunk = int(sample_rate * chunk_ms / 1000)
    pending_notes = sorted(notes or [], key=lambda n: n[0])
    chunks = [audio[i : i + frames_per_chunk] for i in range(0, len(audio), frames_per_chunk)]
    if len(chunks) > 1 and len(chunks[-1]) < sample_rate // 50:  # chunks hold at least 20 ms: merge the tail
        chunks[-2:] = [np.concatenate([chunks[-2], chunks[-1]])]
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
        read_task = asyncio.create_task(reader(ws))
        return ws, ack["last_seq"] + 1

    ws, log.ack = await connect({})
    read_task = asyncio.create_task(reader(ws))
    try:
        while next_seq < len(chunks):
            seq = next_seq
            session_t = (seq + 1) * chunk_ms / 1000
            due = t0 + (seq + 1) * chunk_ms / 1000 / speed
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
            chunk = chunks[seq]
            try:
                await ws.send(binary_frame(seq, pcm16(chunk.reshape(-1))))
            except websockets.ConnectionClosed:
                if not auto_resume:
                    raise
                ws, next_seq = await resume()
                continue
            log.sent_at[seq] = time.monotonic()
            log.chunk_end_s[seq] = (seq * frames_per_chunk + len(chunk)) / sample_rate
            next_seq += 1
            if on_chunk is not None:
                await on_chunk(seq)
        while True:
            try:
                await ws.send(json.dumps({"type": "session_end"}))
                break
            except websockets.ConnectionClosed:
                if not auto_resume:
                    raise
                ws, _ = await resume()
        log.end_sent_at = time.monotonic()
        deadline = time.monotonic() + timeout_s
        while auto_resume and not done.is_set():  # a socket closed while finalising: resume to hear the end
            if read_task.done():
                ws, _ = await resume()
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
