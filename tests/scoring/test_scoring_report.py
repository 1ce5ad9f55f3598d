"""The report on the real mock interviews (shared data) and hand-made overlaps; schema validation."""

from __future__ import annotations

import copy
import statistics

import jsonschema
import pytest
from _scoring_fixtures import (
    en_strong, en_weak, interview, ko_strong, ko_weak, load_mock_interview, segments_from_turns, shared_data_dir,
)  # fmt: skip

from scoring.report import build_report, interruptions, validate_report
from scoring.rubric import score_answer, score_session

needs_data = pytest.mark.skipif(
    not (shared_data_dir() / "interviews" / "manifest.jsonl").exists(), reason="shared data not available"
)

ANSWERS = {"en": (en_strong, en_weak), "ko": (ko_strong, ko_weak)}


def _real_report(language: str, **kwargs):
    entry, turns = load_mock_interview(language)
    ids = {s: f"S{i + 1}" for i, s in enumerate(dict.fromkeys(t["speaker"] for t in turns))}
    segments = segments_from_turns(turns, ids)
    answers = [build() for build in ANSWERS[language]]
    scores = [score_answer(a) for a in answers]
    session = score_session(scores, stt_confidence=0.85)
    notes = [{"at": 12.0, "text": "<b>asked for clarification</b>", "kind": "note", "speaker": ""}]
    report = build_report(interview=interview(language, entry["duration_s"]), segments=segments, answers=answers,
                          answer_scores=scores, session=session, notes=notes, **kwargs)  # fmt: skip
    return report, turns


@needs_data
@pytest.mark.parametrize("language", ["en", "ko"])
def test_report_on_real_mock_interview_validates_and_measures_turns(language):
    report, turns = _real_report(language)
    assert validate_report(report) is True
    assert report["interview"]["language"] == language
    assert report["labels"]["overall"] == ("종합 점수" if language == "ko" else "Overall")
    # Talk time per role equals the reference turns (no overlaps within a role in this data).
    for role in ("interviewer", "candidate"):
        expected = sum(t["end"] - t["start"] for t in turns if t["role"] == role)
        assert report["roles"][role]["talk_time_s"] == pytest.approx(expected, abs=0.02)
    ia = report["interviewer_analytics"]
    assert ia["interruptions"]["count"] == 0  # turns are 0.8 s apart: no cutting in
    first_q = next(t for t in turns if t["role"] == "interviewer")
    first_a = next(t for t in turns if t["role"] == "candidate")
    assert ia["time_to_first_answer_s"] == pytest.approx(first_a["start"] - first_q["end"], abs=0.01)
    assert ia["questions"] == sum(1 for t in turns if t["role"] == "interviewer")
    assert [s["role"] for s in report["speakers"]] and {s["role"] for s in report["speakers"]} == {"interviewer", "candidate"}
    assert [a["question"] for a in report["answers"]] == [b()["question"] for b in ANSWERS[language]]


@needs_data
@pytest.mark.parametrize("language", ["en", "ko"])
def test_pace_series_on_real_speech_sits_in_the_comfortable_range(language):
    # The mock interviews are real read speech: its pace is what the language targets call comfortable.
    report, _ = _real_report(language)
    pace = report["pace"]
    rates = [p["rate"] for p in pace["points"] if p["rate"] is not None]
    assert len(rates) >= 2
    lo, hi = pace["target"]
    assert lo <= statistics.median(rates) <= hi
    assert pace["unit"] == ("spm" if language == "ko" else "wpm")
    assert pace["points"][-1]["t_end"] == pytest.approx(report["interview"]["duration_s"], abs=0.01)


def test_interruptions_by_overlap_and_quick_takeover():
    segs = [
        {"start": 0.0, "end": 5.0, "speaker": "S1", "role": "interviewer"},
        {"start": 4.2, "end": 12.0, "speaker": "S2", "role": "candidate"},  # starts 0.8 s before the end
        {"start": 9.0, "end": 9.6, "speaker": "S1", "role": "interviewer"},  # cuts into the answer
        {"start": 10.5, "end": 11.5, "speaker": "S2", "role": "candidate"},  # resumes after the cut: no event
        {"start": 10.9, "end": 11.6, "speaker": "S2", "role": "candidate"},  # same turn split in two: no event
        {"start": 12.1, "end": 15.0, "speaker": "S1", "role": "interviewer"},  # within 0.2 s of the end
        {"start": 16.0, "end": 20.0, "speaker": "S2", "role": "candidate"},  # 1 s gap: normal turn
        {"start": 17.0, "end": 18.0, "speaker": "S3", "role": "unknown"},  # unknown roles never count
    ]
    events = interruptions(sorted(segs, key=lambda s: s["start"]))
    assert [(e["at"], e["by_role"]) for e in events] == [(4.2, "candidate"), (9.0, "interviewer"), (12.1, "interviewer")]
    assert events[0]["overlap_s"] == pytest.approx(0.8)
    assert events[2]["overlap_s"] == 0.0


def test_report_without_word_timings_or_roles_still_validates():
    segs = [
        {"id": 0, "start": 0.0, "end": 3.0, "text": "Tell me about yourself.", "confidence": 0.8, "words": [],
         "speaker": "S1", "role": "unknown", "role_confidence": 0.0},
        {"id": 1, "start": 3.4, "end": 14.0, "text": "I build data pipelines " * 6, "confidence": 0.8, "words": [],
         "speaker": "S2", "role": "unknown", "role_confidence": 0.0},
    ]  # fmt: skip
    answers = [en_strong()]
    scores = [score_answer(a) for a in answers]
    report = build_report(interview={"id": "x", "language": "auto", "started_at": None, "duration_s": 0,
                                     "candidate_name": "", "status": "live"},
                          segments=segs, answers=answers, answer_scores=scores,
                          session=score_session(scores, stt_confidence=0.5), notes=[])  # fmt: skip
    assert report["interview"]["duration_s"] == 14.0
    assert report["interviewer_analytics"]["time_to_first_answer_s"] is None
    assert any(p["rate"] for p in report["pace"]["points"])


def test_empty_interview_report_validates():
    session = score_session([], stt_confidence=0.0)
    report = build_report(interview=interview("ko", 0.0), segments=[], answers=[], answer_scores=[],
                          session=session, notes=[])  # fmt: skip
    assert report["overall"]["score"] is None and report["overall"]["band"] == [0.0, 100.0]


@needs_data
def test_schema_rejects_a_broken_report():
    report, _ = _real_report("en")
    broken = copy.deepcopy(report)
    broken["answers"][0]["scores"]["relevance"] = 140
    with pytest.raises(jsonschema.ValidationError):
        validate_report(broken)
    missing = copy.deepcopy(report)
    del missing["overall"]["band"]
    with pytest.raises(jsonschema.ValidationError):
        validate_report(missing)


def test_mismatched_answers_and_scores_raise():
    with pytest.raises(ValueError):
        build_report(interview=interview("en", 10.0), segments=[], answers=[en_strong()], answer_scores=[],
                     session=score_session([], stt_confidence=1.0), notes=[])  # fmt: skip
