"""The baseline's life through the service: live answers (prior, then running), Redis state lost, the final pass,
and the affect switch per deployment (ANALYSIS_AFFECT) and per interview (analysis_affect=0).

Real audio: one emotion_ko speaker answering four questions in four acted moods. Transcription and speaker
turns are given (they are not what is tested here); the audio, the analysis and the database are real.
"""

from __future__ import annotations

import io
import json
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
import soundfile as sf

from analysis import services
from analysis.diarization.live import LabeledSegment
from analysis.models import AnswerAnalysis
from sessions.models import Interview, Note, Segment
from sessions.state import SessionMeta

MOODS = ("neutral", "happy", "sad", "angry")
SR = 16_000
GAP_S = 3.0


@pytest.fixture(scope="module")
def session_audio(emotion_clips: list[dict[str, Any]]) -> tuple[np.ndarray, list[dict[str, Any]]]:
    """ema's four takes one after another, 3 s apart; candidate segments (speaker labels that change)."""
    clips = {c["labels"]["emotion"]: c for c in emotion_clips if c["labels"]["speaker"] == "ema"}
    pieces, segments, t = [np.zeros(int(GAP_S * SR), dtype=np.float32)], [], GAP_S
    for k, mood in enumerate(MOODS):
        audio = clips[mood]["audio"]
        segments.append({"index": k, "start": round(t + 0.05, 3), "end": round(t + len(audio) / SR - 0.05, 3),
                         "text": clips[mood]["text"], "speaker": f"S{2 + k % 2}", "role": "candidate", "mood": mood})
        pieces += [audio, np.zeros(int(GAP_S * SR), dtype=np.float32)]
        t += len(audio) / SR + GAP_S
    return np.concatenate(pieces), segments


def make_interview(segments: list[dict[str, Any]], *, upto: int, affect: bool = True) -> Interview:
    interview = Interview.objects.create(language="ko", detected_language="ko", analysis_affect=affect, consent=True)
    add_answers(interview, segments, 0, upto)
    return interview


def add_answers(interview: Interview, segments: list[dict[str, Any]], first: int, upto: int) -> None:
    for s in segments[first:upto]:
        Note.objects.create(interview=interview, at=s["start"] - 1.5, kind="question", text=f"질문 {s['index'] + 1}")
        Segment.objects.create(interview=interview, index=s["index"], start=s["start"], end=s["end"], text=s["text"],
                               speaker=s["speaker"], role="candidate", confidence=0.9, seq=s["index"])
    if upto < len(segments):  # the next question ends the last answer
        Note.objects.create(interview=interview, at=segments[upto]["start"] - 1.5, kind="question", text="다음 질문")


@pytest.fixture
def audio_source(session_audio: tuple[np.ndarray, list]) -> services.AudioSource:
    """The live path reads session audio from Redis chunks through an AudioSource; here from the recording."""
    audio, _ = session_audio

    def between(start_s: float, end_s: float) -> tuple[np.ndarray, float]:
        lo = max(0, int(start_s * SR))
        return audio[lo : int(end_s * SR)], lo / SR

    return between


def live_step(interview: Interview, stage: dict[str, Any], source: services.AudioSource, *, now_s: float,
              final: bool) -> None:
    services.answers_live_step(meta=meta_for(interview), stage=stage, now_s=now_s, final=final, audio_source=source)


def meta_for(interview: Interview) -> SessionMeta:
    return SessionMeta(session_id=str(interview.pk), language="ko", sample_rate=SR, channels=1)


def affects(interview: Interview, *, final: bool) -> list[dict[str, Any] | None]:
    rows = AnswerAnalysis.objects.filter(interview=interview, is_final=final).order_by("index")
    return [r.analysis.get("affect") for r in rows]


@pytest.mark.django_db
def test_live_baseline_prior_then_running_and_kept_across_chunks(session_audio, audio_source) -> None:
    _, segments = session_audio
    interview = make_interview(segments, upto=2)
    stage: dict[str, Any] = {}
    live_step(interview, stage, audio_source, now_s=60.0, final=False)
    stage = json.loads(json.dumps(stage))  # the stage state goes through Redis as JSON between chunks
    first, second = affects(interview, final=False)
    assert first["baseline_kind"] == "prior" and not first["baseline_used"] and first["label"] is None
    assert second["baseline_used"] and second["baseline_kind"] == "running" and second["baseline_answers"] == 1
    assert second["baseline_speech_s"] > 3.0
    assert stage["baseline"]["count"] == 2
    assert Interview.objects.get(pk=interview.pk).voice_baseline == stage["baseline"]

    # Redis state lost (expired, new worker): the baseline comes back from the interview row.
    add_answers(interview, segments, 2, 4)
    lost = {"analysed": stage["analysed"]}
    live_step(interview, lost, audio_source, now_s=120.0, final=True)
    result = affects(interview, final=False)
    assert [a["baseline_answers"] for a in result] == [0, 1, 2, 3]
    assert all(a["baseline_used"] for a in result[1:])
    speech = [a["baseline_speech_s"] for a in result[1:]]
    assert speech == sorted(speech) and speech[0] < speech[-1]
    by_mood = dict(zip(MOODS, result))
    assert by_mood["angry"]["vocal_arousal"] > by_mood["sad"]["vocal_arousal"]
    assert by_mood["sad"]["label"] == "flat" and by_mood["sad"]["evidence"]["cues"]["pitch_level"]["delta"] < 0
    assert Interview.objects.get(pk=interview.pk).voice_baseline["count"] == 4


@pytest.mark.django_db
def test_final_pass_scores_every_answer_against_the_others(session_audio, monkeypatch, settings, tmp_path) -> None:
    from django.core.files.base import ContentFile

    from analysis.pipeline import final_pass

    settings.MEDIA_ROOT = tmp_path / "media"
    audio, segments = session_audio
    interview = make_interview(segments, upto=4)
    wav = io.BytesIO()
    sf.write(wav, audio, SR, format="WAV", subtype="PCM_16")
    interview.audio.save(f"{interview.pk}.wav", ContentFile(wav.getvalue()), save=True)

    transcript = [SimpleNamespace(start=s["start"], end=s["end"], text=s["text"], words=[]) for s in segments]
    monkeypatch.setattr(final_pass, "transcribe_offline", lambda config, mono, language, hotwords=(): transcript)
    class OneCandidate:  # the final labels: every segment is the candidate's, nothing changed
        def label(self, segs):
            return [LabeledSegment(s.start, s.end, s.text, list(s.words), "S2", "candidate", 0.9) for s in segs]

        def summary(self, live):
            return {"changed": 0, "speaker_changes_applied": 0, "kept_live": 0, "reasons": {}, "role_changes": [],
                    "live_speakers": 1, "final_speakers": 1, "bound": None, "decisions": []}

    monkeypatch.setattr(final_pass, "final_speaker_labels", lambda interview, audio, live, hints: OneCandidate())
    final_pass.final_pass(str(interview.pk))

    result = affects(interview, final=True)
    assert len(result) == 4
    assert all(a["baseline_used"] and a["baseline_kind"] == "session" and a["baseline_answers"] == 3 for a in result)
    by_mood = dict(zip(MOODS, result))
    assert by_mood["angry"]["arousal"] > by_mood["sad"]["arousal"]
    assert by_mood["happy"]["arousal"] > by_mood["neutral"]["arousal"]
    stored = Interview.objects.get(pk=interview.pk).voice_baseline
    assert stored["count"] == 4 and stored["speech_s"] > 15.0
    # the report carries the same affect, with its confidence and evidence
    report = interview.report.report if hasattr(interview, "report") else None
    if report is not None:
        assert report["answers"][0]["affect"]["baseline_kind"] == "session"


@pytest.mark.django_db
def test_affect_switch_per_deployment_and_per_interview(session_audio, audio_source, settings) -> None:
    _, segments = session_audio
    # per interview: analysis_affect=0 in the connect URL is recorded on the interview
    off_here = make_interview(segments, upto=2, affect=False)
    live_step(off_here, {}, audio_source, now_s=60.0, final=True)
    assert affects(off_here, final=False) == [None, None]
    assert Interview.objects.get(pk=off_here.pk).voice_baseline is None
    # per deployment: ANALYSIS_AFFECT=0 switches it off for interviews that asked for it
    settings.ANALYSIS_AFFECT = False
    asked = make_interview(segments, upto=2, affect=True)
    live_step(asked, {}, audio_source, now_s=60.0, final=True)
    assert affects(asked, final=False) == [None, None]
    settings.ANALYSIS_AFFECT = True
    on = make_interview(segments, upto=2, affect=True)
    live_step(on, {}, audio_source, now_s=60.0, final=True)
    assert all(a is not None for a in affects(on, final=False))


def test_an_unstated_affect_leaves_no_trace_in_the_score() -> None:
    """Below its confidence threshold affect adds no composure finding or feedback; stated, it does."""
    from scoring.rubric import score_answer

    text = "저는 데이터 파이프라인을 맡아 처리 시간을 절반으로 줄였습니다. " * 6
    analysis = {"language": "ko", "answer_text": text,
                "delivery": {"duration_s": 30.0, "speech_s": 28.0, "rate": 300.0, "rate_unit": "spm",
                             "word_count": 60, "syllable_count": 150},
                "content": {"relevance": 0.8, "star_score": 0.5, "specificity": 0.5}}
    unstated = {"label": None, "stated": False, "confidence": 0.2, "arousal": 0.95, "valence": -0.9}
    stated = {"label": "tense", "stated": True, "confidence": 0.8, "arousal": 0.95, "valence": -0.9}
    quiet = score_answer({**analysis, "affect": unstated})
    loud = score_answer({**analysis, "affect": stated})
    assert not [f for f in quiet.findings if f.code == "affect"]
    assert [f for f in loud.findings if f.code == "affect"]
    assert quiet.scores["composure"] > loud.scores["composure"]
