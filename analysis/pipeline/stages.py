"""``STAGES``: the per-chunk pipeline, in order. The only place the order is written.

Each accepted chunk gets one Celery chain of these stages (``analysis.tasks``), and the end of a session runs
the same list inline (``analysis.pipeline.finalize``). An ordered stage runs through the one ordered runner
(``analysis.pipeline.runner``), bounded by the cursor of the stage before it when that one keeps a cursor.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from analysis.pipeline import analyze, diarize, publish, score, transcribe
from analysis.pipeline.preprocess import chunk_preprocess
from analysis.pipeline.runner import Work, run_ordered
from sessions.state import chain_release


@dataclass(frozen=True)
class Stage:
    """One stage: its name (task ``interview.<name>``, cursor and lock field), the stage it follows, its run."""

    name: str
    after: str | None
    run: Callable[[str, int], None]  # (session_id, seq): handle the session up to chunk seq
    ordered: bool = True  # runs through the ordered runner (keeps a cursor; StageBusy when locked)


def _ordered(name: str, after: str, work: Work, *, gated: bool = True, opens_chain: bool = False) -> Stage:
    gate = after if gated else None

    def run(session_id: str, seq: int) -> None:
        if opens_chain:  # before the runner reads last_seq: a chunk accepted after this queues its own chain
            chain_release(session_id)
        run_ordered(session_id, seq, stage=name, after=gate, work=work)

    run.__qualname__ = run.__name__ = f"run_{name}"
    return Stage(name=name, after=after, run=run)


STAGES: tuple[Stage, ...] = (
    Stage("preprocess", after=None, run=chunk_preprocess, ordered=False),  # per chunk, idempotent (HSETNX)
    # transcribe preprocesses any chunk still missing itself, so no cursor gates it
    _ordered("transcribe", after="preprocess", work=transcribe.work, gated=False, opens_chain=True),
    _ordered("diarize", after="transcribe", work=diarize.work),
    _ordered("analyze", after="diarize", work=analyze.work),
    _ordered("score", after="analyze", work=score.work),
    _ordered("publish", after="score", work=publish.work),
)

BY_NAME: dict[str, Stage] = {stage.name: stage for stage in STAGES}


def _check(stages: tuple[Stage, ...]) -> None:
    for before, stage in zip((None, *stages), stages):
        if stage.after != (before.name if before else None):
            raise ValueError(f"stage {stage.name} follows {before.name if before else None}, not {stage.after}")


_check(STAGES)
