"""``encoding=opus`` through the consumer (embedded shape): real speech as raw Opus packets, same ordering,
resume and duration as PCM; the transcript is compared with an uninterrupted PCM run of the same clip."""

from __future__ import annotations

import struct
import time

import numpy as np
import pytest
import soundfile as sf
from channels.testing import WebsocketCommunicator
from shareddata import manifest
from textnorm import error_rate

from analysis.audio import opus
from analysis.audio.preprocess import file_to_16k_mono
from interview_project.asgi import application
from clients.python.interview_client import pcm16
from sessions.models import Interview

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.models]

ORIGIN = [(b"origin", b"http://127.0.0.1")]
CLIP = "1089-134686-0000.flac"  # LibriSpeech, 10.4 s


async def connect(query: str) -> tuple[WebsocketCommunicator, dict]:
    communicator = WebsocketCommunicator(application, f"/ws/interviews/?{query}", headers=ORIGIN)
    connected, _ = await communicator.connect(timeout=10)
    assert connected
    return communicator, await communicator.receive_json_from(timeout=10)


async def next_of(communicator: WebsocketCommunicator, kind: str, timeout: float = 30) -> dict:
    while True:
        message = await communicator.receive_json_from(timeout=timeout)
        if message["type"] == kind:
            return message


def frame(seq: int, payload: bytes) -> bytes:
    return struct.pack(">I", seq) + payload


@pytest.fixture(autouse=True)
def _debug(settings):
    settings.DEBUG = True
    settings.FINAL_PASS = False
    yield
    from celery.worker import state as worker_state

    for _ in range(200):
        if not worker_state.active_requests:
            break
        time.sleep(0.05)


async def _run(payloads: list[bytes], query: str, *, drop_after: int | None = None) -> tuple[dict, dict]:
    communicator, ack = await connect(query)
    seqs: list[int] = []
    limit = len(payloads) if drop_after is None else drop_after
    for seq in range(limit):
        await communicator.send_to(bytes_data=frame(seq, payloads[seq]))
    if drop_after is not None:
        await communicator.disconnect()  # unacknowledged chunks are resent after the resume
        communicator, ack2 = await connect(f"resume={ack['resume_token']}")
        assert ack2["session_id"] == ack["session_id"] and ack2["audio"]["encoding"] == ack["audio"]["encoding"]
        for seq in range(ack2["last_seq"] + 1, len(payloads)):
            await communicator.send_to(bytes_data=frame(seq, payloads[seq]))
    await communicator.send_json_to({"type": "session_end"})
    while True:
        message = await communicator.receive_json_from(timeout=120)
        if message["type"] == "audio_processed":
            seqs.append(message["seq"])
        if message["type"] == "session_complete":
            break
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
    await communicator.disconnect()
    return ack, message


async def test_opus_stream_with_a_resume_matches_the_pcm_run(shared_data):
    path = shared_data / "en" / CLIP
    reference = next(m for m in manifest("en") if m["path"] == CLIP)["text"]
    audio = file_to_16k_mono(str(path))
    packets = opus.encode_pcm(audio, 16000)  # 20 ms packets at 24 kbit/s
    opus_chunks = [opus.join_packets(packets[i:i + 12]) for i in range(0, len(packets), 12)]  # 240 ms
    ack, complete = await _run(opus_chunks, "language=en&encoding=opus", drop_after=len(opus_chunks) // 2)
    assert ack["audio"] == {"encoding": "opus", "sample_rate": 48000, "channels": 1, "max_chunk_ms": 2000}
    opus_text = " ".join(s["text"] for s in complete["segments"])
    opus_s = sum(map(opus.packet_samples, packets)) / 48000
    assert abs(complete["duration_s"] - opus_s) < 0.01
    interview = await Interview.objects.aget(pk=ack["session_id"])
    assert interview.status == "completed" and interview.last_seq == len(opus_chunks) - 1
    stored = sf.info(interview.audio.path)
    assert stored.samplerate == 16000 and abs(stored.duration - opus_s) < 0.05

    pcm_chunks = [pcm16(audio[i:i + 3840]) for i in range(0, len(audio), 3840)]
    _ack, pcm_complete = await _run(pcm_chunks, "language=en")
    pcm_text = " ".join(s["text"] for s in pcm_complete["segments"])
    opus_bytes, pcm_bytes = sum(map(len, opus_chunks)), sum(map(len, pcm_chunks))
    assert opus_bytes * 8 < pcm_bytes  # 24 kbit/s against 256 kbit/s
    assert error_rate(reference, opus_text, "en") <= error_rate(reference, pcm_text, "en") + 0.05, (opus_text, pcm_text)
    assert error_rate(reference, opus_text, "en") < 0.15, opus_text


async def test_bad_opus_gets_errors_and_the_session_goes_on():
    communicator, ack = await connect("language=en&encoding=opus")
    silence = opus.encode_pcm(np.zeros(16000, "float32"), 16000)
    cases = [
        (b"\x00\x05abc", "bad_audio"),  # a length prefix beyond the payload
        (opus.join_packets([bytes([16 << 3 | 0, 0])]), "chunk_too_short"),  # one 2.5 ms packet
        (opus.join_packets([bytes([3 << 3 | 3, 2, 0])] * 20), "chunk_too_large"),  # 20 x 120 ms
    ]
    for payload, code in cases:
        await communicator.send_to(bytes_data=frame(0, payload))
        error = await next_of(communicator, "error_message")
        assert error["code"] == code and not error["fatal"], error
    await communicator.send_to(bytes_data=frame(0, opus.join_packets(silence[:10])))
    assert (await next_of(communicator, "audio_processed"))["seq"] == 0
    await communicator.disconnect()


@pytest.mark.parametrize("query", ["encoding=flac", "encoding=opus&sample_rate=16000"])
async def test_bad_encoding_parameters_close_the_socket(query):
    communicator = WebsocketCommunicator(application, f"/ws/interviews/?{query}", headers=ORIGIN)
    connected, _ = await communicator.connect(timeout=10)
    if connected:
        error = await communicator.receive_json_from(timeout=10)
        assert error["code"] == "bad_parameters" and error["fatal"]
        closed = await communicator.receive_output(timeout=10)
        assert closed["code"] == 4400
    await communicator.disconnect()
