from __future__ import annotations

from typing import Any

from analysis.answers.timeline import build_timeline, is_backchannel


def seg(start: float, end: float, text: str, role: str | None = "candidate", speaker: str = "B") -> dict[str, Any]:
    return {"start": start, "end": end, "text": text, "words": [], "speaker": speaker, "role": role}


def test_real_interview_turns_alternate_into_question_answer_spans(interview: dict[str, Any]) -> None:
    for lang in ("en", "ko"):
        turns = interview[lang]["turns"]
        spans = build_timeline(turns, [], now=None)
        interviewer_turns = [t for t in turns if t["role"] == "interviewer"]
        candidate_turns = [t for t in turns if t["role"] == "candidate"]
        assert len(spans) == len(interviewer_turns)
        for span, q in zip(spans, interviewer_turns):
            assert span.question_text == q["text"]
            assert span.question_start == q["start"] and span.question_end == q["end"]
        answered = [s for s in spans if s.segments]
        assert [s.answer_start for s in answered] == [t["start"] for t in candidate_turns]
        assert [s.answer_text for s in answered] == [t["text"] for t in candidate_turns]
        # An answer followed by a question is closed; the session's last span stays open without `now`.
        assert all(s.finished for s in spans[:-1])
        assert not spans[-1].finished
        end = turns[-1]["end"]
        closed = build_timeline(turns, [], now=end + 6.0)
        assert closed[-1].finished is bool(closed[-1].segments)


def test_long_pause_finishes_the_last_answer_relative_to_now() -> None:
    segments = [seg(0.0, 3.0, "Why this role?", role="interviewer", speaker="A"), seg(4.0, 10.0, "Because I like it")]
    assert build_timeline(segments, [], now=12.0)[0].finished is False
    assert build_timeline(segments, [], now=16.5)[0].finished is True
    assert build_timeline(segments, [], now=12.0, pause_end_s=1.5)[0].finished is True
    assert build_timeline(segments, [], now=None)[0].finished is False


def test_question_note_opens_a_question_and_its_text_wins_over_the_transcript() -> None:
    notes = [{"at": 0.2, "kind": "question", "text": "팀 프로젝트에서 갈등을 해결한 경험을 말씀해 주세요.", "speaker": "A"},
             {"at": 5.0, "kind": "note", "text": "good eye contact", "speaker": "A"}]
    segments = [seg(0.5, 3.5, "팀 프로젝트 갈등 해결 경험 말씀해 주세요", role="interviewer", speaker="A"),
                seg(4.5, 9.0, "당시 저는 팀장을 맡았습니다")]
    spans = build_timeline(segments, notes)
    assert len(spans) == 1
    assert spans[0].question_text.startswith("팀 프로젝트에서 갈등을")
    assert spans[0].question_start == 0.2 and spans[0].question_end == 3.5
    assert spans[0].answer_start == 4.5


def test_note_question_without_interviewer_speech_and_backchannels_do_not_split() -> None:
    notes = [{"at": 0.0, "kind": "question", "text": "Tell me about a failure.", "speaker": "A"},
             {"at": 20.0, "kind": "question", "text": "What did you learn?", "speaker": "A"}]
    segments = [seg(1.0, 5.0, "We missed a deadline."), seg(5.2, 5.8, "Mm-hmm.", role="interviewer", speaker="A"),
                seg(6.0, 12.0, "So I replanned the release."), seg(21.0, 25.0, "To estimate with buffers.")]
    spans = build_timeline(segments, notes)
    assert [s.question_text for s in spans] == ["Tell me about a failure.", "What did you learn?"]
    assert spans[0].answer_text == "We missed a deadline. So I replanned the release."
    assert spans[0].finished and not spans[1].finished
    assert is_backchannel(segments[1]) and not is_backchannel(seg(0, 1, "Why?", role="interviewer"))


def test_speech_before_any_question_is_an_unprompted_span() -> None:
    spans = build_timeline([seg(0.0, 2.0, "Hello, I'm Kim.", role=None), seg(3.0, 5.0, "Introduce yourself", role="interviewer")], [])
    assert spans[0].question_start is None and spans[0].question_text == ""
    assert spans[0].finished and spans[1].question_text == "Introduce yourself"
