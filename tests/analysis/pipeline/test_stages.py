"""Each stage's glue and the whole of STAGES, with stub models: order, redelivery, lost tasks, crashes."""

from __future__ import annotations

import random
import threading

import pytest
from _pipeline_fixtures import CHUNK, Recorder, StubTranscriber, accept, new_session, run_chain

from analysis import tasks
from analysis.pipeline import preprocess, publish
from analysis.pipeline.finalize import session_finalize
from analysis.pipeline.runner import run_ordered
from analysis.pipeline.stages import STAGES
from sessions import state
from sessions.models import Interview
from sessions.state import Keys


def _transcript(recorder: Recorder) -> list[str]:
    return [seg["text"] for _, segments in sorted(recorder.committed, key=lambda c: c[0]) for seg in segments]


def test_the_chain_and_the_stage_tasks_follow_stages() -> None:
    names = [stage.name for stage in STAGES]
    assert names == ["preprocess", "transcribe", "diarize", "analyze", "score", "publish"]
    assert [stage.after for stage in STAGES] == [None, *names[:-1]]
    chain = tasks.chunk_chain("s", 3)
    assert [t.task for t in chain.tasks] == [f"interview.{n}" for n in names]
    assert all(t.args == ("s", 3) and t.immutable for t in chain.tasks)


def test_on_redis_a_chain_under_way_is_taken_before_new_chunks() -> None:
    """Through a real Redis broker (db 13): the first task of chunk 0's chain waits in its priority list, the
    rest of the chain carries its priorities, and a later stage queued after it is consumed first."""
    import redis
    from kombu import Connection

    url = "redis://127.0.0.1:6379/13"
    try:
        redis.Redis.from_url(url, socket_connect_timeout=2).flushdb()
    except redis.ConnectionError:
        pytest.skip("no Redis on 127.0.0.1:6379")
    with Connection(url) as connection:
        tasks.chunk_chain("s", 0).apply_async(connection=connection)  # preprocess of a new chunk
        # what a worker sends when chunk -1's score step ends: its publish step
        tasks.STAGE_TASKS["publish"].si("s", -1).set(priority=tasks.STAGE_PRIORITY.get("publish", 0)).apply_async(
            connection=connection)
        taken: list[tuple[str, int, list[int]]] = []

        def on_message(body: object, message: object) -> None:
            headers = message.headers  # type: ignore[attr-defined]
            chain = body[2]["chain"] or []  # type: ignore[index]
            taken.append((headers["task"], message.properties.get("priority"),  # type: ignore[attr-defined]
                          [sig["options"]["priority"] for sig in reversed(chain)]))
            message.ack()  # type: ignore[attr-defined]

        with connection.Consumer(connection.SimpleQueue("interviews").queue, callbacks=[on_message], accept=["json"]):
            for _ in range(2):
                connection.drain_events(timeout=5)
    assert taken == [("interview.publish", 0, []),
                     ("interview.preprocess", 6, [3, 0, 0, 0, 0])]


def test_preprocess_is_idempotent_and_needs_its_chunk() -> None:
    meta = new_session()
    preprocess.chunk_preprocess(meta.session_id, 0)  # nothing accepted yet: nothing to do
    accept(meta, 0)
    preprocess.chunk_preprocess(meta.session_id, 0)
    stored = state.sync_client().hget(Keys(meta.session_id).pcm, 0)
    assert stored is not None and len(stored) == 2 * CHUNK
    state.sync_client().hset(Keys(meta.session_id).raw, 0, b"\0\0" * CHUNK)  # a rerun must not rewrite it
    preprocess.chunk_preprocess(meta.session_id, 0)
    assert state.sync_client().hget(Keys(meta.session_id).pcm, 0) == stored


def test_racing_workers_publish_every_chunk_once_in_order(stubs: tuple[StubTranscriber, Recorder]) -> None:
    transcriber, recorder = stubs
    meta = new_session()
    n = 16
    for seq in range(n):
        accept(meta, seq)
    seqs = list(range(n))
    random.Random(3).shuffle(seqs)
    todo = iter(seqs)
    lock = threading.Lock()

    def worker() -> None:
        while True:
            with lock:
                seq = next(todo, None)
            if seq is None:
                return
            run_chain(meta.session_id, seq)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert recorder.processed(meta.session_id) == list(range(n))
    # one transcriber step per chunk, in order, over contiguous audio: nothing skipped, nothing twice
    assert [c[0] for c in transcriber.calls] == [seq * CHUNK for seq in range(n)]
    assert _transcript(recorder) == [f"s{s * CHUNK}-{(s + 1) * CHUNK}" for s in range(n)]
    ids = [seg["id"] for _, segments in sorted(recorder.committed) for seg in segments]
    assert ids == list(range(n))
    assert all(state.get_cursor(meta.session_id, stage.name) == n - 1 for stage in STAGES if stage.ordered)
    feedback = [e for _, e in recorder.published if e["type"] == "real_time_feedback"]
    assert feedback, "the analyze stage's events ride on the chunk results and are published"


def test_a_redelivered_chain_changes_nothing(stubs: tuple[StubTranscriber, Recorder]) -> None:
    transcriber, recorder = stubs
    meta = new_session()
    for seq in range(3):
        accept(meta, seq)
        run_chain(meta.session_id, seq)
    before = (list(transcriber.calls), list(recorder.published), list(recorder.committed))
    run_chain(meta.session_id, 1)
    run_chain(meta.session_id, 2)
    assert (transcriber.calls, recorder.published, recorder.committed) == before


def test_a_lost_chain_is_picked_up_by_the_next_one(stubs: tuple[StubTranscriber, Recorder]) -> None:
    _, recorder = stubs
    meta = new_session()
    for seq in range(6):
        accept(meta, seq)
        if seq != 3:  # the broker lost chunk 3's chain
            run_chain(meta.session_id, seq)
    assert recorder.processed(meta.session_id) == list(range(6))
    assert _transcript(recorder) == [f"s{s * CHUNK}-{(s + 1) * CHUNK}" for s in range(6)]


def test_a_worker_crash_mid_transcribe_keeps_its_steps_and_repeats_nothing(stubs: tuple[StubTranscriber, Recorder]) -> None:
    transcriber, recorder = stubs
    meta = new_session()
    for seq in range(2):
        accept(meta, seq)
        run_chain(meta.session_id, seq)
    run_chain(meta.session_id, 1)  # (a redelivery, harmless)
    accept(meta, 2)
    accept(meta, 3)
    transcriber.fail_at_call = 4  # chunk 3's step, after chunk 2's succeeded in the same run
    with pytest.raises(RuntimeError):
        run_chain(meta.session_id, 3)  # handles 2 and 3 in one step of the stage: crashes on 3
    # each step commits on its own (issue 11): chunk 2's step is kept, chunk 3's left no trace
    assert state.get_cursor(meta.session_id, "transcribe") == 2
    transcriber.fail_at_call = None
    run_chain(meta.session_id, 3)  # the retry
    assert recorder.processed(meta.session_id) == [0, 1, 2, 3]
    assert _transcript(recorder) == [f"s{s * CHUNK}-{(s + 1) * CHUNK}" for s in range(4)]


def test_publish_stops_at_a_missing_result_and_never_announces_the_tail(stubs: tuple[StubTranscriber, Recorder]) -> None:
    _, recorder = stubs
    meta = new_session()
    sid = meta.session_id
    for seq in range(3):
        accept(meta, seq)
        run_chain(sid, seq)
    client = state.sync_client()
    client.hdel(Keys(sid).result, 1)
    client.hset(Keys(sid).cursor, "publish", 0)
    recorder.published.clear()
    run_ordered(sid, 2, stage="publish", after="score", work=publish.work)
    assert recorder.processed(sid) == []
    assert state.get_cursor(sid, "publish") == 0  # stopped at 1, announced nothing past it
    client.hset(Keys(sid).meta, mapping={"status": "ending", "end_seq": 2})
    client.hset(Keys(sid).result, 1, state.encode_result(state.empty_result()))
    client.hset(Keys(sid).cursor, mapping={"transcribe": 3, "diarize": 3, "analyze": 3, "score": 3})
    client.hset(Keys(sid).result, 3, state.encode_result(state.empty_result()))
    run_ordered(sid, 3, stage="publish", after="score", work=publish.work)
    assert recorder.processed(sid) == [1, 2] and state.get_cursor(sid, "publish") == 2  # 3 = end_seq + 1


def test_the_end_runs_the_same_stages_and_flushes_the_tail(stubs: tuple[StubTranscriber, Recorder]) -> None:
    transcriber, recorder = stubs
    meta = new_session()
    sid = meta.session_id
    for seq in range(3):
        accept(meta, seq)
    run_chain(sid, 0)
    state.update_meta(sid, status="ending", end_seq=2)
    for target in (2, 3):  # what finalize does before storing the record
        for stage in STAGES:
            stage.run(sid, target)
    assert recorder.processed(sid) == [0, 1, 2]  # the tail (virtual chunk 3) is session_complete's
    assert transcriber.calls[-1][2] is True  # the last step flushed
    assert [seq for seq, _ in recorder.committed] == [0, 1, 2]  # the stub flush commits no new audio
    assert all(state.get_cursor(sid, stage.name) == 3 for stage in STAGES if stage.ordered and stage.name != "publish")


@pytest.mark.django_db
def test_session_finalize_stores_the_record_and_announces_it_once(stubs: tuple[StubTranscriber, Recorder]) -> None:
    _, recorder = stubs
    meta = new_session()
    sid = meta.session_id
    Interview.objects.create(pk=sid, language="en", sample_rate=meta.sample_rate, channels=1)
    for seq in range(3):
        accept(meta, seq)
    run_chain(sid, 1)
    state.update_meta(sid, status="ending", end_seq=2)
    queued: list[str] = []
    session_finalize(sid, enqueue_final_pass=queued.append)
    interview = Interview.objects.get(pk=sid)
    assert interview.status == Interview.Status.COMPLETED and interview.last_seq == 2
    assert interview.duration_s == pytest.approx(3 * CHUNK / 16000)
    kinds = [e["type"] for _, e in recorder.published]
    assert recorder.processed(sid) == [0, 1, 2] and kinds.count("session_complete") == 1
    assert kinds.index("session_complete") > max(i for i, k in enumerate(kinds) if k == "audio_processed")
    assert state.load_meta(sid).status == "complete"
    session_finalize(sid, enqueue_final_pass=queued.append)  # a redelivered finalize re-announces, no more
    assert [e["type"] for _, e in recorder.published].count("session_complete") == 2 and len(set(queued)) <= 1


def test_chunks_that_arrive_while_a_chain_waits_share_it(stubs: tuple[StubTranscriber, Recorder],
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    _, recorder = stubs
    queued: list[int] = []

    class Queued:
        def __init__(self, seq: int) -> None:
            self.seq = seq

        def apply_async(self) -> None:
            queued.append(self.seq)

    monkeypatch.setattr(tasks, "chunk_chain", lambda session_id, seq: Queued(seq))
    meta = new_session()
    sid = meta.session_id
    for seq in range(3):  # the worker is busy: chunks 1 and 2 arrive while chunk 0's chain waits
        accept(meta, seq)
        tasks.enqueue_chunk(sid, seq)
    assert queued == [0]
    run_chain(sid, 0)  # its stages reach every chunk accepted when they start
    assert recorder.processed(sid) == [0, 1, 2]
    assert _transcript(recorder) == [f"s{s * CHUNK}-{(s + 1) * CHUNK}" for s in range(3)]
    accept(meta, 3)
    tasks.enqueue_chunk(sid, 3)  # that chain began transcribing: a later chunk needs its own
    assert queued == [0, 3]
    run_chain(sid, 3)
    assert recorder.processed(sid) == [0, 1, 2, 3]


def test_the_score_stage_queries_only_after_analyze_stored_answers(stubs: tuple[StubTranscriber, Recorder],
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    from analysis import services as analysis_services
    from sessions import events

    scored: list[int] = []
    monkeypatch.setattr(analysis_services, "answers_score_pending", lambda *, meta: scored.append(meta.last_seq) or [])

    def live_step(*, meta: object, stage: dict, now_s: float, final: bool, audio_source: object) -> list:
        if getattr(meta, "last_seq") == 2:  # an answer ended in chunk 2
            stage.setdefault("analysed", []).append(0)
        return [events.live_feedback(answer_id=0, question="q", items=[], metrics={})]

    monkeypatch.setattr(analysis_services, "answers_live_step", live_step)
    meta = new_session()
    for seq in range(5):
        accept(meta, seq)
        run_chain(meta.session_id, seq)
    assert scored == [2]  # one query, for the chunk whose analyze step stored an answer
