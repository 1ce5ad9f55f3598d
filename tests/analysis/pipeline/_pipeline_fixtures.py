"""The pipeline on the embedded fakeredis with stub models: a session in Redis, chunks, a fake transcriber,
diarizer and answer services, and a recorder of what is published."""

from __future__ import annotations

import threading
import time
import uuid
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pytest

from analysis import services as analysis_services
from analysis.audio.preprocess import to_int16_bytes
from analysis.diarization.live import LabeledSegment
from analysis.pipeline import diarize, transcribe
from analysis.pipeline.runner import StageBusy
from analysis.pipeline.stages import STAGES
from analysis.stt.engine import SR, Segment, StepResult, StreamState, Word
from sessions import recording, events, services, state
from sessions.state import Arrival, Keys, SessionMeta

CHUNK = 1600  # 0.1 s at 16 kHz


@dataclass
class StubTranscriber:
    """Commits everything buffered at each step as one segment named after the samples it covers."""

    calls: list[tuple[int, int, bool]] = field(default_factory=list)
    fail_at_call: int | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)

    def step(self, stream: StreamState, audio: np.ndarray, *, final: bool, allow_partial: bool,
             load: float = 0.0) -> StepResult:
        with self.lock:
            self.calls.append((stream.buffer_start, len(audio), final))
            if self.fail_at_call is not None and len(self.calls) == self.fail_at_call:
                raise RuntimeError("worker died mid-step")
        start, end = stream.buffer_start, stream.buffer_start + len(audio)
        segments = []
        if len(audio):
            words = [Word(w=f"s{start}", start=start / SR, end=end / SR, p=0.9)]
            segments.append(Segment(id=stream.next_id, start=start / SR, end=end / SR, text=f"s{start}-{end}",
                                    confidence=0.9, words=words, language="en"))
        new_state = replace(stream, buffer_start=end, next_id=stream.next_id + len(segments), language="en")
        return StepResult(segments=segments, partial="", state=new_state, timings_ms={"decode": 1.0})


class StubDiarizer:
    """Labels every segment with one speaker; remembers how many it labelled (its state) and its hints."""

    roles_version = 0  # one voice, one role: never corrected

    def __init__(self, memory: dict | None = None, *, channels: int = 1, practice: bool = False,
                 enroll_until: float = 0.0) -> None:
        self.memory = dict(memory or {"labelled": 0, "hints": 0})

    def take_corrections(self) -> list[Any]:
        return []

    def hint(self, **_hint: Any) -> None:
        self.memory["hints"] += 1

    def label(self, segs: list[Any], audio: np.ndarray, start: float, channel_audio: Any = None) -> list[LabeledSegment]:
        assert len(audio) > 0  # the stage hands it the stored audio under the segments
        self.memory["labelled"] += len(segs)
        return [LabeledSegment(s.start, s.end, s.text, s.words, "S1", "candidate", 0.9) for s in segs]

    def to_state(self) -> dict:
        return dict(self.memory)


@dataclass
class Recorder:
    published: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    committed: list[tuple[int, list[dict[str, Any]]]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def publish(self, session_id: str, event: dict[str, Any]) -> None:
        with self.lock:
            self.published.append((session_id, event))

    def segments_commit(self, *, session_id: str, seq: int, segments: list[dict[str, Any]]) -> None:
        with self.lock:
            self.committed.append((seq, segments))

    def processed(self, session_id: str) -> list[int]:
        return [e["seq"] for s, e in self.published if s == session_id and e["type"] == "audio_processed"]


@pytest.fixture
def stubs(monkeypatch: pytest.MonkeyPatch) -> tuple[StubTranscriber, Recorder]:
    transcriber = StubTranscriber()
    recorder = Recorder()
    monkeypatch.setattr(transcribe, "transcriber", lambda: transcriber)
    monkeypatch.setattr(diarize, "LiveDiarizer", StubDiarizer)
    monkeypatch.setattr(services, "segments_commit", recorder.segments_commit)
    monkeypatch.setattr(events, "publish", recorder.publish)

    def live_step(*, meta: SessionMeta, stage: dict, now_s: float, final: bool, audio_source: Any) -> list:
        stage["steps"] = stage.get("steps", 0) + 1
        return [events.live_feedback(answer_id=0, question="q", items=[], metrics={"steps": stage["steps"]})]

    monkeypatch.setattr(analysis_services, "answers_live_step", live_step)
    monkeypatch.setattr(analysis_services, "answers_score_pending", lambda *, meta: [])
    return transcriber, recorder


def new_session(*, status: str = "live") -> SessionMeta:
    meta = SessionMeta(session_id=str(uuid.uuid4()), language="en", sample_rate=SR, channels=1, status=status,
                       started_wall=time.time())
    pipe = state.sync_client().pipeline(transaction=True)
    pipe.hset(Keys(meta.session_id).meta, mapping=meta.to_redis())
    state.queue_epoch_new(pipe, meta.session_id)  # as interview_start does
    pipe.execute()
    return meta


def accept(meta: SessionMeta, seq: int) -> None:
    """What the consumer stores for an accepted chunk (``services.chunk_accept``)."""
    rng = np.random.default_rng(seq)
    pcm = to_int16_bytes((0.1 * rng.standard_normal(CHUNK)).astype(np.float32))
    keys = Keys(meta.session_id)
    client = state.sync_client()
    recording.for_meta(meta).append(seq, pcm)  # durable first; raw audio is not copied into Redis
    client.hset(keys.recv, seq, Arrival(wall=time.time(), offset=seq * CHUNK).encode())
    client.hset(keys.meta, mapping={"last_seq": seq, "audio_s": repr((seq + 1) * CHUNK / SR)})


def run_chain(session_id: str, seq: int, *, patience_s: float = 30.0) -> None:
    """One chunk's chain as a worker runs it: each stage in order, a busy stage retried shortly."""
    for stage in STAGES:
        deadline = time.monotonic() + patience_s
        while True:
            try:
                stage.run(session_id, seq)
                break
            except StageBusy:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.005)
