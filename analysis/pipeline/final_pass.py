"""The final pass: the whole recording again, with the bigger model, once the live record is stored.

At ``session_end`` the live record is stored and announced at once (``analysis.pipeline.finalize``), so
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
from typing import Any, Literal

import numpy as np
from django.conf import settings
from django.db import transaction

from analysis import services
from analysis.answers import build_timeline, rescore_session_affect
from analysis.diarization.live import LabeledSegment, SegmentIn
from analysis.diarization.final_labels import FinalLabels, final_labels
from analysis.models import AnswerAnalysis
from analysis.pipeline.diarize import segment_payload
from analysis.pipeline.worker_models import stt_config
from analysis.selectors import interview_get, interview_hotwords, question_set_for, rubric_for, session_language
from analysis.stt.channels import transcribe_channels
from analysis.stt.engine import transcribe_offline
from analysis.stt.guard import normalize
from scoring.models import InterviewReport
from scoring import services as scoring_services
from sessions import events
from sessions import selectors as session_selectors
from sessions.models import Interview

logger = logging.getLogger(__name__)


def _progress(session_id: str, stage: Literal["transcribe", "diarize", "analyze", "done"], done: float) -> None:
    events.publish(session_id, events.final_progress(stage=stage, done=done))


def _load_recording(interview: Interview) -> np.ndarray:
    import soundfile as sf

    with interview.audio.open("rb") as handle:
        data, sr = sf.read(handle, dtype="float32", always_2d=True)
    if sr != 16000:
        raise ValueError(f"stored recording is {sr} Hz, expected 16000")
    return data


def _words_changed(live: list[dict[str, Any]], final: list[dict[str, Any]], language: str) -> dict[str, Any]:
    import jiwer

    live_text = normalize(" ".join(s["text"] for s in live))
    final_text = normalize(" ".join(s["text"] for s in final))
    if not live_text and not final_text:
        return {"metric": "wer", "value": 0.0}
    if language == "ko":
        a, b = live_text.replace(" ", ""), final_text.replace(" ", "")
        return {"metric": "cer", "value": round(jiwer.cer(b or " ", a or " "), 4)}
    return {"metric": "wer", "value": round(jiwer.wer(final_text or "-", live_text or "-"), 4)}


def final_speaker_labels(
    interview: Interview, audio: np.ndarray, live: list[LabeledSegment], hints: list[dict[str, Any]]
) -> FinalLabels:
    """Final speakers and roles, never worse than live (analysis.diarization.final_labels).

    A practice session has one person, the candidate: no re-clustering. Otherwise the number of voices is
    bounded by the session's ``num_speakers`` hint when it has one, and an enrolled interviewer (``enroll_s``)
    stays pinned.
    """
    if interview.mode == Interview.Mode.PRACTICE:
        return final_labels(audio, live, hints=hints, practice=True)
    return final_labels(audio, live, hints=hints, num_speakers=interview.num_speakers,
                        enroll_until=interview.enroll_s if interview.channels == 1 else 0.0)


def final_pass(session_id: str, *, on_progress: Callable[[str, float], None] | None = None,
               channel_roles: bool = False) -> None:
    """Re-transcribe, re-diarize, re-analyse and re-score the stored recording; store the final record.

    ``on_progress(stage, done)`` sees each step as it starts (uploads keep it on their row). With
    ``channel_roles`` the recording is one speaker per channel, interviewer on channel 0 (an upload's
    ``two_channel`` layout): each channel is transcribed on its own and its channel names the speaker. An
    interview with no live transcript and no fixed language (an upload with ``language=auto``) is
    transcribed with detection.
    """
    interview = interview_get(session_id)
    if not interview.audio:
        return
    started = time.monotonic()
    recording = _load_recording(interview)
    mono = recording.mean(axis=1) if recording.shape[1] > 1 else recording[:, 0]
    live = session_selectors.segment_payloads(session_id)
    detect = not live and not interview.detected_language and interview.language not in ("ko", "en")
    language = session_language(interview, live)
    notes = session_selectors.note_payloads(session_id)
    hints = [{"at": n["at"], "speaker": n["speaker"] or None, "kind": n["kind"], "text": n["text"]} for n in notes]

    def progress(stage: Literal["transcribe", "diarize", "analyze", "done"], done: float) -> None:
        _progress(session_id, stage, done)
        if on_progress is not None:
            on_progress(stage, done)

    progress("transcribe", 0.0)
    config = replace(stt_config(), model=settings.FINAL_WHISPER_MODEL, beam_size=settings.FINAL_BEAM_SIZE)
    hotwords = interview_hotwords(interview)
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
    live_labelled = [LabeledSegment(s["start"], s["end"], s["text"], s["words"], s["speaker"], s["role"],
                                    s["role_confidence"]) for s in live]
    labels = final_speaker_labels(interview, recording if recording.shape[1] == 2 else mono, live_labelled, hints)
    if by_channel is not None:  # the channel says who speaks: channel 0 the interviewer, channel 1 the candidate
        labelled = [LabeledSegment(s.start, s.end, s.text, [w.__dict__ for w in s.words], f"S{ch + 1}",
                                   "interviewer" if ch == 0 else "candidate", 1.0) for s, ch in by_channel]
    else:
        labelled = labels.label(
            [SegmentIn(start=s.start, end=s.end, text=s.text, words=[w.__dict__ for w in s.words]) for s in transcript]
        )
    speaker_labels = labels.summary(live_labelled)
    labels_changed = speaker_labels["changed"]
    final_segments = [segment_payload(seg, index=i, language=language) for i, seg in enumerate(labelled)]

    progress("analyze", 0.75)
    rubric = rubric_for(interview)
    _qs, pure_set = question_set_for(interview)
    spans = [s for s in build_timeline(final_segments, notes, now=float("inf")) if s.segments]
    # Affect is re-scored once every answer is measured: each against the candidate's other answers.
    analyses = []
    for span in spans:
        a0, a1 = span.answer_start or 0.0, span.answer_end or 0.0
        lo, hi = max(0, int((a0 - 0.2) * 16000)), int((a1 + 0.2) * 16000)
        analyses.append(services.answer_analyse(
            interview=interview, span=span, language=language, pure_set=pure_set, baseline=None,
            affect=services.affect_on(interview), use_llm=True, audio=mono[lo:hi], audio_start=lo / 16000,
        ))
    session_baseline = rescore_session_affect(analyses)
    with transaction.atomic():
        AnswerAnalysis.objects.filter(interview=interview, is_final=True).delete()
        for span, analysis in zip(spans, analyses):
            row = AnswerAnalysis.objects.create(
                interview=interview, index=span.index, is_final=True, question_text=span.question_text,
                start=analysis["start"], end=analysis["end"], answer_text=analysis["answer_text"], analysis=analysis,
            )
            scoring_services.answer_score(row=row, rubric=rubric)
        if session_baseline is not None:
            interview.voice_baseline = session_baseline
        interview.final_segments = final_segments
        interview.save(update_fields=["final_segments", "voice_baseline"])

    live_total = scoring_services.session_score(interview, is_final=False)
    final_total = scoring_services.session_score(interview, is_final=True)
    live_rows = {r.index: r.overall for r in AnswerAnalysis.objects.filter(interview=interview, is_final=False)}
    final_rows = {r.index: r.overall for r in AnswerAnalysis.objects.filter(interview=interview, is_final=True)}
    diff = {
        "words_changed": _words_changed(live, final_segments, language),
        "labels_changed": labels_changed,
        "speaker_labels": speaker_labels,
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
    scoring_services.report_store(session_id=session_id, stage="final", segments=final_segments, live_vs_final=diff)
    progress("done", 1.0)
    logger.info("final pass of %s done in %.1f s", session_id, diff["final_pass_s"])


def final_pass_failed(*, session_id: str, reason: str) -> None:
    """The final pass gave up: the report says so (and keeps the live record) instead of "pending" forever."""
    stored = InterviewReport.objects.filter(interview_id=session_id).first()
    if stored is None or not isinstance(stored.report, dict) or stored.report.get("final_pass") != "pending":
        return
    InterviewReport.objects.filter(pk=stored.pk).update(report={**stored.report, "final_pass": "failed"})
    Interview.objects.filter(pk=session_id).update(error_message=f"final pass failed: {reason}"[:2000])
