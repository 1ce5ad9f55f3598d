"""The end of a session: finish ``STAGES`` (and the transcript's tail), store the record, announce it.

Runs the very same ``STAGES`` as the per-chunk chains: first up to the last chunk (``end_seq``), which
publishes every chunk not yet announced, then up to the virtual chunk ``end_seq + 1``, whose transcribe step
flushes the transcriber's tail (publish announces nothing past ``end_seq``: ``session_complete`` carries it).
"""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings

from analysis.pipeline.audio import session_audio, wav_bytes
from analysis.pipeline.stages import STAGES
from analysis.stt.engine import SR
from scoring import services as scoring_services
from sessions import admission, services, state


def session_finalize(session_id: str, *, enqueue_final_pass: Callable[[str], None]) -> None:
    """Flush the transcript's tail, finish every stage, store the recording and the record, then announce
    ``session_complete`` (with the live report) and queue the final pass."""
    meta = state.load_meta(session_id)
    if meta is None or meta.status == "complete":
        services.interview_republish_complete(session_id=session_id)
        return
    end_seq = meta.end_seq
    if end_seq >= 0:
        for target in (end_seq, end_seq + 1):
            for stage in STAGES:
                stage.run(session_id, target)
    audio = session_audio(session_id, end_seq, channels=meta.channels)
    services.interview_complete(
        session_id=session_id,
        wav=wav_bytes(audio),
        duration_s=len(audio) / SR,
        last_seq=end_seq,
        detected_language=(state.load_meta(session_id) or meta).detected_language,
    )
    scoring_services.report_store(session_id=session_id, stage="live")
    services.interview_republish_complete(session_id=session_id)
    state.update_meta(session_id, status="complete")
    admission.slot_release(session_id=session_id)
    state.expire_completed(session_id)
    if settings.FINAL_PASS:
        enqueue_final_pass(session_id)
