"""The final pass through Django on a real two-voice interview: correct live labels survive it, and the
stored record says how many labels it changed and why."""

from __future__ import annotations

import io

import pytest
import soundfile as sf
from django.core.files.base import ContentFile

from analysis.pipeline.final_pass import final_pass
from analysis.diarization.simulate import vad_segments
from scoring.models import InterviewReport
from sessions.models import Interview, Segment

pytestmark = [pytest.mark.django_db, pytest.mark.models]


def test_final_pass_keeps_correct_live_labels_and_records_why(interviews, settings, tmp_path) -> None:
    settings.MEDIA_ROOT = str(tmp_path)
    settings.FINAL_BEAM_SIZE = 1
    audio, turns = interviews["mock_interview_en"]
    live = []  # correct live labels: each utterance with its reference speaker and role
    for seg in vad_segments(audio):
        ref = max(turns, key=lambda t: min(seg.end, t["end"]) - max(seg.start, t["start"]))
        speaker, role = ("S1", "interviewer") if ref["role"] == "interviewer" else ("S2", "candidate")
        live.append((seg, speaker, role))
    interview = Interview.objects.create(language="en", status=Interview.Status.COMPLETED, duration_s=len(audio) / 16000)
    buffer = io.BytesIO()
    sf.write(buffer, audio, 16000, format="WAV", subtype="PCM_16")
    interview.audio.save(f"{interview.pk}.wav", ContentFile(buffer.getvalue()))
    for i, (s, speaker, role) in enumerate(live):
        Segment.objects.create(interview=interview, index=i, start=s.start, end=s.end, text="words", words=s.words,
                               speaker=speaker, role=role, role_confidence=0.9, seq=i)
    final_pass(str(interview.pk))
    stored = InterviewReport.objects.get(interview=interview)
    labels = stored.live_vs_final["speaker_labels"]
    assert stored.live_vs_final["labels_changed"] == labels["changed"] == 0
    assert labels["bound"] == 2 and labels["final_speakers"] == 2
    assert stored.report["speaker_labels"]["changed"] == 0 and stored.report["stage"] == "final"
    interview.refresh_from_db()
    by_role = {}
    for seg in interview.final_segments:  # the re-transcribed segments carry the live names and roles
        ref = max(turns, key=lambda t: min(seg["end"], t["end"]) - max(seg["start"], t["start"]))
        by_role.setdefault(ref["role"], set()).add((seg["speaker"], seg["role"]))
    assert by_role["interviewer"] == {("S1", "interviewer")} and by_role["candidate"] == {("S2", "candidate")}
