"""10,000 malformed frames to one daphne process (production shape: DEBUG=0, tickets, consent).

Random bytes, short or odd binary headers, seq gaps and repeats, deeply nested and huge JSON, lone
surrogates, wrong types, unknown messages, and a few frames over daphne's 1 MiB limit. Every frame that is
not answered by a close gets exactly one ``error_message``; an oversized frame is answered by close 1009
(docs/protocol.md) and the client resumes its session. Afterwards the same process serves a normal session
(note, evaluation, audio, end), and its resident memory grew by less than 50 MB.

Kept fast: frames go out in pipelined batches; the text-frame rate limit is raised for this server so the
parser (not the limiter) answers each frame (the limiter has its own test in test_limits.py).
"""

from __future__ import annotations

import json
import random
import struct
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from servers import IVY_TOKEN, SERVER_PIDS, serve
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

pytestmark = [pytest.mark.models]

FRAMES = 10_000
OVERSIZE = 4
BATCH = 250
MAX_RSS_GROWTH_MB = 50


@pytest.fixture(scope="module")
def fuzz_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    env = {"WS_TEXT_FRAMES_PER_S": "1000000", "WS_TEXT_FRAMES_BURST": "1000000",
           "API_THROTTLE_WS_TICKET": "10000/min", "FINAL_PASS": "0"}  # fmt: skip
    with serve(tmp_path_factory.mktemp("fuzz"), debug=False, log_name="fuzz-server.log", extra_env=env,
               collect_static=False) as base:  # fmt: skip
        yield base


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


def ticket(base: str) -> str:
    request = urllib.request.Request(f"{base}/api/ws-tickets/", method="POST",
                                     headers={"Authorization": f"Token {IVY_TOKEN}"})  # fmt: skip
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())["ticket"]


def open_socket(base: str, query: str) -> ClientConnection:
    url = base.replace("http://", "ws://") + f"/ws/interviews/?{query}&consent=1&ticket={ticket(base)}"
    return connect(url, origin=base, open_timeout=30, max_size=2**20)


def malformed_frames(rng: random.Random) -> Iterator[str | bytes]:
    """Frames none of which the server may accept (so each one must be answered with an error)."""
    silence = b"\x00\x00" * 3200
    makers = [
        lambda: bytes(rng.getrandbits(8) for _ in range(rng.randint(0, 3))),  # shorter than the seq header
        lambda: struct.pack(">I", rng.randint(1, 2**32 - 1)) + rng.randbytes(rng.randrange(1, 4001, 2)),  # odd PCM
        lambda: struct.pack(">I", rng.randint(1, 2**32 - 1)) + rng.randbytes(rng.randrange(2, 400, 2)),  # too short
        lambda: struct.pack(">I", rng.randint(1, 2**32 - 1)) + silence,  # seq gap (nothing was accepted yet)
        lambda: struct.pack(">I", 7) + silence,  # the same gap, repeated
        lambda: struct.pack(">I", 1) + b"\x00\x00" * 40000,  # longer than max_chunk_ms
        lambda: "[" * rng.randint(1000, 40000) + "]" * 10,  # nested too deeply (and unterminated)
        lambda: '{"a":' * 30000 + "1" + "}" * 30000,
        lambda: '{"type": "ping", "ts": ' + "9" * rng.randint(4301, 20000) + "}",  # huge integer
        lambda: '{"type": "audio_chunk", "seq": ' + "1" * rng.randint(20, 5000) + ', "audio": "AAAA"}',
        lambda: '{"type": "speaker_note", "text": "abc\\ud800def"}',  # lone surrogate
        lambda: '{"type": "ping", "ts": "\\udfff"}',
        lambda: '{"type": "ping", "ts": 1e400}',
        lambda: json.dumps({"type": rng.choice(["teleport", "", "audio", "SESSION_END"]), "x": rng.random()}),
        lambda: json.dumps({"type": "audio_chunk", "seq": -rng.randint(1, 99), "audio": "AAAA"}),
        lambda: json.dumps({"type": "audio_chunk", "seq": 3, "audio": "***not base64***"}),
        lambda: json.dumps({"type": "speaker_note", "text": 12}),
        lambda: json.dumps({"type": "speaker_note", "text": "x" * 5000}),
        lambda: json.dumps({"type": "evaluation_request", "scope": ["session"]}),
        lambda: json.dumps([1, 2, 3]),
        lambda: rng.randbytes(rng.randint(1, 300)).decode("latin-1"),  # printable-ish garbage as text
        lambda: '{"type": "ping", "ts": 1',  # truncated
    ]
    while True:
        yield rng.choice(makers)()


def test_ten_thousand_malformed_frames_then_a_normal_session(fuzz_server: str) -> None:
    base = fuzz_server
    pid = SERVER_PIDS[base]
    rng = random.Random(20261201)
    ws = open_socket(base, "language=en")
    ack = json.loads(ws.recv(timeout=30))
    assert ack["type"] == "connection_ack"
    resume = ack["resume_token"]
    for _ in range(50):  # warm up the code paths before the first reading
        ws.send('{"type": "teleport"}')
        json.loads(ws.recv(timeout=30))
    rss_before = rss_mb(pid)

    started = time.monotonic()
    frames = malformed_frames(rng)
    oversize_every = FRAMES // (OVERSIZE + 1)
    sent = answered = closes = 0
    codes: dict[str, int] = {}
    while sent < FRAMES:
        if closes < OVERSIZE and sent >= oversize_every * (closes + 1):
            ws.send(rng.randbytes(2**20 + rng.randint(1, 4096)))  # over daphne's 1 MiB frame limit
            sent += 1
            with pytest.raises(ConnectionClosed) as closed:
                ws.recv(timeout=30)
            assert closed.value.rcvd is not None and closed.value.rcvd.code == 1009, closed.value
            closes += 1
            ws = open_socket(base, f"resume={resume}")
            resumed = json.loads(ws.recv(timeout=30))
            assert resumed["type"] == "connection_ack" and resumed["session_id"] == ack["session_id"], resumed
            continue
        size = min(BATCH, FRAMES - sent)
        if closes < OVERSIZE:
            size = min(size, oversize_every * (closes + 1) - sent)
        batch = [next(frames) for _ in range(size)]
        for payload in batch:
            ws.send(payload)
        sent += len(batch)
        for payload in batch:
            reply = json.loads(ws.recv(timeout=60))
            assert reply["type"] == "error_message" and reply["fatal"] is False, (reply, repr(payload[:80]))
            codes[reply["code"]] = codes.get(reply["code"], 0) + 1
            answered += 1
    elapsed = time.monotonic() - started
    rss_after = rss_mb(pid)
    ws.close()
    print(f"\nfuzz: {sent} frames ({answered} error_message, {closes} closes 1009) in {elapsed:.1f} s "
          f"(measured under shared load); server RSS {rss_before:.0f} -> {rss_after:.0f} MB; codes {codes}")
    assert answered + closes == FRAMES and closes == OVERSIZE
    assert "internal_error" not in codes
    assert rss_after - rss_before < MAX_RSS_GROWTH_MB

    # The same process still serves a normal interview.
    ws = open_socket(base, "language=en")
    normal = json.loads(ws.recv(timeout=30))
    assert normal["type"] == "connection_ack" and normal["session_id"] != ack["session_id"]
    ws.send(json.dumps({"type": "ping", "ts": 1}))
    assert json.loads(ws.recv(timeout=30)) == {"type": "pong", "ts": 1}
    ws.send(json.dumps({"type": "speaker_note", "text": "Tell me about yourself.", "kind": "question"}))
    assert json.loads(ws.recv(timeout=30))["type"] == "note_ack"
    ws.send(struct.pack(">I", 0) + b"\x00\x00" * 16000)
    ws.send(json.dumps({"type": "session_end"}))
    seen: list[str] = []
    while "session_complete" not in seen:
        message = json.loads(ws.recv(timeout=180))
        seen.append(message["type"])
        if message["type"] == "audio_processed":
            assert message["seq"] == 0
        assert message["type"] != "error_message", message
    assert "audio_processed" in seen
    ws.close()
