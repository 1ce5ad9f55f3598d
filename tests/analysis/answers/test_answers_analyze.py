"""End to end: analyze_answer on the real mock interviews, the dict contract, feedback language."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from _answers_data import load_audio_16k, read_manifest

from analysis.answers import AnswerSpan, VocalBaseline, analyze_answer, build_timeline
from analysis.answers.content import content_metrics
from analysis.answers.delivery import live_delivery
from analysis.answers.feedback import feedback_items

DELIVERY_KEYS = {
    "duration_s", "speech_s", "word_count", "syllable_count", "rate", "rate_unit", "pause_count", "pause_total_s",
    "longest_pause_s", "response_latency_s", "filler_count", "filler_per_min", "fillers", "repetitions",
    "self_corrections", "loudness_db_mean", "loudness_db_std", "pitch_hz_median", "pitch_std_semitones", "stt_confidence",
}
CONTENT_KEYS = {
    "keywords", "key_phrases", "relevance", "structure", "star_score", "specificity", "specifics",
    "expected_keyword_coverage", "covered_keywords", "missing_keywords",
}
HANGUL = re.compile(r"[\uac00-\ud7a3]")


def check_shape(d: dict[str, Any]) -> None:
    assert {"language", "question", "answer_text", "start", "end", "delivery", "content", "affect", "feedback", "llm", "notes"} <= set(d)
    assert d["language"] in ("ko", "en")
    assert DELIVERY_KEYS <= set(d["delivery"]) and d["delivery"]["rate_unit"] in ("wpm", "spm")
    assert CONTENT_KEYS <= set(d["content"])
    assert set(d["content"]["structure"]) == {"situation", "task", "action", "result"}
    if d["affect"] is not None:
        assert {"label", "confidence", "arousal", "valence", "scores"} <= set(d["affect"])
        assert 0.0 <= d["affect"]["arousal"] <= 1.0 and -1.0 <= d["affect"]["valence"] <= 1.0
    for item in d["feedback"]:
        assert set(item) >= {"kind", "severity", "message"} and item["severity"] in ("info", "warn", "critical")
    assert all(isinstance(n, str) for n in d["notes"])


@pytest.mark.parametrize("lang", ["ko", "en"])
def test_real_interview_answers_with_audio(interview: dict[str, Any], lang: str) -> None:
    data = interview[lang]
    spans = [s for s in build_timeline(data["turns"], [], now=float("inf")) if s.segments]
    results = [analyze_answer(s, language=lang, audio=data["audio"], audio_start=0.0) for s in spans]
    assert len(results) == sum(t["role"] == "candidate" for t in data["turns"])
    for span, r in zip(spans, results):
        d = r.to_dict()
        check_shape(d)
        assert d["answer_text"] == span.answer_text and d["start"] == span.answer_start
        delivery = d["delivery"]
        assert delivery["response_latency_s"] == pytest.approx(span.answer_start - span.question_end, abs=1e-3)
        assert delivery["pitch_hz_median"] is not None and 70 < delivery["pitch_hz_median"] < 400
        assert delivery["loudness_db_mean"] is not None and -50 < delivery["loudness_db_mean"] < 0
        if lang == "ko":
            assert delivery["syllable_count"] == len(HANGUL.findall(span.answer_text))
            # Read speech at an ordinary pace: 150-450 Hangul syllables per minute.
            assert 150 < delivery["rate"] < 450
        else:
            assert 100 < delivery["rate"] < 260
        assert d["affect"] is not None
        # Feedback is in the session's language.
        assert d["feedback"] and all(bool(HANGUL.search(f["message"])) == (lang == "ko") for f in d["feedback"])
    if lang == "ko":
        # Same candidate, a baseline from the first answer: arousal of the first answer is then "as usual".
        base = VocalBaseline.from_features([results[0].vocal])
        again = analyze_answer(spans[0], language=lang, audio=data["audio"], audio_start=0.0, baseline=base.to_dict())
        assert again.affect is not None and again.affect.baseline_used
        assert again.affect.arousal == pytest.approx(0.5, abs=0.01)


def test_affect_switch_and_audio_slice_offset(interview: dict[str, Any]) -> None:
    data = interview["ko"]
    span = [s for s in build_timeline(data["turns"], []) if s.segments][0]
    full = analyze_answer(span, language="ko", audio=data["audio"], audio_start=0.0, affect=False)
    assert full.affect is None and full.to_dict()["affect"] is None
    # Audio handed over as just the answer's stretch, with its session offset, measures the same voice.
    a, b = int(span.answer_start * 16000), int(span.answer_end * 16000)
    piece = analyze_answer(span, language="ko", audio=data["audio"][a:b], audio_start=a / 16000, affect=False)
    assert piece.delivery.pitch_hz_median == pytest.approx(full.delivery.pitch_hz_median, rel=0.02)
    no_audio = analyze_answer(span, language="ko", audio=None, audio_start=0.0)
    assert no_audio.delivery.pitch_hz_median is None and any("no audio" in n for n in no_audio.notes)
    assert no_audio.affect is not None and no_audio.affect.vocal_arousal is None


def test_feedback_is_specific_and_in_the_session_language() -> None:
    ko_text = "음 저는 음 어 그러니까 그냥 열심히 했습니다 음 어"
    seg = {"start": 10.0, "end": 25.0, "text": ko_text, "words": [], "speaker": "B", "role": "candidate"}
    d = live_delivery([seg], language="ko", question_end=2.0)
    c = content_metrics(ko_text, question="가장 어려웠던 기술적 문제를 어떻게 해결했나요?", language="ko")
    items = {f.kind: f for f in feedback_items(language="ko", delivery=d, content=c, question="가장 어려웠던 기술적 문제를 어떻게 해결했나요?")}
    assert items["result"].message == "구체적인 결과가 없습니다. 수치나 성과를 언급해 보세요."
    assert items["fillers"].severity == "critical" and "‘음’ ×3" in items["fillers"].message
    assert "8.0초" in items["latency"].message
    assert "15초" in items["length"].message
    assert "‘기술’" in items["relevance"].message or "‘문제’" in items["relevance"].message
    assert all(HANGUL.search(f.message) for f in items.values())

    en_text = "When I was at Acme our checkout was slow. I decided to add caching. As a result, latency dropped by 40% in two weeks."
    seg = {"start": 0.0, "end": 40.0, "text": en_text, "words": [], "speaker": "B", "role": "candidate"}
    items = feedback_items(language="en", delivery=live_delivery([seg], language="en"),
                           content=content_metrics(en_text, question="How did you improve checkout latency?", language="en"),
                           question="How did you improve checkout latency?")
    kinds = {f.kind for f in items}
    assert not kinds & {"result", "action", "specificity", "relevance", "fillers"}
    assert "rate" in kinds  # 23 words over 40 s is slow, and the message says so with the number
    assert all(not HANGUL.search(f.message) for f in items)


def test_empty_answer_gets_one_critical_item() -> None:
    span = AnswerSpan(0, "Why us?", 0.0, 2.0, None, None, [], False)
    result = analyze_answer(span, language="en", audio=None, audio_start=0.0)
    assert [f.kind for f in result.feedback] == ["no_answer"] and result.feedback[0].severity == "critical"
    check_shape(result.to_dict())


@pytest.mark.models
def test_whisper_word_timings_drive_delivery_on_real_audio(data_dir: Path) -> None:
    """Real STT output (words with times and probabilities) from a LibriSpeech clip, as the pipeline sees it."""
    from faster_whisper import WhisperModel

    model_dir = Path(__file__).resolve().parents[3] / ".models" / "whisper-base"
    if not (model_dir / "model.bin").exists():
        pytest.skip("whisper-base not assembled in .models/")
    entry = next(m for m in read_manifest(data_dir / "en") if m["path"] == "1089-134686-0000.flac")
    audio = load_audio_16k(data_dir / "en" / entry["path"])
    model = WhisperModel(str(model_dir), device="cpu", compute_type="int8", cpu_threads=2)
    segs, _ = model.transcribe(audio, language="en", word_timestamps=True, beam_size=1, vad_filter=False)
    segments = [
        {"start": s.start, "end": s.end, "text": s.text.strip(), "speaker": "B", "role": "candidate",
         "words": [{"w": w.word.strip(), "start": w.start, "end": w.end, "p": w.probability} for w in s.words]}
        for s in segs
    ]
    notes = [{"at": 0.0, "kind": "question", "text": "What did he hope to have for dinner?", "speaker": "A"}]
    span = build_timeline(segments, notes, now=float("inf"))[0]
    result = analyze_answer(span, language="en", audio=audio, audio_start=0.0)
    d = result.delivery
    reference_words = len(entry["text"].split())
    assert abs(d.word_count - reference_words) <= 3
    assert 120 < d.rate < 240  # read speech
    assert d.stt_confidence is not None and d.stt_confidence > 0.7
    assert d.filler_count == 0 and d.response_latency_s is not None and d.response_latency_s < 1.5
    assert d.pitch_hz_median is not None and 70 < d.pitch_hz_median < 250
    assert result.content.relevance == 1.0  # "dinner" (the question's only topic word) is in the answer
    # Keywords from the STT transcript agree with those from the human reference transcript.
    from analysis.answers.keywords import extract_keywords

    reference = set(extract_keywords(entry["text"], "en", top_k=30).keywords)
    assert len(set(result.content.keywords) & reference) >= 8
