"""Recorded interviews: an uploaded file becomes an interview analysed by the whole-recording pass.

``recording_import`` decodes the upload (``analysis.audio.decode``) into a 16 kHz WAV in a temporary
file first: a corrupt or unsupported file is refused before any row or file exists. Only then does it
store the interview, its hints (as notes, the same evidence the live console sends) and the
``RecordingImport`` row that carries progress. ``recording_process`` is the task body: the final pass
(``analysis.final.final_pass``: transcribe, diarize, analyse, score, report) with its progress kept on the
row, then the interview is completed and the report webhook queued. docs/recordings.md has the contract.
"""

from __future__ import annotations

import logging
import os
import tempfile
from dataclasses import dataclass
from typing import IO, Any

from django.conf import settings
from django.core.files import File
from django.db import transaction
from django.utils import timezone

from analysis.audio.decode import DecodedRecording, RecordingError, decode_to_wav
from analysis.pipeline.final_pass import final_pass
from analysis.models import QuestionSet
from analysis.stt.hotwords import clean_terms
from scoring.models import InterviewReport
from sessions.models import Interview, Note, RecordingImport
from sessions.webhooks import report_ready_notify

logger = logging.getLogger(__name__)

STAGES = {"transcribe": RecordingImport.Stage.TRANSCRIBE, "diarize": RecordingImport.Stage.DIARIZE,
          "analyze": RecordingImport.Stage.ANALYZE, "done": RecordingImport.Stage.ANALYZE}  # fmt: skip


@dataclass(frozen=True)
class RecordingHint:
    """What the uploader knows about the recording: who speaks at ``at`` s, or that a question starts there."""

    at: float
    speaker: str = ""  # "interviewer", "candidate" or ""
    kind: str = "note"  # "note" or "question"
    text: str = ""


def recording_import(*, source: IO[bytes] | str, filename: str, owner: Any | None, language: str = "auto",
                     question_set: QuestionSet | None = None, candidate_name: str = "", consent: bool,
                     layout: str = RecordingImport.Layout.MONO, hints: list[RecordingHint] | None = None,
                     analysis_affect: bool | None = None, custom_terms: list[str] | None = None) -> Interview:
    """Decode and store an uploaded recording as a new interview; raises ``RecordingError`` and stores nothing.

    The caller queues the pass with ``analysis.recording_tasks.recording_enqueue`` (after commit).
    """
    if not consent:
        raise RecordingError("consent_required", "the candidate's consent to recording and analysis is required")
    if language not in Interview.Language.values:
        raise RecordingError("bad_language", f"language must be one of {', '.join(Interview.Language.values)}")
    if layout not in RecordingImport.Layout.values:
        raise RecordingError("bad_layout", f"layout must be one of {', '.join(RecordingImport.Layout.values)}")
    handle, tmp_path = tempfile.mkstemp(prefix="upload-", suffix=".wav")
    try:
        if hasattr(source, "temporary_file_path"):  # a large upload Django already spilled to disk
            source = source.temporary_file_path()
        elif hasattr(source, "seek"):
            source.seek(0)
        with os.fdopen(handle, "w+b") as wav:
            decoded = decode_to_wav(source, wav, layout=layout,  # type: ignore[arg-type]
                                    max_duration_s=settings.RECORDING_MAX_S)  # fmt: skip
            for hint in hints or []:
                if not 0 <= hint.at <= decoded.duration_s:
                    raise RecordingError("bad_hints", f"hint at {hint.at} s lies outside the recording "
                                                      f"(0-{decoded.duration_s:.1f} s)")  # fmt: skip
            wav.seek(0)
            return _store(wav, decoded, filename=filename, owner=owner, language=language, question_set=question_set,
                          candidate_name=candidate_name, layout=layout, hints=hints or [],
                          custom_terms=clean_terms(custom_terms or []),
                          analysis_affect=settings.ANALYSIS_AFFECT if analysis_affect is None else analysis_affect)
    finally:
        os.unlink(tmp_path)


def _store(wav: IO[bytes], decoded: DecodedRecording, *, filename: str, owner: Any | None, language: str,
           question_set: QuestionSet | None, candidate_name: str, layout: str, hints: list[RecordingHint],
           analysis_affect: bool, custom_terms: list[str]) -> Interview:
    saved: list[str] = []
    try:
        with transaction.atomic():
            interview = Interview.objects.create(
                owner=owner, candidate_name=candidate_name, status=Interview.Status.FINALIZING, language=language,
                sample_rate=16000, channels=decoded.channels, duration_s=round(decoded.duration_s, 3),
                question_set=question_set, consent=True, analysis_affect=analysis_affect, ended_at=timezone.now(),
                custom_terms=custom_terms,
            )  # fmt: skip
            Note.objects.bulk_create([
                Note(interview=interview, at=h.at, kind=h.kind, speaker=h.speaker, text=h.text) for h in hints
            ])  # fmt: skip
            RecordingImport.objects.create(
                interview=interview, filename=os.path.basename(filename)[:255], size_bytes=_size(wav),
                container=decoded.container[:64], codec=decoded.codec[:32], layout=layout,
                source_sample_rate=decoded.source_sample_rate, source_channels=decoded.source_channels,
            )  # fmt: skip
            interview.audio.save(f"{interview.pk}.wav", File(wav), save=True)
            saved.append(interview.audio.name)
            return interview
    except BaseException:
        for name in saved:  # the row is gone with the rollback: so is its file
            Interview._meta.get_field("audio").storage.delete(name)  # type: ignore[attr-defined]
        raise


def _size(handle: IO[bytes]) -> int:
    return os.fstat(handle.fileno()).st_size


def recording_progress(*, interview_id: str, stage: str, done: float) -> None:
    RecordingImport.objects.filter(interview_id=interview_id).exclude(stage=RecordingImport.Stage.DONE).update(
        stage=STAGES.get(stage, RecordingImport.Stage.ANALYZE), progress=round(min(done, 0.99), 2),
        updated_at=timezone.now(),
    )


def recording_process(*, interview_id: str) -> None:
    """The whole-recording pass of an upload (idempotent: a redelivered task after success does nothing)."""
    recording = RecordingImport.objects.select_related("interview").get(pk=interview_id)
    if recording.stage == RecordingImport.Stage.DONE:
        return
    final_pass(
        str(interview_id),
        on_progress=lambda stage, done: recording_progress(interview_id=str(interview_id), stage=stage, done=done),
        channel_roles=recording.layout == RecordingImport.Layout.TWO_CHANNEL,
    )
    now = timezone.now()
    with transaction.atomic():
        Interview.objects.filter(pk=interview_id).update(status=Interview.Status.COMPLETED, error_message="")
        RecordingImport.objects.filter(pk=interview_id).update(
            stage=RecordingImport.Stage.DONE, progress=1.0, error_message="", finished_at=now, updated_at=now
        )
        stored = InterviewReport.objects.filter(interview_id=interview_id).first()
        if stored is not None and isinstance(stored.report.get("interview"), dict):
            stored.report["interview"]["status"] = Interview.Status.COMPLETED
            stored.save(update_fields=["report"])
        report_ready_notify(interview_id=str(interview_id))
    logger.info("recording %s analysed", interview_id)


def recording_failed(*, interview_id: str, reason: str) -> None:
    """The pass gave up (after its retries): say so on the interview and the row, and tell the webhook."""
    now = timezone.now()
    with transaction.atomic():
        Interview.objects.filter(pk=interview_id).update(status=Interview.Status.FAILED, error_message=reason[:2000])
        updated = RecordingImport.objects.filter(pk=interview_id).update(
            stage=RecordingImport.Stage.FAILED, error_message=reason[:2000], finished_at=now, updated_at=now
        )
        if updated:
            report_ready_notify(interview_id=str(interview_id))


def recording_status(recording: RecordingImport) -> dict[str, Any]:
    """The progress shape of the API and the report page."""
    return {
        "stage": recording.stage, "stage_label": recording.get_stage_display(), "progress": recording.progress,
        "error_message": recording.error_message, "filename": recording.filename, "size_bytes": recording.size_bytes,
        "container": recording.container, "codec": recording.codec, "layout": recording.layout,
        "source_sample_rate": recording.source_sample_rate, "source_channels": recording.source_channels,
        "webhook_status": recording.webhook_status, "created_at": recording.created_at.isoformat(),
        "finished_at": recording.finished_at.isoformat() if recording.finished_at else None,
    }  # fmt: skip


__all__ = ["RecordingError", "RecordingHint", "recording_failed", "recording_import", "recording_process",
           "recording_progress", "recording_status"]  # fmt: skip
