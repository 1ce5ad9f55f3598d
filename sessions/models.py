"""What an interview leaves behind once it is accepted: the interview, its committed segments, its notes.

Live, fast-changing state (audio buffer, cursors, resume token) lives in Redis (``sessions.state``); rows
here are written when something is final enough to keep.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models


class Interview(models.Model):
    class Status(models.TextChoices):
        LIVE = "live", "Live"
        FINALIZING = "finalizing", "Finalizing"
        COMPLETED = "completed", "Completed"
        ABANDONED = "abandoned", "Abandoned"
        FAILED = "failed", "Failed"

    class Language(models.TextChoices):
        AUTO = "auto", "Detect"
        KOREAN = "ko", "Korean"
        ENGLISH = "en", "English"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE, related_name="interviews"
    )
    candidate_name = models.CharField(max_length=200, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.LIVE, db_index=True)
    language = models.CharField(max_length=8, choices=Language.choices, default=Language.AUTO)
    detected_language = models.CharField(max_length=8, blank=True)
    sample_rate = models.PositiveIntegerField(default=16000)
    channels = models.PositiveSmallIntegerField(default=1)
    started_at = models.DateTimeField(auto_now_add=True, db_index=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    duration_s = models.FloatField(default=0.0)
    last_seq = models.IntegerField(default=-1)
    audio = models.FileField(upload_to="interviews/", blank=True)
    error_message = models.TextField(blank=True)
    end_reason = models.CharField(
        max_length=300, blank=True, help_text="Why the session ended as it did (sweeper, failure, abandonment)"
    )
    resume_digest = models.CharField(
        max_length=64, blank=True, db_index=True, editable=False,
        help_text="SHA-256 of the resume token, so a session can be resumed after Redis lost it",
    )
    question_set = models.ForeignKey(
        "analysis.QuestionSet", null=True, blank=True, on_delete=models.SET_NULL, related_name="interviews"
    )
    consent = models.BooleanField(default=False, help_text="The candidate agreed to recording and analysis")
    analysis_affect = models.BooleanField(default=True, help_text="Affect (emotion) analysis on for this interview")
    class Mode(models.TextChoices):
        INTERVIEW = "interview", "Interview"
        PRACTICE = "practice", "Practice (candidate alone)"

    mode = models.CharField(
        max_length=16, choices=Mode.choices, default=Mode.INTERVIEW,
        help_text="practice: a candidate rehearsing alone; every voice is the candidate",
    )
    num_speakers = models.PositiveSmallIntegerField(
        null=True, blank=True, help_text="How many people speak, when the client said so (bounds diarization)"
    )
    enroll_s = models.FloatField(
        default=0.0,
        help_text="Seconds at the start that are the interviewer's voice enrollment (0: none); pins that voice",
    )
    final_segments = models.JSONField(
        default=list, blank=True, help_text="Transcript of the final pass (re-transcribed, re-diarized)"
    )
    voice_baseline = models.JSONField(
        null=True, blank=True,
        help_text="The candidate's usual voice (pitch, level, spectral tilt, rate; seconds of speech behind it) "
                  "that affect is measured against: running during the interview, all answers after the final pass",
    )  # fmt: skip
    custom_terms = models.JSONField(
        default=list, blank=True, help_text="Domain words of this interview, passed to the recogniser as hotwords"
    )
    encoding = models.CharField(
        max_length=16, default="pcm_s16le", help_text="How the live audio chunks were encoded on the socket"
    )

    class Meta:
        ordering = ["-started_at"]

    def __str__(self) -> str:
        return f"Interview {self.id} ({self.get_status_display()})"

    @property
    def effective_language(self) -> str:
        return self.detected_language or self.language


class Segment(models.Model):
    """A committed piece of transcript: it never changes once the live path has stored it."""

    class Role(models.TextChoices):
        INTERVIEWER = "interviewer", "Interviewer"
        CANDIDATE = "candidate", "Candidate"
        UNKNOWN = "unknown", "Unknown"

    interview = models.ForeignKey(Interview, on_delete=models.CASCADE, related_name="segments")
    index = models.PositiveIntegerField(help_text="Order within the interview; the segment's id in the protocol.")
    start = models.FloatField(help_text="Seconds of session audio")
    end = models.FloatField()
    text = models.TextField()
    confidence = models.FloatField(default=0.0)
    words = models.JSONField(default=list, blank=True)
    language = models.CharField(max_length=8, blank=True)
    speaker = models.CharField(max_length=16, blank=True)
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.UNKNOWN)
    role_confidence = models.FloatField(default=0.0)
    seq = models.IntegerField(help_text="The audio chunk whose processing committed this segment")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["interview", "index"]
        constraints = [models.UniqueConstraint(fields=["interview", "index"], name="segment_unique_index")]

    def __str__(self) -> str:
        return f"[{self.start:.2f}-{self.end:.2f}] {self.text[:60]}"


class Note(models.Model):
    class Kind(models.TextChoices):
        NOTE = "note", "Note"
        QUESTION = "question", "Question"

    interview = models.ForeignKey(Interview, on_delete=models.CASCADE, related_name="notes")
    at = models.FloatField(help_text="Seconds of session audio when the note arrived")
    text = models.TextField(blank=True)
    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.NOTE)
    speaker = models.CharField(max_length=16, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["interview", "at", "id"]

    def __str__(self) -> str:
        return f"{self.kind} @ {self.at:.1f}s"


class RecordingImport(models.Model):
    """An interview created from an uploaded recording: where the file came from and how far its pass is.

    The row exists from the upload on; the whole-recording pass moves ``stage`` through transcribe,
    diarize, analyze to done (or failed, with ``error_message``), which the report page and the API show.
    """

    class Stage(models.TextChoices):
        QUEUED = "queued", "Queued"
        TRANSCRIBE = "transcribe", "Transcribing"
        DIARIZE = "diarize", "Separating speakers"
        ANALYZE = "analyze", "Analysing answers"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    class Layout(models.TextChoices):
        MONO = "mono", "Mixed (speakers told apart by voice)"
        TWO_CHANNEL = "two_channel", "One speaker per channel (interviewer on channel 0)"

    interview = models.OneToOneField(Interview, on_delete=models.CASCADE, primary_key=True, related_name="recording")
    filename = models.CharField(max_length=255, blank=True)
    size_bytes = models.BigIntegerField(default=0)
    container = models.CharField(max_length=64, blank=True)
    codec = models.CharField(max_length=32, blank=True)
    source_sample_rate = models.PositiveIntegerField(default=0)
    source_channels = models.PositiveSmallIntegerField(default=0)
    layout = models.CharField(max_length=16, choices=Layout.choices, default=Layout.MONO)
    stage = models.CharField(max_length=16, choices=Stage.choices, default=Stage.QUEUED)
    progress = models.FloatField(default=0.0, help_text="0..1 through the whole-recording pass")
    error_message = models.TextField(blank=True)
    webhook_status = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"Recording {self.filename or self.interview_id} ({self.stage})"
