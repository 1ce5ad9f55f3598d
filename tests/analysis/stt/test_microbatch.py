"""The cross-session micro-batcher (issue 14): clips from concurrent sessions' threads are decoded in one
call, each thread gets its own result, a session's clips keep their order, a failed call reaches every
waiter, and a lone clip is not held back beyond the window. A stub decoder (deterministic, no model)
records every batch it is given."""

from __future__ import annotations

import threading
import time
from contextlib import nullcontext

import numpy as np
import pytest

from analysis.stt.engine import SR, StreamingTranscriber, StreamState, SttConfig
from analysis.stt.microbatch import MicroBatcher


class StubDecoder:
    """Decodes ``(session, n)`` to ``"session:n"``; records each batch; can be made to fail."""

    def __init__(self, *, cost_s: float = 0.0, fail_on: str | None = None) -> None:
        self.batches: list[list[tuple[str, int]]] = []
        self.cost_s = cost_s
        self.fail_on = fail_on
        self._lock = threading.Lock()

    def __call__(self, items: list[tuple[str, int]]) -> list[str]:
        with self._lock:
            self.batches.append(list(items))
        time.sleep(self.cost_s)
        if self.fail_on is not None and any(s == self.fail_on for s, _ in items):
            raise RuntimeError("decoder failed")
        return [f"{s}:{n}" for s, n in items]


def run_sessions(batcher: MicroBatcher, sessions: list[str], clips: int, *, barrier: bool = True
                 ) -> tuple[dict[str, list[str]], dict[str, BaseException]]:
    """One thread per session, as a threads-pool worker runs them: each submits its clips in order, as
    its transcribe step does (a participant while it does)."""
    results: dict[str, list[str]] = {s: [] for s in sessions}
    errors: dict[str, BaseException] = {}
    start = threading.Barrier(len(sessions))

    def session(name: str) -> None:
        with batcher.participant():
            if barrier:
                start.wait()
            for n in range(clips):
                try:
                    results[name].append(batcher.submit((name, n)))
                except BaseException as exc:
                    errors[name] = exc
                    return

    threads = [threading.Thread(target=session, args=(s,)) for s in sessions]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=10)
    assert not any(t.is_alive() for t in threads)
    return results, errors


def test_concurrent_sessions_clips_are_batched_and_each_gets_its_own_result_in_order():
    stub = StubDecoder(cost_s=0.01)
    batcher = MicroBatcher(stub, window_s=0.5, max_batch=8)
    sessions = [f"s{i}" for i in range(4)]
    results, errors = run_sessions(batcher, sessions, clips=5)
    assert not errors
    for s in sessions:
        assert results[s] == [f"{s}:{n}" for n in range(5)]  # its own results, in its own order
    # every session is a participant, so each round closes as soon as all four have submitted: batches of 4
    sizes = [len(b) for b in stub.batches]
    assert sum(sizes) == 20
    assert max(sizes) == 4 and len(stub.batches) <= 8, sizes
    for batch in stub.batches:  # a batch never holds two clips of one session (a session waits for each)
        assert len({s for s, _ in batch}) == len(batch)
    # per session, the batches saw its clips in order
    for s in sessions:
        seen = [n for batch in stub.batches for name, n in batch if name == s]
        assert seen == list(range(5))


def test_batches_never_exceed_max_batch():
    stub = StubDecoder(cost_s=0.005)
    batcher = MicroBatcher(stub, window_s=0.5, max_batch=3)
    results, errors = run_sessions(batcher, [f"s{i}" for i in range(7)], clips=3)
    assert not errors and all(len(r) == 3 for r in results.values())
    assert max(len(b) for b in stub.batches) == 3


def test_groups_are_decoded_apart():
    stub = StubDecoder()
    batcher = MicroBatcher(stub, window_s=0.2, max_batch=8, group=lambda item: item[0][0])  # "a…" vs "b…"
    results, errors = run_sessions(batcher, ["a1", "a2", "b1", "b2"], clips=2)
    assert not errors
    assert results["b2"] == ["b2:0", "b2:1"]
    for batch in stub.batches:
        assert len({s[0] for s, _ in batch}) == 1


def test_an_exception_in_a_batch_reaches_every_waiter_and_the_batcher_goes_on():
    stub = StubDecoder(cost_s=0.01, fail_on="bad")
    batcher = MicroBatcher(stub, window_s=0.5, max_batch=8)
    results, errors = run_sessions(batcher, ["bad", "ok1", "ok2"], clips=1)
    assert len(stub.batches) == 1 and len(stub.batches[0]) == 3
    assert set(errors) == {"bad", "ok1", "ok2"}
    assert all(isinstance(e, RuntimeError) and str(e) == "decoder failed" for e in errors.values())
    # the next batch is a fresh one: later clips decode normally
    stub.fail_on = None
    results, errors = run_sessions(batcher, ["ok1", "ok2"], clips=2)
    assert not errors and results["ok1"] == ["ok1:0", "ok1:1"]


def test_a_wrong_result_count_is_an_error_for_every_waiter():
    batcher = MicroBatcher(lambda items: ["only one"], window_s=0.5, max_batch=8)
    _results, errors = run_sessions(batcher, ["s1", "s2"], clips=1)
    assert set(errors) == {"s1", "s2"}


def test_a_lone_clip_is_not_delayed_beyond_the_window():
    stub = StubDecoder()
    # no participants declared: the batch waits for the window, never longer
    batcher = MicroBatcher(stub, window_s=0.05, max_batch=8)
    started = time.monotonic()
    assert batcher.submit(("alone", 0)) == "alone:0"
    waited = time.monotonic() - started
    assert 0.04 <= waited < 0.5
    # the only participant: nobody else can join, so it does not wait at all
    batcher = MicroBatcher(stub, window_s=5.0, max_batch=8)
    with batcher.participant():
        started = time.monotonic()
        assert batcher.submit(("alone", 1)) == "alone:1"
        assert time.monotonic() - started < 1.0
    assert batcher.stats.sizes == {1: 1}


def test_a_clip_waits_for_a_busy_participant_only_up_to_the_window():
    stub = StubDecoder()
    batcher = MicroBatcher(stub, window_s=0.1, max_batch=8)
    release = threading.Event()

    def busy_elsewhere() -> None:  # a session inside its step (VAD, Redis) that does not submit now
        with batcher.participant():
            release.wait(5)

    other = threading.Thread(target=busy_elsewhere)
    other.start()
    try:
        with batcher.participant():
            started = time.monotonic()
            assert batcher.submit(("s", 0)) == "s:0"
            waited = time.monotonic() - started
    finally:
        release.set()
        other.join()
    assert 0.09 <= waited < 1.0


def test_participants_blocked_in_another_batch_do_not_hold_a_new_one():
    """A session waiting for its commit batch cannot add a partial: a partial batch opened meanwhile must not
    wait the window for it."""
    gate = threading.Event()

    def decode(items: list[tuple[str, int]]) -> list[str]:
        if items[0][0] == "slow":
            gate.wait(5)
        return [f"{s}:{n}" for s, n in items]

    batcher = MicroBatcher(decode, window_s=3.0, max_batch=1, max_inflight=2, group=lambda item: item[0])
    out: list[str] = []

    def slow() -> None:
        with batcher.participant():
            out.append(batcher.submit(("slow", 0)))

    t = threading.Thread(target=slow)
    with batcher.participant():
        t.start()
        time.sleep(0.05)  # "slow" is now decoding (max_batch=1) and blocked in its batch
        batcher.max_batch = 8
        started = time.monotonic()
        assert batcher.submit(("fast", 0)) == "fast:0"
        assert time.monotonic() - started < 1.0
    gate.set()
    t.join()
    assert out == ["slow:0"]


def test_clips_arriving_while_the_model_is_busy_join_one_batch():
    """A saturated worker: while a batch decodes, later clips (staggered, each past the window) wait for the
    decode slot in one open batch instead of queueing one by one behind it."""
    gate = threading.Event()
    batches: list[list[str]] = []

    def decode(items: list[str]) -> list[str]:
        batches.append(list(items))
        if items == ["first"]:
            gate.wait(5)
        return [i.upper() for i in items]

    batcher = MicroBatcher(decode, window_s=0.01, max_batch=8, max_inflight=1)
    out: dict[str, str] = {}

    def submit(name: str) -> None:
        out[name] = batcher.submit(name)

    threads = [threading.Thread(target=submit, args=("first",))]
    threads[0].start()
    time.sleep(0.05)  # "first" decodes and holds the only slot
    for name in ("a", "b", "c"):
        t = threading.Thread(target=submit, args=(name,))
        t.start()
        threads.append(t)
        time.sleep(0.03)  # each arrives after the previous one's window has passed
    gate.set()
    for t in threads:
        t.join(5)
    assert out == {"first": "FIRST", "a": "A", "b": "B", "c": "C"}
    assert batches == [["first"], ["a", "b", "c"]]


@pytest.mark.parametrize("sessions", [1, 2, 8])
def test_results_never_cross_sessions_under_jitter(sessions):
    stub = StubDecoder(cost_s=0.002)
    batcher = MicroBatcher(stub, window_s=0.003, max_batch=4)
    results, errors = run_sessions(batcher, [f"s{i}" for i in range(sessions)], clips=20, barrier=False)
    assert not errors
    for s, got in results.items():
        assert got == [f"{s}:{n}" for n in range(20)]


def _replay_lockstep(transcriber, streams: list[tuple[np.ndarray, str]], participant) -> list[list[str]]:
    """Sessions stepped chunk by chunk (250 ms) in threads, in lockstep, as a threads-pool worker would run
    their transcribe steps at once; commits only (partials are disposable). Returns each session's commits."""
    chunk = SR // 4
    steps = max(-(-len(a) // chunk) for a, _ in streams) + 1
    barrier = threading.Barrier(len(streams))
    texts: list[list[str]] = [[] for _ in streams]
    errors: list[BaseException] = []

    def session(k: int) -> None:
        audio, language = streams[k]
        state = StreamState(language=language)
        n = -(-len(audio) // chunk)
        try:
            for i in range(steps):
                barrier.wait(timeout=120)
                if i > n:
                    continue
                end = min(len(audio), (i + 1) * chunk)
                with participant():
                    result = transcriber.step(state, audio[state.buffer_start : end], final=i == n, allow_partial=False)
                state = result.state
                texts[k] += [s.text for s in result.segments]
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
            barrier.abort()

    threads = [threading.Thread(target=session, args=(k,)) for k in range(len(streams))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    return texts


@pytest.mark.models
def test_batched_commits_equal_unbatched_commits_on_real_audio(shared_data):
    from analysis.audio.preprocess import file_to_16k_mono
    from analysis.stt.microbatch import BatchedDecoder

    en = file_to_16k_mono(str(shared_data / "interviews" / "mock_interview_en.wav"))[: 20 * SR]
    ko = file_to_16k_mono(str(shared_data / "interviews" / "mock_interview_ko.wav"))[: 20 * SR]
    # the same English stream twice: its commits fall on the same steps, so they must batch together
    streams = [(en, "en"), (ko, "ko"), (en, "en")]
    alone = StreamingTranscriber(SttConfig(cpu_threads=2))
    # A batch closes as soon as every participant has handed its clip; the window only bounds a straggler
    # (0.5 s was too short on a loaded machine: the two English commits missed each other).
    decoder = BatchedDecoder(alone.model, window_s=2.0, max_batch=8)
    batched = StreamingTranscriber(alone.config, model=alone.model, decode=decoder)

    expected = _replay_lockstep(alone, streams, nullcontext)
    got = _replay_lockstep(batched, streams, decoder.participant)
    assert expected[0] and expected[1]
    assert got == expected
    assert max(decoder.batcher.stats.sizes) >= 2, decoder.batcher.stats
