"""The live stages after transcription: diarize → analyze → score (Django/Redis glue over pure modules).

Each runs through ``pipeline.run_ordered`` so it sees every chunk once, in order. Their state between
chunks (diarizer memory, open answers, the candidate's voice baseline, live scores) is JSON in the
session's ``stage`` hash in Redis, never in process memory.
"""

from __future__ import annotations

import json
import logging
import time
from typing import Any

from django.conf import settings

from analysis import pipeline
from analysis.diarization.live import LabeledSegment, LiveDiarizer, SegmentIn
from sessions import state
from sessions.state import Keys, SessionMeta

logger = logging.getLogger(__name__)

FEEDBACK_MIN_INTERVAL_S = 5.0  # live delivery feedback at most this often per answer (no flicker)
ANALYZE_EVERY_S = 1.0  # re-check the timeline for ended answers at least this often (pauses end answers)


def load_stage_state(session_id: str, stage: str) -> dict[str, Any]:
    raw = state.sync_client().hget(Keys(session_id).stage_state, stage)
    return json.loads(raw) if raw else {}


def save_stage_state(pipe: Any, session_id: str, stage: str, data: dict[str, Any]) -> None:
    keys = Keys(session_id)
    pipe.hset(keys.stage_state, stage, json.dumps(data, ensure_ascii=False))
    pipe.expire(keys.stage_state, state.ttl())


def session_options(meta: SessionMeta) -> dict[str, Any]:
    try:
        return json.loads(meta.options or "{}")
    except json.JSONDecodeError:
        return {}


# --- diarize ----------------------------------------------------------------------------------------------------------
def _label(meta: SessionMeta, diarizer: LiveDiarizer, raw: list[dict[str, Any]]) -> list[LabeledSegment]:
    segs = [SegmentIn(start=s["start"], end=s["end"], text=s["text"], words=s["words"]) for s in raw]
    t0 = min(s.start for s in segs) - 0.1
    t1 = max(s.end for s in segs) + 0.1
    if meta.channels == 2:
        multi, start = pipeline.audio_between(meta.session_id, t0, t1, channels=True)
        return diarizer.label(segs, multi.mean(axis=1), start, channel_audio=multi)
    mono, start = pipeline.audio_between(meta.session_id, t0, t1)
    return diarizer.label(segs, mono, start)


def chunk_diarize(session_id: str, seq: int) -> None:
    from sessions import services

    def work(meta: SessionMeta, first: int, last: int, pipe: Any) -> None:
        results = pipeline.load_results(session_id, first, last)
        stage = load_stage_state(session_id, "diarize")
        diarizer = LiveDiarizer(stage.get("diarizer"), channels=meta.channels)
        next_index = int(stage.get("next_index", 0))
        for raw_hint in state.sync_client().lrange(Keys(session_id).hints, 0, -1):
            diarizer.hint(**json.loads(raw_hint))
        pipe.delete(Keys(session_id).hints)
        for s in range(first, last + 1):
            raw = results.get(s, {}).get("segments", [])
            if not raw:
                continue
            started = time.perf_counter()
            try:
                labelled = _label(meta, diarizer, raw)
            except Exception:  # never lose transcript to a diarization failure
                logger.exception("diarization failed for %s seq %d; segments stored without speaker", session_id, s)
                labelled = [LabeledSegment(r["start"], r["end"], r["text"], r["words"], "", "unknown", 0.0) for r in raw]
            language = raw[0].get("language", "")
            out = []
            for piece in labelled:
                words = piece.words
                probs = [w.get("p", 0.0) for w in words]
                out.append({
                    "id": next_index, "start": round(piece.start, 3), "end": round(piece.end, 3), "text": piece.text,
                    "confidence": round(sum(probs) / len(probs), 3) if probs else 0.0, "words": words,
                    "language": language, "speaker": piece.speaker, "role": piece.role,
                    "role_confidence": round(piece.role_confidence, 3),
                })
                next_index += 1
            services.segments_commit(session_id=session_id, seq=s, segments=out)
            results[s]["segments"] = out
            results[s].setdefault("timings_ms", {})["diarize"] = round((time.perf_counter() - started) * 1000, 1)
        stage["diarizer"] = diarizer.to_state()
        stage["next_index"] = next_index
        save_stage_state(pipe, session_id, "diarize", stage)
        pipeline.store_results(pipe, session_id, results)

    pipeline.run_ordered(session_id, seq, stage="diarize", after="transcribe", work=work)


# --- analyze ----------------------------------------------------------------------------------------------------------
def chunk_analyze(session_id: str, seq: int) -> None:
    from analysis import answers_service

    def work(meta: SessionMeta, first: int, last: int, pipe: Any) -> None:
        results = pipeline.load_results(session_id, first, last)
        stage = load_stage_state(session_id, "analyze")
        new_segments = any(results.get(s, {}).get("segments") for s in range(first, last + 1))
        now_s = meta.audio_s
        if not new_segments and now_s - float(stage.get("checked_at", 0.0)) < ANALYZE_EVERY_S and meta.status == "live":
            return
        stage["checked_at"] = now_s
        final = meta.status != "live" and last > meta.end_seq  # the flushed tail: every answer has ended
        extra = answers_service.live_step(meta=meta, stage=stage, now_s=now_s, final=final)
        if extra:
            results.setdefault(last, {"segments": [], "partial": "", "timings_ms": {}})
            results[last].setdefault("events", []).extend(extra)
            pipeline.store_results(pipe, session_id, {last: results[last]})
        save_stage_state(pipe, session_id, "analyze", stage)

    pipeline.run_ordered(session_id, seq, stage="analyze", after="diarize", work=work)


# --- score ------------------------------------------------------------------------------------------------------------
def chunk_score(session_id: str, seq: int) -> None:
    from analysis import answers_service

    def work(meta: SessionMeta, first: int, last: int, pipe: Any) -> None:
        extra = answers_service.score_pending(meta=meta)
        if extra:
            # the live scores' cache: the latest score of every answer and of the session
            cache = load_stage_state(session_id, "score")
            for event in extra:
                if event["type"] == "score_update":
                    key = "session" if event["scope"] == "session" else f"answer:{event['answer_id']}"
                    cache[key] = event
            save_stage_state(pipe, session_id, "score", cache)
            results = pipeline.load_results(session_id, last, last)
            result = results.get(last, {"segments": [], "partial": "", "timings_ms": {}})
            result.setdefault("events", []).extend(extra)
            pipeline.store_results(pipe, session_id, {last: result})

    pipeline.run_ordered(session_id, seq, stage="score", after="analyze", work=work)


def affect_enabled(meta: SessionMeta) -> bool:
    option = session_options(meta).get("analysis_affect")
    deployment = settings.ANALYSIS_AFFECT
    return bool(deployment and (option is None or option))
