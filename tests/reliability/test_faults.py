"""Faults on the production shape (daphne + Celery worker processes, own Redis, MariaDB, DEBUG=0, tickets,
consent), each compared with an uninterrupted run of the same recording: the same committed transcript, every
seq answered once and in order, stored duration == audio sent, status completed."""

from __future__ import annotations

import asyncio
import json
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import websockets

from analysis.audio.preprocess import file_to_16k_mono
from clients.python.interview_client import StreamLog, binary_frame, pcm16, stream_audio

pytestmark = [pytest.mark.integration, pytest.mark.models]

CHUNK_MS = 250
SPEED = 4.0
PARAMS = {"language": "en", "consent": "1"}


@pytest.fixture(scope="module")
def audio(shared_data: Path) -> np.ndarray:
    return file_to_16k_mono(str(shared_data / "en" / "jfk.flac"))


def n_chunks(audio: np.ndarray) -> int:
    return -(-len(audio) // (16000 * CHUNK_MS // 1000))


async def run(stack: Any, audio: np.ndarray, **kwargs: Any) -> StreamLog:
    return await stream_audio(stack.url, audio, params=PARAMS, chunk_ms=CHUNK_MS, speed=SPEED, timeout_s=240,
                              connect_params=lambda: {"ticket": stack.ticket()}, **kwargs)


_REFERENCE: dict[str, list[str]] = {}


def reference(stack: Any, audio: np.ndarray) -> list[str]:
    if "jfk" not in _REFERENCE:
        log = asyncio.run(run(stack, audio))
        check_answered(log, audio)
        _REFERENCE["jfk"] = texts(log)
        assert any("country" in t for t in _REFERENCE["jfk"]), _REFERENCE["jfk"]
        check_stored(stack, log.ack["session_id"], audio, _REFERENCE["jfk"])
    return _REFERENCE["jfk"]


async def read_all(ws: Any, into: list[dict[str, Any]]) -> None:
    """Collect every JSON frame of ``ws`` until it closes (a client reads its socket while it streams)."""
    try:
        async for raw in ws:
            into.append(json.loads(raw))
    except websockets.ConnectionClosed:
        pass


def texts(log: StreamLog) -> list[str]:
    assert log.complete is not None, "no session_complete"
    return [s["text"] for s in sorted(log.complete["segments"], key=lambda s: s["id"])]


def check_answered(log: StreamLog, audio: np.ndarray) -> None:
    seqs = [e["seq"] for e in log.of_type("audio_processed")]
    assert seqs == list(range(n_chunks(audio))), "every seq answered once, in order"


def check_stored(stack: Any, session_id: str, audio: np.ndarray, expected: list[str]) -> dict[str, Any]:
    row = stack.interview(session_id)
    assert row["status"] == "completed", row
    assert row["audio"] and row["duration_s"] == pytest.approx(len(audio) / 16000, abs=1e-3)
    assert row["segments"] == expected and row["report"]
    return row


def redis_keys_of(stack: Any, session_id: str) -> list[str]:
    """Every Redis key that still names the session (the erasure tombstone excepted)."""
    import redis

    client = redis.Redis.from_url(stack.redis_url)
    return sorted(k.decode() for k in client.scan_iter(match=f"*{session_id}*", count=1000)
                  if not k.decode().startswith("iv:erased:"))


def test_kill_9_of_a_worker_child_loses_nothing(stack, audio):
    expected = reference(stack, audio)
    processes = len(stack.worker_children())
    killed: list[int] = []

    async def fault(seq: int) -> None:
        if seq == n_chunks(audio) // 2 and not killed:
            killed.append(stack.kill_worker_child())

    log = asyncio.run(run(stack, audio, on_chunk=fault))
    assert killed
    assert texts(log) == expected
    check_answered(log, audio)
    check_stored(stack, log.ack["session_id"], audio, expected)
    # the pool replaced the killed child (one that loads the models must not be killed for starting slowly)
    deadline = time.monotonic() + 120
    while len(stack.worker_children()) < processes:
        assert time.monotonic() < deadline, "the worker pool did not replace its killed child"
        time.sleep(1)
    assert "Timed out waiting for UP message" not in (stack.workdir / "worker.log").read_text()


def test_kill_9_of_the_worker_main_process_and_a_new_worker_loses_nothing(stack, audio):
    expected = reference(stack, audio)
    killed: list[bool] = []

    async def fault(seq: int) -> None:
        if seq == n_chunks(audio) // 2 and not killed:
            await asyncio.to_thread(stack.kill_worker_and_restart)
            killed.append(True)

    log = asyncio.run(run(stack, audio, on_chunk=fault))
    assert killed
    assert texts(log) == expected
    check_answered(log, audio)
    check_stored(stack, log.ack["session_id"], audio, expected)


def test_redis_restarted_empty_mid_session_is_reported_and_recovered(stack, audio):
    """Also: the restart costs no consumer. Every pooled connection (channel layer, live state) met the dead
    server once; without retries the channel receive raised, daphne killed the consumer (1011) and the client
    had to resume, and the first frame's Redis call failed (an ``internal`` error for that frame)."""
    expected = reference(stack, audio)
    daphne_log = stack.workdir / "daphne.log"
    log_from = daphne_log.stat().st_size
    restarted: list[bool] = []

    async def fault(seq: int) -> None:
        if seq == n_chunks(audio) // 2 and not restarted:
            await asyncio.to_thread(stack.restart_redis)
            restarted.append(True)

    log = asyncio.run(run(stack, audio, on_chunk=fault, auto_resume=True))
    assert restarted
    codes = [e["code"] for e in log.of_type("error_message")]
    assert "state_lost" in codes, codes  # a clear error, never silence
    assert "internal" not in codes, codes
    assert log.resumes == 0, "the consumer survived the restart: the client never had to resume"
    with open(daphne_log, "rb") as handle:
        handle.seek(log_from)
        assert b"Exception inside application" not in handle.read()
    assert texts(log) == expected
    check_answered(log, audio)
    check_stored(stack, log.ack["session_id"], audio, expected)


def test_abandoned_session_is_finalised_by_the_sweeper(stack, audio):
    expected = reference(stack, audio)

    async def abandon() -> str:
        ws = await websockets.connect(f"{stack.url}?language=en&consent=1&ticket={stack.ticket()}",
                                      origin="http://127.0.0.1")
        ack = json.loads(await ws.recv())
        step = 16000 * CHUNK_MS // 1000
        for seq, start in enumerate(range(0, len(audio), step)):
            await ws.send(binary_frame(seq, pcm16(audio[start : start + step])))
            await asyncio.sleep(CHUNK_MS / 1000 / SPEED)
        ws.transport.abort()  # the tab is closed: no session_end, no close frame
        return str(ack["session_id"])

    session_id = asyncio.run(abandon())
    deadline = time.monotonic() + 240
    while True:
        row = stack.interview(session_id)
        if row["status"] in ("completed", "failed") and (row["report"] or row["status"] == "failed"):
            break
        assert time.monotonic() < deadline, row
        time.sleep(2)
    row = check_stored(stack, session_id, audio, expected)
    assert "no session_end" in row["end_reason"]


def test_erasure_during_a_live_session_leaves_nothing(stack, audio):
    async def erase_mid_session() -> tuple[str, list[dict[str, Any]]]:
        ws = await websockets.connect(f"{stack.url}?language=en&consent=1&ticket={stack.ticket()}",
                                      origin="http://127.0.0.1")
        ack = json.loads(await ws.recv())
        session_id = str(ack["session_id"])
        step = 16000 * CHUNK_MS // 1000
        received: list[dict[str, Any]] = []

        async def read() -> None:  # as any client does: unread events past websockets' max_queue (16) pause
            try:                   # reading, and the server's error_message and close were then never seen
                async for raw in ws:
                    received.append(json.loads(raw))
            except websockets.ConnectionClosed:
                pass

        reader = asyncio.create_task(read())
        for seq, start in enumerate(range(0, len(audio), step)):
            if seq == n_chunks(audio) // 2:
                request = urllib.request.Request(f"{stack.http}/api/interviews/{session_id}/", method="DELETE",
                                                 headers={"Authorization": f"Token {stack.api_token}"})
                assert (await asyncio.to_thread(urllib.request.urlopen, request)).status == 204
            try:
                await ws.send(binary_frame(seq, pcm16(audio[start : start + step])))
            except websockets.ConnectionClosed:
                break
            await asyncio.sleep(CHUNK_MS / 1000 / SPEED)
        await asyncio.wait_for(reader, timeout=60)
        return session_id, received

    session_id, received = asyncio.run(erase_mid_session())
    errors = [e for e in received if e["type"] == "error_message"]
    assert errors and errors[-1]["code"] == "session_ended" and errors[-1]["fatal"], [(e["type"], e.get("seq"), e.get("code")) for e in received][-8:]
    time.sleep(5)  # whatever the worker still had queued has run
    assert stack.interview(session_id) is None
    assert not (stack.workdir / "media" / "recordings" / session_id).exists()
    assert not list((stack.workdir / "media").glob(f"interviews/{session_id}*"))


def test_mariadb_stopped_for_60_s_around_session_end_completes_when_it_is_back(stack, audio):
    """The database goes down two seconds of audio before the end and stays down 60 s: the last chunks'
    chains and session_end meet the outage; the session completes once it is back, nothing lost."""
    if stack.mariadb is None:
        pytest.skip("needs the stack's own mariadbd (the shared MariaDB is never stopped)")
    expected = reference(stack, audio)
    outage: dict[str, float] = {}

    def back_after_60_s() -> None:
        time.sleep(max(0.0, 60 - (time.monotonic() - outage["down"])))
        stack.start_mariadb()
        outage["up"] = time.monotonic()

    restarter = threading.Thread(target=back_after_60_s, daemon=True)

    async def fault(seq: int) -> None:
        if seq == n_chunks(audio) - 8 and "down" not in outage:
            await asyncio.to_thread(stack.stop_mariadb)
            outage["down"] = time.monotonic()
            restarter.start()

    try:
        log = asyncio.run(run(stack, audio, on_chunk=fault))
    finally:
        if "down" in outage:
            restarter.join(timeout=120)
        if stack.mariadb.process is None:  # never leave the next test without its database
            stack.start_mariadb()
    assert log.end_sent_at is not None and outage["down"] < log.end_sent_at < outage["up"], "session_end met the outage"
    completed_at = next(t for t, e in log.events if e["type"] == "session_complete")
    assert completed_at > outage["up"], "completed only once the database was back"
    assert texts(log) == expected
    check_answered(log, audio)
    check_stored(stack, log.ack["session_id"], audio, expected)
    assert not [e for e in log.of_type("error_message") if e.get("fatal")], log.of_type("error_message")


def test_erasure_during_a_finalising_session_leaves_nothing(stack, audio):
    """session_end, then DELETE while finalize runs (the transcript's tail, the WAV, the report): no row, file
    or key comes back, also after a redelivered finalize and a final pass for the id have run."""
    async def erase_while_finalising() -> tuple[str, str, list[dict[str, Any]]]:
        ws = await websockets.connect(f"{stack.url}?language=en&consent=1&ticket={stack.ticket()}",
                                      origin="http://127.0.0.1")
        ack = json.loads(await ws.recv())
        session_id = str(ack["session_id"])
        received: list[dict[str, Any]] = []
        reader = asyncio.create_task(read_all(ws, received))
        step = 16000 * CHUNK_MS // 1000
        for seq, start in enumerate(range(0, len(audio), step)):
            await ws.send(binary_frame(seq, pcm16(audio[start : start + step])))
            await asyncio.sleep(CHUNK_MS / 1000 / SPEED)
        await ws.send(json.dumps({"type": "session_end"}))
        deadline = time.monotonic() + 30
        while (status := await asyncio.to_thread(stack.status, session_id)) == "live":
            assert time.monotonic() < deadline, status
            await asyncio.sleep(0.02)
        request = urllib.request.Request(f"{stack.http}/api/interviews/{session_id}/", method="DELETE",
                                         headers={"Authorization": f"Token {stack.api_token}"})
        assert (await asyncio.to_thread(urllib.request.urlopen, request)).status == 204
        await asyncio.sleep(10)  # whatever finalize still had to do has run into the tombstone
        await ws.close()
        await asyncio.wait_for(reader, timeout=30)
        return session_id, status, received

    session_id, status, received = asyncio.run(erase_while_finalising())
    assert status == "finalizing", status  # erased while finalising, not after
    # a redelivered finalize and a final pass for the erased id (an admin's re-run, a broker redelivery)
    stack.manage(
        "from analysis.tasks import enqueue_finalize, final_pass_task; "
        f"enqueue_finalize('{session_id}'); final_pass_task.si('{session_id}').apply_async()"
    )
    time.sleep(8)
    assert stack.interview(session_id) is None
    assert not (stack.workdir / "media" / "recordings" / session_id).exists()
    assert not list((stack.workdir / "media").glob(f"interviews/{session_id}*"))
    assert redis_keys_of(stack, session_id) == []


def test_fifty_random_socket_drops_with_resume_lose_nothing(stack, audio):
    """50 network blips (the TCP connection aborted, no close frame) at random points, each followed by a resume
    with a fresh ticket and the last seq the client saw; audio goes as fast as the speed limit allows."""
    import random

    expected = reference(stack, audio)
    rng = random.Random(50)
    step = 16000 * CHUNK_MS // 1000
    frames = [binary_frame(seq, pcm16(audio[start : start + step])) for seq, start in enumerate(range(0, len(audio), step))]
    received: list[dict[str, Any]] = []

    async def connect(query: str) -> tuple[Any, dict[str, Any], asyncio.Task[None]]:
        ws = await websockets.connect(f"{stack.url}?{query}&ticket={stack.ticket()}", origin="http://127.0.0.1")
        ack = json.loads(await ws.recv())
        assert ack["type"] == "connection_ack", ack
        return ws, ack, asyncio.create_task(read_all(ws, received))

    def delivered() -> int:
        return max((e["seq"] for e in received if e["type"] == "audio_processed"), default=-1)

    async def blips() -> tuple[str, int]:
        ws, ack, reader = await connect("language=en&consent=1")
        session_id, token = ack["session_id"], ack["resume_token"]
        next_seq, drops = 0, 0
        while next_seq < len(frames) or drops < 50:
            assert drops < 150, [(e["type"], e.get("seq"), e.get("code"), e.get("message")) for e in received[-12:]]
            for _ in range(rng.randint(0, 2)):
                if next_seq < len(frames):
                    await ws.send(frames[next_seq])
                    next_seq += 1
            await asyncio.sleep(rng.choice([0.0, 0.02, 0.1, 0.3]))
            ws.transport.abort()  # a blip: whatever was in flight either way is lost
            reader.cancel()
            drops += 1
            ws, ack, reader = await connect(f"resume={token}&delivered={delivered()}")
            assert ack["session_id"] == session_id and ack["status"] == "live", ack
            next_seq = ack["last_seq"] + 1  # the server says what it stored: resend from there
        await ws.send(json.dumps({"type": "session_end"}))
        deadline = time.monotonic() + 180
        while not any(e["type"] == "session_complete" for e in received):
            assert time.monotonic() < deadline, "no session_complete"
            await asyncio.sleep(0.2)
        await asyncio.wait_for(reader, timeout=10)
        return session_id, drops

    session_id, drops = asyncio.run(blips())
    assert drops >= 50
    seqs = [e["seq"] for e in received if e["type"] == "audio_processed"]
    assert seqs == list(range(n_chunks(audio))), "every seq answered once, in order, across 51 sockets"
    complete = next(e for e in received if e["type"] == "session_complete")
    assert [s["text"] for s in sorted(complete["segments"], key=lambda s: s["id"])] == expected
    assert not [e for e in received if e["type"] == "error_message" and e.get("fatal")]
    check_stored(stack, session_id, audio, expected)
