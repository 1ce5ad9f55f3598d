"""The end of a session: finish ``STAGES`` (and the transcript's tail), store the record, announce it.

Runs the very same ``STAGES`` as the per-chunk chains: first up to the last chunk (``end_seq``), which
publishes every chunk not yet announced, then up to the virtual chunk ``end_seq + 1``, whose transcribe step
flushes the transcriber's tail (publish announces nothing past ``end_seq``: ``session_complete`` carries it).
"""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings

from analysis.pipeline.runner import StageBusy
from analysis.pipeline.stages import STAGES
from scoring import services as scoring_services
from sessions import admission, lifecycle, locks, services, state
from sessions.state import Keys


def session_finalize(session_id: str, *, enqueue_final_pass: Callable[[str], None]) -> None:
    """Flush the transcript's tail, finish every stage, store the recording and the record, then announce
    ``session_complete`` (with the live report) and queue the final pass.

    Single-flight per session (a redelivered or duplicate finalize waits for the running one and then finds
    the work done); when Redis lost the session its state is rebuilt from the database and the durable
    recording first; an erased interview (tombstone) is left alone. The WAV is streamed from the recording.
    """
    if lifecycle.is_erased(session_id):
        return
    try:
        with locks.held(Keys(session_id).lock("finalize"), wait_s=0.2):
            _finalize_locked(session_id, enqueue_final_pass)
    except locks.LockBusy as exc:
        raise StageBusy(f"finalize of {session_id} is running") from exc


def _finalize_locked(session_id: str, enqueue_final_pass: Callable[[str], None]) -> None:
    meta = state.load_meta(session_id)
    if meta is None:
        meta = lifecycle.session_mark_ending(session_id=session_id, reason="live state was lost; finalised from the recording")
    if meta is None or meta.status == "complete":
        services.interview_republish_complete(session_id=session_id)
        return
    if meta.status == "live":  # the sweeper or a rebuild asked for it: the recording's last chunk ends it
        meta = lifecycle.session_mark_ending(session_id=session_id) or meta
    # (the consumer's own live → finalizing write may have met a database outage at session_end)
    lifecycle.interview_finalizing(session_id=session_id)
    end_seq = meta.end_seq
    if end_seq >= 0:
        for target in (end_seq, end_seq + 1):
            for stage in STAGES:
                stage.run(session_id, target)
    stored = lifecycle.interview_store_recording(
        session_id=session_id,
        meta=meta,
        end_seq=end_seq,
        detected_language=(state.load_meta(session_id) or meta).detected_language,
    )
    if not stored:  # erased meanwhile: nothing may come back
        state.session_keys_purge(session_id)
        return
    scoring_services.report_store(session_id=session_id, stage="live")
    services.interview_republish_complete(session_id=session_id)
    state.update_meta(session_id, status="complete")
    admission.slot_release(session_id=session_id)
    state.expire_completed(session_id)
    if settings.FINAL_PASS:
        enqueue_final_pass(session_id)
