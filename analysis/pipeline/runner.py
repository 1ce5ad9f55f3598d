"""The one ordered runner: every ordered stage handles a session's chunks once each, in seq order.

An ordered stage keeps a cursor (the last seq it finished) in Redis. Under a per-session, per-stage lock it
handles every seq from ``cursor + 1`` up to the newest accepted chunk (at least the seq it was asked for), but
never past the cursor of the stage it comes ``after``. So with any number of workers a session's chunks are
handled in order, a chunk whose task was lost is picked up by the next task of that stage, and a redelivered
task finds its work done and changes nothing. The stage's Redis writes and the cursor advance are one
MULTI/EXEC transaction: a crash between the work and the cursor leaves neither, and the next task redoes the
step (its database writes are upserts).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any


from sessions import locks, state
from sessions.state import Keys, SessionMeta

logger = logging.getLogger(__name__)

class StageBusy(Exception):
    """Another worker holds this session's stage lock; the task retries shortly."""


@contextmanager
def stage_lock(session_id: str, stage: str, *, wait_s: float = 0.2) -> Iterator[None]:
    """A per-session, per-stage Redis lock, renewed while held (``sessions.locks``).

    Waits only briefly: when another worker holds the lock it is doing this stage's work (a Whisper
    decode can take seconds), and a worker blocked here could be running the session's other stages.
    A worker killed while holding it stalls the stage for at most ``locks.LOCK_TTL_S`` seconds.
    """
    try:
        with locks.held(Keys(session_id).lock(stage), wait_s=wait_s):
            yield
    except locks.LockBusy as exc:
        raise StageBusy(f"{stage} of {session_id} is busy") from exc


@dataclass
class StageRun:
    """One step of an ordered stage: the seqs ``first..last`` to handle and the transaction to queue on."""

    meta: SessionMeta
    stage: str
    first: int
    last: int
    pipe: Any
    committed: int = field(default=-1)
    epoch: bytes | None = None  # the live state's epoch when the step began (sessions.state, "epoch")

    @property
    def session_id(self) -> str:
        return self.meta.session_id

    def commit(self, seq: int) -> None:
        """Execute what is queued with the cursor at ``seq`` and open a new transaction.

        For stages whose work leaves the process (publish sends events) and so should advance seq by seq.
        """
        state.queue_cursor(self.pipe, self.session_id, self.stage, seq)
        state.execute_in_epoch(self.pipe, self.session_id, self.epoch)
        self.committed = seq
        self.pipe = state.sync_client().pipeline(transaction=True)


Work = Callable[[StageRun], "int | None"]


def run_ordered(session_id: str, seq: int, *, stage: str, after: str | None, work: Work) -> None:
    """Run ``work`` over the seqs ``stage`` has not handled, up to the newest accepted chunk or ``seq`` if later
    (the flush step past the end), and up to ``after``'s cursor.

    ``work`` queues its Redis writes on ``run.pipe`` and returns the last seq it finished (None: all of
    them). The cursor advance is queued last and everything executes as one transaction.
    """
    with stage_lock(session_id, stage):
        epoch = state.epoch(session_id)  # first: a rebuild after this read voids the step, however late it comes
        meta = state.load_meta(session_id)
        if meta is None or meta.status == "complete":
            return  # expired, erased or already finalised: a late task has nothing left to do
        done = state.get_cursor(session_id, stage)
        # Every chunk accepted so far, not only the one this task was queued for: a busy worker's chunks share
        # one chain (analysis.tasks.enqueue_chunk), and its stages must reach the newest of them.
        upto = max(seq, meta.last_seq)
        upto = upto if after is None else min(upto, state.get_cursor(session_id, after))
        if upto <= done:
            return
        run = StageRun(meta=meta, stage=stage, first=done + 1, last=upto,
                       pipe=state.sync_client().pipeline(transaction=True), committed=done, epoch=epoch)
        try:
            reached = work(run)
            reached = upto if reached is None else reached
            if reached > run.committed:
                run.commit(reached)
        except state.StateReplaced as exc:  # the rebuilt state's cursors redo this work from the recording
            logger.warning("%s step %d..%d of %s dropped: %s", stage, run.first, run.last, session_id, exc)
        finally:
            # Erased while this step ran: the erasure removed the session's keys before this step's
            # transaction wrote some of them again (cursor, STT buffer, results). The tombstone is set before
            # anything is removed, so a step that commits after the removal sees it here and leaves nothing.
            if state.is_erased(session_id):
                state.session_keys_purge(session_id)
