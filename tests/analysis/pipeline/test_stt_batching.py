"""Cross-session batching wired into the real ordered transcribe stage (``STT_BATCH=1``), as a ``-P threads``
worker runs it: one thread per session, each running ``transcribe`` for its chunks in order through the
ordered runner (session lock held while it waits for its batch), the real streaming transcriber (VAD and
utterance policy) and the real micro-batcher; only ``decode_batch`` is a stub (deterministic, records each
batch). Sessions' clips share batches, each session's stored results are what it gets decoding alone, in
seq order, and re-running a chunk's task changes nothing."""

from __future__ import annotations

import json
import threading
import time
import uuid
import zlib

import numpy as np
import pytest

from analysis.audio.preprocess import file_to_16k_mono, to_int16_bytes
from analysis.pipeline import worker_models
from analysis.pipeline.runner import StageBusy
from analysis.pipeline.stages import BY_NAME
from analysis.stt import microbatch
from analysis.stt.batch import BatchItem
from analysis.stt.engine import SR, ClipText, Word
from sessions import recording, state
from sessions.state import Arrival, Keys, SessionMeta

CHUNK = SR // 4


class StubBatchDecode:
    """Stands in for ``decode_batch``: a clip's text is a checksum of its samples (so any session decoding
    the same audio gets the same text, and a wrong hand-out shows); records every batch."""

    def __init__(self) -> None:
        self.batches: list[list[BatchItem]] = []
        self.lock = threading.Lock()

    def __call__(self, _model: object, items: list[BatchItem]) -> list[ClipText]:
        with self.lock:
            self.batches.append(list(items))
        time.sleep(0.05)  # a decode takes a while: clips of other sessions arrive meanwhile
        out = []
        for item in items:
            duration = len(item.audio) / SR
            tag = f"c{zlib.crc32(np.round(item.audio, 4).tobytes()):08x}"
            words = [Word(w=tag, start=0.1, end=max(0.2, duration - 0.1), p=0.9)] if item.word_timestamps else []
            out.append(ClipText(text=f"{tag} {duration:.2f}", words=words, avg_logprob=-0.2, no_speech_prob=0.01,
                                language=item.language))
        return out


@pytest.fixture
def batched_worker(settings, monkeypatch, shared_data):
    settings.STT_BATCH = True
    settings.STT_BATCH_WINDOW_MS = 200.0
    settings.STT_BATCH_MAX = 16
    stub = StubBatchDecode()
    monkeypatch.setattr(microbatch, "decode_batch", stub)
    monkeypatch.setattr(worker_models, "model_for", lambda _config: object())  # no Whisper load
    for cached in (worker_models.batched_decoder, worker_models.transcriber):
        cached.cache_clear()
    yield stub
    for cached in (worker_models.batched_decoder, worker_models.transcriber):
        cached.cache_clear()


def new_session() -> SessionMeta:
    meta = SessionMeta(session_id=str(uuid.uuid4()), language="en", sample_rate=SR, channels=1, status="live",
                       started_wall=time.time())
    state.sync_client().hset(Keys(meta.session_id).meta, mapping=meta.to_redis())
    return meta


def accept(meta: SessionMeta, seq: int, pcm: np.ndarray) -> None:
    keys = Keys(meta.session_id)
    client = state.sync_client()
    recording.for_meta(meta).append(seq, to_int16_bytes(pcm))
    client.hset(keys.recv, seq, Arrival(wall=time.time(), offset=seq * CHUNK).encode())
    client.hset(keys.meta, mapping={"last_seq": seq, "audio_s": repr((seq + 1) * CHUNK / SR)})


def transcribe_chunk(session_id: str, seq: int) -> None:
    deadline = time.monotonic() + 60
    while True:
        try:
            BY_NAME["transcribe"].run(session_id, seq)
            return
        except StageBusy:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.005)


def results(meta: SessionMeta) -> dict[int, dict]:
    raw = state.sync_client().hgetall(Keys(meta.session_id).result)
    return {int(k): json.loads(v) for k, v in raw.items()}


def commits(meta: SessionMeta) -> list[tuple[int, str]]:
    return [(seq, seg["text"]) for seq, r in sorted(results(meta).items()) for seg in r["segments"]]


def run_sessions(sessions: list[tuple[SessionMeta, np.ndarray]]) -> None:
    """One thread per session, its chunks arriving in order, chunk k of every session at the same moment (as
    concurrent real-time streams deliver them); each chunk's transcribe task runs in the session's thread."""
    barrier = threading.Barrier(len(sessions))
    steps = max(-(-len(audio) // CHUNK) for _, audio in sessions)
    errors: list[BaseException] = []

    def session(meta: SessionMeta, audio: np.ndarray) -> None:
        try:
            for seq in range(steps):
                if seq * CHUNK < len(audio):
                    accept(meta, seq, audio[seq * CHUNK : (seq + 1) * CHUNK])
                barrier.wait(timeout=60)
                if seq * CHUNK < len(audio):
                    transcribe_chunk(meta.session_id, seq)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
            barrier.abort()

    threads = [threading.Thread(target=session, args=pair) for pair in sessions]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    assert not errors, errors


def test_sessions_share_batches_in_the_real_transcribe_stage_and_keep_their_own_ordered_results(batched_worker,
                                                                                                 shared_data):
    speech = file_to_16k_mono(str(shared_data / "en" / "jfk.flac"))
    # three sessions of the same speech, one of them later by 0.5 s of silence: batches mix sessions, and a
    # session's clips must come back to it
    audios = [speech, speech, np.concatenate([np.zeros(SR // 2, dtype=np.float32), speech])]
    sessions = [(new_session(), a) for a in audios]
    run_sessions(sessions)

    batches = batched_worker.batches
    assert batches and max(len(b) for b in batches) >= 2, [len(b) for b in batches]
    got = [commits(meta) for meta, _ in sessions]
    assert all(got), got

    # each session alone, one after the other: the same commits at the same seqs
    batched_worker.batches.clear()
    alone = []
    for audio in audios:
        meta = new_session()
        run_sessions([(meta, audio)])
        alone.append(commits(meta))
    assert max(len(b) for b in batched_worker.batches) == 1
    assert got == alone
    assert got[0] == got[1]  # same audio, same text: nothing handed to the wrong session

    # results are stored per chunk in seq order; a re-run task for a done chunk changes nothing
    for meta, audio in sessions:
        before = results(meta)
        assert sorted(before) == list(range(-(-len(audio) // CHUNK)))
        n_batches = len(batched_worker.batches)
        transcribe_chunk(meta.session_id, 3)
        assert results(meta) == before and len(batched_worker.batches) == n_batches
