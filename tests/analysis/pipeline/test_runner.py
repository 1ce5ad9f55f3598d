"""The one ordered runner: order, gating, redelivery, lost tasks and crashes, on the embedded fakeredis."""

from __future__ import annotations

import random
import threading
import time

import pytest

from analysis.pipeline.runner import StageBusy, StageRun, run_ordered, stage_lock
from sessions import state
from sessions.state import Keys

from _pipeline_fixtures import new_session


def _retrying(call, patience_s: float = 30.0) -> None:
    deadline = time.monotonic() + patience_s
    while True:
        try:
            return call()
        except StageBusy:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.002)


def test_racing_workers_handle_every_seq_once_in_order() -> None:
    meta = new_session()
    handled: list[int] = []

    def work(run: StageRun) -> None:
        for s in range(run.first, run.last + 1):
            handled.append(s)  # under the stage lock: no other worker appends meanwhile
            time.sleep(0.001)

    seqs = list(range(40))
    random.Random(7).shuffle(seqs)  # tasks arrive in any order, on any worker
    todo = iter(seqs)
    lock = threading.Lock()

    def worker() -> None:
        while True:
            with lock:
                seq = next(todo, None)
            if seq is None:
                return
            _retrying(lambda: run_ordered(meta.session_id, seq, stage="a", after=None, work=work))

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert handled == list(range(40))
    assert state.get_cursor(meta.session_id, "a") == 39


def test_a_stage_never_passes_the_stage_it_follows() -> None:
    meta = new_session()
    seen: list[tuple[int, int]] = []
    record = lambda run: seen.append((run.first, run.last))  # noqa: E731
    run_ordered(meta.session_id, 2, stage="a", after=None, work=record)
    run_ordered(meta.session_id, 5, stage="b", after="a", work=record)  # b asked for 5, a is at 2
    assert seen == [(0, 2), (0, 2)] and state.get_cursor(meta.session_id, "b") == 2
    run_ordered(meta.session_id, 5, stage="a", after=None, work=record)
    run_ordered(meta.session_id, 3, stage="b", after="a", work=record)  # a lost task: 3 is picked up by 3's
    run_ordered(meta.session_id, 5, stage="b", after="a", work=record)
    assert seen[2:] == [(3, 5), (3, 3), (4, 5)]


def test_a_redelivered_task_changes_nothing() -> None:
    meta = new_session()
    calls: list[tuple[int, int]] = []
    run_ordered(meta.session_id, 3, stage="a", after=None, work=lambda run: calls.append((run.first, run.last)))
    run_ordered(meta.session_id, 3, stage="a", after=None, work=lambda run: calls.append((run.first, run.last)))
    run_ordered(meta.session_id, 1, stage="a", after=None, work=lambda run: calls.append((run.first, run.last)))
    assert calls == [(0, 3)]


def test_a_crash_between_work_and_cursor_leaves_neither() -> None:
    meta = new_session()
    key = Keys(meta.session_id).stage_state

    def crashing(run: StageRun) -> None:
        run.pipe.hset(key, "a", "written")
        raise RuntimeError("worker lost")

    with pytest.raises(RuntimeError):
        run_ordered(meta.session_id, 2, stage="a", after=None, work=crashing)
    assert state.sync_client().hget(key, "a") is None and state.get_cursor(meta.session_id, "a") == -1
    assert state.sync_client().get(Keys(meta.session_id).lock("a")) is None  # the lock is released

    def work(run: StageRun) -> None:
        assert (run.first, run.last) == (0, 2)  # the retry redoes the whole step
        run.pipe.hset(key, "a", "written")

    run_ordered(meta.session_id, 2, stage="a", after=None, work=work)
    assert state.sync_client().hget(key, "a") == b"written" and state.get_cursor(meta.session_id, "a") == 2


def test_a_stage_that_commits_seq_by_seq_keeps_what_it_finished() -> None:
    meta = new_session()

    def work(run: StageRun) -> int:
        for s in range(run.first, run.last + 1):
            if s == 3:
                raise RuntimeError("crash while sending 3")
            run.commit(s)
        return run.last

    with pytest.raises(RuntimeError):
        run_ordered(meta.session_id, 5, stage="publish", after=None, work=work)
    assert state.get_cursor(meta.session_id, "publish") == 2


def test_work_may_stop_early_or_reach_past_the_request() -> None:
    meta = new_session()
    run_ordered(meta.session_id, 5, stage="a", after=None, work=lambda run: 2)  # e.g. a result missing
    assert state.get_cursor(meta.session_id, "a") == 2
    run_ordered(meta.session_id, 5, stage="a", after=None, work=lambda run: run.first - 1)  # nothing done
    assert state.get_cursor(meta.session_id, "a") == 2


def test_a_finished_or_expired_session_runs_nothing() -> None:
    done = new_session(status="complete")
    run_ordered(done.session_id, 3, stage="a", after=None, work=lambda run: pytest.fail("ran"))
    run_ordered("no-such-session", 3, stage="a", after=None, work=lambda run: pytest.fail("ran"))


def test_the_lock_is_exclusive_and_busy_is_raised_quickly() -> None:
    meta = new_session()
    with stage_lock(meta.session_id, "a"):
        started = time.monotonic()
        with pytest.raises(StageBusy):
            with stage_lock(meta.session_id, "a", wait_s=0.05):
                pass
        assert time.monotonic() - started < 5  # generous: only proves it does not wait for the holder
        with stage_lock(meta.session_id, "b", wait_s=0.05):  # another stage of the session is free
            pass


def test_a_step_that_commits_after_an_erasure_leaves_no_key_behind() -> None:
    """Erasure removed the session's keys while a step ran; the step's transaction wrote its cursor and results
    back (a finalising session's keys came back after DELETE). The step sees the tombstone and removes them."""
    from sessions import lifecycle

    meta = new_session()
    client = state.sync_client()

    def work(run: StageRun) -> None:
        lifecycle.tombstone_set(session_id=meta.session_id)  # the erasure, in the middle of the step
        state.delete_session(meta.session_id)
        run.pipe.hset(Keys(meta.session_id).result, "0", "late")

    try:
        run_ordered(meta.session_id, 0, stage="a", after=None, work=work)
        assert list(client.scan_iter(match=state.session_glob(meta.session_id))) == []
    finally:
        client.delete(state.erased_key(meta.session_id))


@pytest.mark.parametrize("when", ["rebuilt", "lost"])
def test_a_step_that_began_before_the_live_state_was_replaced_commits_nothing(when: str) -> None:
    """Redis lost the session while a transcribe step decoded; the consumer rebuilt it (cursors start over). The
    step's commit - its cursor and what it derived from the lost state - must not land on the rebuilt state,
    nor on a state that is gone and not yet rebuilt."""
    meta = new_session()
    client = state.sync_client()
    keys = Keys(meta.session_id)

    def work(run: StageRun) -> None:
        run.pipe.hset(keys.result, "0", "from the lost state")
        client.delete(*keys.all())  # Redis restarted empty mid-step
        if when == "rebuilt":
            pipe = client.pipeline(transaction=True)
            pipe.hset(keys.meta, mapping=meta.to_redis())
            state.queue_epoch_new(pipe, meta.session_id)
            pipe.execute()

    run_ordered(meta.session_id, 0, stage="a", after=None, work=work)
    assert state.get_cursor(meta.session_id, "a") == -1
    assert client.hget(keys.result, "0") is None
    # the rebuilt state's next step does the work
    if when == "rebuilt":
        run_ordered(meta.session_id, 0, stage="a", after=None, work=lambda run: None)
        assert state.get_cursor(meta.session_id, "a") == 0
