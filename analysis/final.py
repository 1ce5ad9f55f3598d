"""The final pass and the stored report.

At ``session_end`` the live record is stored and announced at once (``report_store(stage="live")``), so
``session_complete`` stays within a couple of seconds whatever the interview's length. The final pass then
runs as its own task: it re-transcribes the whole recording (``FINAL_WHISPER_MODEL``, beam search), re-diarizes
it offline, re-analyses and re-scores every answer, and stores the final record with how it differs from the
live one. The report page shows the final record once it exists, the live one until then.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import numpy as np
from django.conf import settings
from django.db import transaction

from analysis import answers_service
from analysis.domain_terms import hotwords_of
from analysis.answers import build_timeline
from analysis.models import AnswerAnalysis
from scoring.models import InterviewReport
from scoring.report import build_report
from scoring.rubric import score_answer
from sessions import events
from sessions.models import Interview

logger = logging.getLogger(__name__)


def report_url(interview_id: str) -> str:
    return f"/interviews/{interview_id}/report/"


def _interview_dict(interview: Interview) -> dict[str, Any]:
    return {
        "id": str(interview.pk),
        "language": interview.detected_language or interview.language,
        "started_at": interview.started_at.isoformat() if interview.started_at else None,
        "duration_s": interview.duration_s,
        "candidate_name": interview.candidate_name,
        "status": interview.status,
    }


def report_store(*, session_id: str, stage: str, segments: list[dict[str, Any]] | None = None,
                 live_vs_final: dict[str, Any] | None = None) -> InterviewReport | None:
    """Build the report (docs/report.schema.json) from the stored answers of ``stage`` and keep it."""
    interview = Interview.objects.select_related("question_set").get(pk=session_id)
    is_final = stage == "final"
    if segments is None:
        segments = answers_service.segment_dicts(session_id)
    rubric = answers_service.rubric_for(interview)
    rows = list(AnswerAnalysis.objects.filter(interview=interview, is_final=is_final).exclude(overall=None).order_by("index"))
    scores = [score_answer(r.analysis, rubric) for r in rows]
    total = answers_service.session_score(interview, is_final=is_final)
    if total is None:
        from scoring.rubric import score_session

        total = score_session([], stt_confidence=0.5)
    try:
        report = build_report(
            interview=_interview_dict(interview), segments=segments, answers=[r.analysis for r in rows],
            answer_scores=scores, session=total, notes=answers_service.note_dicts(session_id), rubric=rubric,
        )
    except Exception:
        logger.exception("building the %s report of %s failed", stage, session_id)
        return None
    report["stage"] = stage
    report["final_pass"] = "done" if is_final else ("pending" if settings.FINAL_PASS else "off")
    defaults: dict[str, Any] = {
        "overall": total.overall, "band_low": total.band[0], "band_high": total.band[1], "scores": total.scores,
        "report": report,
    }
    if live_vs_final is not None:
        defaults["live_vs_final"] = live_vs_final
    stored, _ = InterviewReport.objects.update_or_create(interview=interview, defaults=defaults)
    return stored


def report_summary(interview: Interview) -> dict[str, Any] | None:
    stored = InterviewReport.objects.filter(interview=interview).first()
    if stored is None:
        return None
    report = stored.report
    return {
        "stage": report.get("stage", "live"),
        "overall": report.get("overall", {}),
        "answers": [
            {"question": a.get("question"), "overall": a.get("overall"), "scores": a.get("scores"),
             "feedback": a.get("feedback", [])[:3]}
            for a in report.get("answers", [])
        ],
        "speakers": report.get("speakers", []),
    }


# --- the final pass ------------------------------------------------------------------------------------------------------
def _progress(session_id: str, stage: str, done: float) -> None:
    event: events.FinalProgress = {"type": "final_progress", "stage": stage, "done": round(done, 2)}
    events.publish(session_id, event)


def _load_recording(interview: Interview) -> np.ndarray:
    import soundfile as sf

    with interview.audio.open("rb") as handle:
        data, sr = sf.read(handle, dtype="float32", always_2d=True)
    if sr != 16000:
        raise ValueError(f"stored recording is {sr} Hz, expected 16000")
    return data


def _words_changed(live: list[dict[str, Any]], final: list[dict[str, Any]], language: str) -> dict[str, Any]:
    import jiwer

    from analysis.stt.guard import normalize

    live_text = normalize(" ".join(s["text"] for s in live))
    final_text = normalize(" ".join(s["text"] for s in final))
    if not live_text and not final_text:
        return {"metric": "wer", "value": 0.0}
    if language == "ko":
        a, b = live_text.replace(" ", ""), final_text.replace(" ", "")
        return {"metric": "cer", "value": round(jiwer.cer(b or " ", a or " "), 4)}
    return {"metric": "wer", "value": round(jiwer.wer(final_text or "-", live_text or "-"), 4)}


def final_pass(session_id: str, *, on_progress: Callable[[str, float], None] | None = None,
               channel_roles: bool = False) -> None:
    """Re-transcribe, re-diarize, re-analyse and re-score the stored recording; store the final report.

    ``on_progress(stage, done)`` sees each step as it starts (uploads keep it on their row). With
    ``channel_roles`` the recording is one speaker per channel, interviewer on channel 0 (an upload's
    ``two_channel`` layout): each channel is transcribed on its own and its channel names the speaker. An interview with no live
    transcript and no fixed language (an upload with ``language=auto``) is transcribed with detection.
    """
    from analysis.diarization.live import LabeledSegment, SegmentIn
    from analysis.diarization.offline import diarize_recording, relabel
    from analysis.pipeline import stt_config
    from analysis.stt.channels import transcribe_channels
    from analysis.stt.engine import transcribe_offline

    interview = Interview.objects.select_related("question_set").get(pk=session_id)
    if not interview.audio:
        return
    started = time.monotonic()
    recording = _load_recording(interview)
    mono = recording.mean(axis=1) if recording.shape[1] > 1 else recording[:, 0]
    live = answers_service.segment_dicts(session_id)
    detect = not live and not interview.detected_language and interview.language not in ("ko", "en")
    language = answers_service.session_language(interview, live)
    notes = answers_service.note_dicts(session_id)

    def progress(stage: str, done: float) -> None:
        _progress(session_id, stage, done)
        if on_progress is not None:
            on_progress(stage, done)

    hints = [{"at": n["at"], "speaker": n["speaker"] or None, "kind": n["kind"], "text": n["text"]} for n in notes]

    progress("transcribe", 0.0)
    config = replace(stt_config(), model=settings.FINAL_WHISPER_MODEL, beam_size=settings.FINAL_BEAM_SIZE)
    hotwords = hotwords_of(interview)
    by_channel = (transcribe_channels(config, recording, language=None if detect else language, hotwords=hotwords)
                  if channel_roles and recording.shape[1] == 2 else None)  # fmt: skip
    transcript = [s for s, _ in by_channel] if by_channel is not None else \
        transcribe_offline(config, mono, language=None if detect else language, hotwords=hotwords)
    if detect:
        found = [s.language for s in transcript if s.language in ("ko", "en")]
        language = max(set(found), key=found.count) if found else language
        interview.detected_language = language
        interview.save(update_fields=["detected_language"])
    progress("diarize", 0.5)
    turns = diarize_recording(recording if recording.shape[1] == 2 else mono)
    if by_channel is not None:  # the channel says who speaks: channel 0 the interviewer, channel 1 the candidate
        labelled = [LabeledSegment(s.start, s.end, s.text, [w.__dict__ for w in s.words], f"S{ch + 1}",
                                   "interviewer" if ch == 0 else "candidate", 1.0) for s, ch in by_channel]
    else:
        labelled, _ = relabel(
            [SegmentIn(start=s.start, end=s.end, text=s.text, words=[w.__dict__ for w in s.words]) for s in transcript],
            turns, hints,
        )
    live_labelled = [LabeledSegment(s["start"], s["end"], s["text"], s["words"], s["speaker"], s["role"],
                                    s["role_confidence"]) for s in live]
    _relabelled, labels_changed = relabel(live_labelled, turns, hints) if live_labelled else ([], 0)
    final_segments = []
    for i, seg in enumerate(labelled):
        probs = [w.get("p", 0.0) for w in seg.words]
        final_segments.append({
            "id": i, "start": round(seg.start, 3), "end": round(seg.end, 3), "text": seg.text, "words": seg.words,
            "confidence": round(sum(probs) / len(probs), 3) if probs else 0.0, "language": language,
            "speaker": seg.speaker, "role": seg.role, "role_confidence": seg.role_confidence,
        })

    progress("analyze", 0.75)
    rubric = answers_service.rubric_for(interview)
    _qs, pure_set = answers_service.question_set_for(interview)
    spans = [s for s in build_timeline(final_segments, notes, now=float("inf")) if s.segments]
    baseline: dict[str, Any] | None = None
    with transaction.atomic():
        AnswerAnalysis.objects.filter(interview=interview, is_final=True).delete()
        for span in spans:
            a0, a1 = span.answer_start or 0.0, span.answer_end or 0.0
            lo, hi = max(0, int((a0 - 0.2) * 16000)), int((a1 + 0.2) * 16000)
            analysis = answers_service.analyse_span(
                interview=interview, span=span, language=language, pure_set=pure_set, baseline=baseline,
                affect=answers_service.affect_on(interview), use_llm=True, audio=mono[lo:hi], audio_start=lo / 16000,
            )
            row = AnswerAnalysis.objects.create(
                interview=interview, index=span.index, is_final=True, question_text=span.question_text,
                start=analysis["start"], end=analysis["end"], answer_text=analysis["answer_text"], analysis=analysis,
            )
            answers_service.score_row(row, rubric)
        interview.final_segments = final_segments
        interview.save(update_fields=["final_segments"])

    live_total = answers_service.session_score(interview, is_final=False)
    final_total = answers_service.session_score(interview, is_final=True)
    live_rows = {r.index: r.overall for r in AnswerAnalysis.objects.filter(interview=interview, is_final=False)}
    final_rows = {r.index: r.overall for r in AnswerAnalysis.objects.filter(interview=interview, is_final=True)}
    diff = {
        "words_changed": _words_changed(live, final_segments, language),
        "labels_changed": labels_changed,
        "live_segments": len(live),
        "final_segments": len(final_segments),
        "scores_moved": {
            "session": {"live": live_total.overall if live_total else None,
                        "final": final_total.overall if final_total else None},
            "answers": [{"index": i, "live": live_rows.get(i), "final": final_rows.get(i)}
                        for i in sorted(set(live_rows) | set(final_rows))],
        },
        "final_pass_s": round(time.monotonic() - started, 2),
        "model": settings.FINAL_WHISPER_MODEL,
    }
    report_store(session_id=session_id, stage="final", segments=final_segments, live_vs_final=diff)
    progress("done", 1.0)
    logger.info("final pass of %s done in %.1f s", session_id, diff["final_pass_s"])


def enqueue_final_pass(session_id: str) -> None:
    from analysis.tasks import enqueue_final_pass as enqueue

    enqueue(session_id)
