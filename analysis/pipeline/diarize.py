"""Stage ``diarize``: who speaks each committed segment; stores the segments (the transcript's rows).

The live diarizer's memory lives in the session's stage state in Redis; speaker hints from notes are taken
in the same transaction that advances the cursor.
"""

from __future__ import annotations

import json
import logging
import time
from typing import Any

from celery.exceptions import SoftTimeLimitExceeded

from analysis import role_corrections
from analysis.diarization.live import LabeledSegment, LiveDiarizer, SegmentIn
from analysis.pipeline.audio import audio_between
from analysis.pipeline.runner import StageRun
from sessions import services, state
from sessions.state import SessionMeta

logger = logging.getLogger(__name__)

STAGE = "diarize"


def segment_payload(piece: LabeledSegment, *, index: int, language: str) -> dict[str, Any]:
    """A labelled segment as stored and sent (``SegmentPayload``); live and final pass write the same shape."""
    probs = [w.get("p", 0.0) for w in piece.words]
    return {
        "id": index, "start": round(piece.start, 3), "end": round(piece.end, 3), "text": piece.text,
        "confidence": round(sum(probs) / len(probs), 3) if probs else 0.0, "words": piece.words,
        "language": language, "speaker": piece.speaker, "role": piece.role,
        "role_confidence": round(piece.role_confidence, 3),
    }


def _options(meta: SessionMeta) -> dict[str, Any]:
    try:
        return json.loads(meta.options or "{}")
    except json.JSONDecodeError:
        return {}


def _label(meta: SessionMeta, diarizer: LiveDiarizer, raw: list[dict[str, Any]]) -> list[LabeledSegment]:
    segs = [SegmentIn(start=s["start"], end=s["end"], text=s["text"], words=s["words"]) for s in raw]
    t0 = min(s.start for s in segs) - 0.1
    t1 = max(s.end for s in segs) + 0.1
    if meta.channels == 2:
        multi, start = audio_between(meta, t0, t1, channels=True)
        return diarizer.label(segs, multi.mean(axis=1), start, channel_audio=multi)
    mono, start = audio_between(meta, t0, t1)
    return diarizer.label(segs, mono, start)


def work(run: StageRun) -> None:
    meta, session_id = run.meta, run.session_id
    results = state.load_results(session_id, run.first, run.last)
    hints = state.take_hints(run.pipe, session_id)
    if not hints and not any(r["segments"] for r in results.values()):
        return  # most chunks commit no segment: nothing to label, so no state to load and store again
    memory = state.load_stage_state(session_id, STAGE)
    options = _options(meta)
    practice = options.get("mode") == "practice"
    enroll = float(options.get("enroll_s") or 0.0) if meta.channels == 1 else 0.0  # stereo: the channel pins
    diarizer = LiveDiarizer(memory.get("diarizer"), channels=meta.channels, practice=practice, enroll_until=enroll)
    next_index = int(memory.get("next_index", 0))
    for hint in hints:
        diarizer.hint(**hint)
    for s in range(run.first, run.last + 1):
        raw = results[s]["segments"] if s in results else []
        if not raw:
            continue
        started = time.perf_counter()
        try:
            labelled = _label(meta, diarizer, raw)
        except SoftTimeLimitExceeded:
            raise
        except Exception:  # never lose transcript to a diarization failure
            logger.exception("diarization failed for %s seq %d; segments stored without speaker", session_id, s)
            labelled = [LabeledSegment(r["start"], r["end"], r["text"], r["words"], "", "unknown", 0.0) for r in raw]
        language = raw[0].get("language", "")
        out = [segment_payload(piece, index=next_index + i, language=language) for i, piece in enumerate(labelled)]
        next_index += len(out)
        services.segments_commit(session_id=session_id, seq=s, segments=out)
        results[s]["segments"] = out
        corrections = diarizer.take_corrections()
        if corrections:  # earlier segments of these voices now read differently: store and tell
            event = role_corrections.roles_correct(session_id=session_id, corrections=corrections)
            results[s].setdefault("events", []).append(event)  # type: ignore[typeddict-item]
        results[s]["timings_ms"]["diarize"] = round((time.perf_counter() - started) * 1000, 1)
    memory["diarizer"] = diarizer.to_state()
    memory["next_index"] = next_index
    state.queue_stage_state(run.pipe, session_id, STAGE, memory)
    state.queue_stage_state(run.pipe, session_id, "roles", {"version": diarizer.roles_version})
    state.queue_results(run.pipe, session_id, results)
