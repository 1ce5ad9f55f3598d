"""Graceful degradation, deterministically: a stub recogniser with a fixed cost per step on a virtual clock,
driven through the real ordered transcribe stage (fakeredis), one worker serving N sessions in arrival order.

Within capacity nothing is given up; beyond it partials go first (``degraded: ["partials"]``), every commit
still happens, and the lag stays lower than the same load without degradation. No wall-clock timing.
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest

from analysis.overload import overload_for
from analysis.pipeline import analyze, transcribe
from analysis.pipeline.stages import BY_NAME
from analysis.stt.engine import Segment, StepResult, StreamState, Word
from sessions import state
from sessions.state import Keys, SessionMeta

CHUNK_S = 0.25
CHUNK_BYTES = b"\x00\x00" * int(16000 * CHUNK_S)
COMMIT_EVERY = 8  # chunks: one 2 s utterance committed every 2 s of audio
COST = {"step": 0.01, "partial": 0.15, "commit": 0.2}  # virtual seconds of one worker


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def time(self) -> float:
        return self.now


@dataclass
class StubTranscriber:
    """Commits a segment every COMMIT_EVERY chunks and refreshes the partial when allowed; each costs time."""

    clock: Clock
    partials: int = 0
    loads: list[float] = field(default_factory=list)

    def step(self, st: StreamState, audio: np.ndarray, *, final: bool = False, allow_partial: bool = True,
             load: float = 0.0) -> StepResult:
        st = StreamState(**st.to_dict())
        self.clock.now += COST["step"]
        end = st.buffer_start + len(audio)
        segments = []
        if end // int(16000 * CHUNK_S) % COMMIT_EVERY == 0 or final:
            self.clock.now += COST["commit"]
            t = end / 16000
            segments.append(Segment(id=st.next_id, start=t - 1.5, end=t - 0.5, text=f"utterance {st.next_id}",
                                    confidence=0.9, words=[Word("utterance", t - 1.5, t - 0.5, 0.9)], language="en"))
            st.next_id += 1
            st.buffer_start = end
            st.partial = ""
        elif allow_partial:
            self.clock.now += COST["partial"]
            self.partials += 1
            self.loads.append(load)
            st.partial = f"partial at {end}"
        return StepResult(segments=segments, partial=st.partial, state=st)


def simulate(n_sessions: int, chunks: int, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    clock = Clock()
    stub = StubTranscriber(clock)
    fake_time = SimpleNamespace(time=clock.time, perf_counter=time.perf_counter, monotonic=time.monotonic,
                                sleep=time.sleep)
    monkeypatch.setattr(transcribe, "time", fake_time)
    monkeypatch.setattr(transcribe, "transcriber", lambda: stub)
    client = state.sync_client()
    start = clock.now
    sessions = [str(uuid.uuid4()) for _ in range(n_sessions)]
    for sid in sessions:
        meta = SessionMeta(session_id=sid, language="en", sample_rate=16000, channels=1, started_wall=start)
        client.hset(Keys(sid).meta, mapping=meta.to_redis())
    arrivals = sorted((start + (k + 1) * CHUNK_S, i, k) for k in range(chunks) for i in range(n_sessions))
    lags: list[float] = []
    for arrival, i, seq in arrivals:  # one solo worker, tasks in arrival order (the broker's FIFO)
        keys = Keys(sessions[i])
        client.hset(keys.raw, seq, CHUNK_BYTES)
        client.hset(keys.recv, seq, f"{arrival:.6f}|{int(seq * CHUNK_S * 16000)}")
        client.hset(keys.meta, mapping={"last_seq": seq, "audio_s": repr((seq + 1) * CHUNK_S)})
        clock.now = max(clock.now, arrival)
        BY_NAME["transcribe"].run(sessions[i], seq)
        lags.append(clock.now - arrival)
    results = [
        {int(k): json.loads(v) for k, v in client.hgetall(Keys(sid).result).items()} for sid in sessions
    ]
    for sid in sessions:
        client.delete(*Keys(sid).all())
    return {
        "max_lag": max(lags),
        "commits": [sum(len(r["segments"]) for r in res.values()) for res in results],
        "degraded": [d for res in results for r in res.values() for d in r.get("degraded", [])],
        "partials": stub.partials,
        "loads": stub.loads,
    }


def test_the_policy_gives_up_partials_first_then_feedback_never_commits():
    assert overload_for(0.2, partial_drop_s=1.0, feedback_defer_s=2.0) == overload_for(0.0, partial_drop_s=1.0,
                                                                                      feedback_defer_s=2.0)
    calm = overload_for(0.2, partial_drop_s=1.0, feedback_defer_s=2.0)
    assert calm.partials and calm.feedback and calm.load == 0.0 and calm.degraded == []
    busy = overload_for(0.75, partial_drop_s=1.0, feedback_defer_s=2.0)
    assert busy.partials and busy.load == pytest.approx(0.5) and busy.degraded == []
    behind = overload_for(1.5, partial_drop_s=1.0, feedback_defer_s=2.0)
    assert not behind.partials and behind.feedback and behind.degraded == ["partials"]
    far = overload_for(3.0, partial_drop_s=1.0, feedback_defer_s=2.0)
    assert far.degraded == ["partials", "feedback"] and far.load == 1.0


def test_within_capacity_nothing_is_degraded(monkeypatch, settings):
    settings.STT_PARTIAL_DROP_LAG_S = 1.0
    run = simulate(1, 48, monkeypatch)
    assert run["degraded"] == []
    assert run["commits"] == [48 // COMMIT_EVERY]
    assert run["partials"] > 0 and run["max_lag"] < 0.5


def test_beyond_capacity_partials_are_dropped_and_every_commit_is_kept(monkeypatch, settings):
    settings.STT_PARTIAL_DROP_LAG_S = 1.0
    degraded = simulate(4, 48, monkeypatch)
    assert "partials" in degraded["degraded"]
    assert degraded["commits"] == [48 // COMMIT_EVERY] * 4  # commits are never given up
    assert any(load > 0 for load in degraded["loads"])  # the interval stretched before partials were dropped

    settings.STT_PARTIAL_DROP_LAG_S = 1e9  # the same load with degradation off: the backlog grows
    undegraded = simulate(4, 48, monkeypatch)
    assert undegraded["degraded"] == []
    assert degraded["max_lag"] < undegraded["max_lag"] / 2


def test_a_behind_analyze_stage_defers_feedback_and_catches_up_later(monkeypatch):
    """Feedback is the second thing given up: the analyze step is skipped (``degraded: ["feedback"]``) and
    runs at the next chunk that is not behind, even when that chunk brought no new segment."""
    from analysis import services

    sid = str(uuid.uuid4())
    client = state.sync_client()
    meta = SessionMeta(session_id=sid, language="en", sample_rate=16000, channels=1, audio_s=0.5, last_seq=3)
    client.hset(Keys(sid).meta, mapping=meta.to_redis())
    client.hset(Keys(sid).cursor, "diarize", 4)
    segment = {"id": 0, "start": 0.1, "end": 0.6, "text": "hello", "words": []}
    for seq in range(5):
        payload = {"segments": [segment] if seq == 1 else [], "partial": "", "timings_ms": {}}
        client.hset(Keys(sid).result, seq, json.dumps(payload))
    calls: list[float] = []
    monkeypatch.setattr(services, "answers_live_step", lambda **kw: calls.append(kw["now_s"]) or [])
    behind = overload_for(3.0, partial_drop_s=1.0, feedback_defer_s=2.0)
    calm = overload_for(0.0, partial_drop_s=1.0, feedback_defer_s=2.0)
    monkeypatch.setattr(analyze, "chunk_overload", lambda session_id, seq: behind if seq <= 3 else calm)
    try:
        BY_NAME["analyze"].run(sid, 3)
        assert calls == []  # behind: no analysis now
        stored = json.loads(client.hget(Keys(sid).result, 3))
        assert stored["degraded"] == ["feedback"]
        client.hset(Keys(sid).meta, "last_seq", 4)  # (a stage reaches every accepted chunk: 4 arrives now)
        BY_NAME["analyze"].run(sid, 4)  # caught up, no new segment, but the deferred work is done now
        assert calls == [0.5]  # (0.5 s into the session: only the deferral makes it run)
        assert state.get_cursor(sid, "analyze") == 4
    finally:
        client.delete(*Keys(sid).all())


def test_a_step_that_catches_up_several_chunks_is_behind_by_its_oldest(monkeypatch, settings):
    """Chunks that arrived while the worker was busy share one step (coalesced chains): the newest just
    arrived, but the oldest waited 3 s, and that is how far behind the worker is: no partial."""
    settings.STT_PARTIAL_DROP_LAG_S = 1.0
    clock = Clock()
    stub = StubTranscriber(clock)
    monkeypatch.setattr(transcribe, "time", SimpleNamespace(time=clock.time, perf_counter=time.perf_counter))
    monkeypatch.setattr(transcribe, "transcriber", lambda: stub)
    client = state.sync_client()
    sid = str(uuid.uuid4())
    meta = SessionMeta(session_id=sid, language="en", sample_rate=16000, channels=1, started_wall=clock.now)
    client.hset(Keys(sid).meta, mapping=meta.to_redis())
    for seq in range(4):  # 0 arrived 3 s ago, 3 just now
        client.hset(Keys(sid).raw, seq, CHUNK_BYTES)
        client.hset(Keys(sid).recv, seq, f"{clock.now - 3.0 + seq:.6f}|{int(seq * CHUNK_S * 16000)}")
    client.hset(Keys(sid).meta, mapping={"last_seq": 3, "audio_s": repr(4 * CHUNK_S)})
    try:
        BY_NAME["transcribe"].run(sid, 0)
        last = json.loads(client.hget(Keys(sid).result, 3))
        assert last["degraded"] == ["partials"] and stub.partials == 0
    finally:
        client.delete(*Keys(sid).all())
