"""Stage ``analyze``: find answers that ended and analyse them; live delivery nudges for the one going on.

Its memory (answers analysed, the candidate's voice baseline, when feedback was last sent) is the
session's stage state in Redis. Events it produces ride on the chunk's result and go out with it.
"""

from __future__ import annotations

from functools import partial

from analysis import role_corrections, services
from analysis.pipeline.audio import audio_between
from analysis.pipeline.runner import StageRun
from analysis.pipeline.transcribe import chunk_overload
from sessions import events, state
from sessions.state import ChunkResult

STAGE = "analyze"
ANALYSED = "analysed"  # stage state {"count": n}: how often analyze stored answers the score stage must score
ANALYZE_EVERY_S = 1.0  # re-check the timeline for ended answers at least this often (pauses end answers)


def attach_events(run: StageRun, extra: list[events.Event]) -> None:
    """Queue ``extra`` on the result of the run's last chunk (publish sends them after its audio_processed)."""
    if not extra:
        return
    result: ChunkResult = state.load_results(run.session_id, run.last, run.last).get(run.last) or state.empty_result()
    result.setdefault("events", []).extend(extra)  # type: ignore[arg-type]
    state.queue_results(run.pipe, run.session_id, {run.last: result})


def work(run: StageRun) -> None:
    meta, session_id = run.meta, run.session_id
    results = state.load_results(session_id, run.first, run.last)
    memory = state.load_stage_state(session_id, STAGE)
    roles_version = int(state.load_stage_state(session_id, "roles").get("version", 0))
    reset = role_corrections.answers_reset(session_id=session_id, stage=memory, roles_version=roles_version)
    new_segments = reset or any(r["segments"] for r in results.values()) or bool(memory.pop("deferred", False))
    now_s = meta.audio_s
    if not new_segments and now_s - float(memory.get("checked_at", 0.0)) < ANALYZE_EVERY_S and meta.status == "live":
        return
    final = meta.status != "live" and run.last > meta.end_seq  # the flushed tail: every answer has ended
    if not final and meta.status == "live" and not chunk_overload(session_id, run.first).feedback:
        # behind: commits first, feedback later (it works from the stored segments, nothing is lost)
        memory["deferred"] = True
        result = results.get(run.last) or state.empty_result()
        degraded = result.setdefault("degraded", [])
        if "feedback" not in degraded:
            degraded.append("feedback")
        state.queue_results(run.pipe, session_id, {run.last: result})
        state.queue_stage_state(run.pipe, session_id, STAGE, memory)
        return
    memory["checked_at"] = now_s
    analysed = len(memory.get("analysed", []))
    extra = services.answers_live_step(meta=meta, stage=memory, now_s=now_s, final=final,
                                       audio_source=partial(audio_between, meta))
    attach_events(run, extra)
    state.queue_stage_state(run.pipe, session_id, STAGE, memory)
    if reset or len(memory.get("analysed", [])) != analysed:  # answers to score: tell the score stage
        count = int(state.load_stage_state(session_id, ANALYSED).get("count", 0))
        state.queue_stage_state(run.pipe, session_id, ANALYSED, {"count": count + 1})
