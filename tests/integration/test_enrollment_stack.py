"""Interviewer enrollment end to end on the production shape (daphne, Celery worker, Redis, MariaDB, DEBUG=0).

The Korean mock interview is streamed twice, at once (at twice real time), with the questions shown to the candidate
(a question note 0.3 s before each candidate turn, as a console with typed or on-screen questions sends them):
once plain, once with ``enroll_s`` covering the interviewer's first turn (the console's "enroll the
interviewer's voice" step). Each note is followed by the candidate's voice, so without enrollment the notes
outweigh "spoke first" and the candidate ends up as the interviewer; with it the roles stay right, live and
in the final pass, and the enrollment is stored on the interview.
"""

from __future__ import annotations

import asyncio
import json
import time

import pytest
from shareddata import manifest
from test_live_stack import role_accuracy, rows

from analysis.audio.preprocess import load_audio_file
from clients.python.interview_client import StreamLog, stream_audio

pytestmark = [pytest.mark.integration, pytest.mark.models]


@pytest.fixture(scope="module")
def enrolled_runs(live_stack, shared_data) -> dict:
    entry = next(e for e in manifest("interviews") if e["language"] == "ko")
    turns = json.loads((shared_data / "interviews" / entry["turns"]).read_text(encoding="utf-8"))
    audio, sr = load_audio_file(str(shared_data / "interviews" / entry["path"]))
    enroll_s = round(turns[0]["end"] + 0.3, 2)  # the interviewer's first turn, read before the candidate speaks
    shown = [(t["start"] - 0.3, {"type": "speaker_note", "text": f"질문 {i + 1}", "kind": "question"})
             for i, t in enumerate(t for t in turns if t["role"] == "candidate")]
    # twice real time: roles do not depend on the pace, and the suite stays short
    auth = {"get_ticket": live_stack["get_ticket"], "speed": 2.0}
    base = {"language": "ko", "consent": "1"}

    async def both() -> list[StreamLog]:
        return await asyncio.gather(
            stream_audio(live_stack["url"], audio[:, 0], sample_rate=sr, params=base, notes=shown, **auth),
            stream_audio(live_stack["url"], audio[:, 0], sample_rate=sr, params=base | {"enroll_s": str(enroll_s)},
                         notes=shown, **auth),
        )

    plain, enrolled = asyncio.run(both())
    return {"plain": plain, "enrolled": enrolled, "turns": turns, "enroll_s": enroll_s}


def _final_segments(db: str, session_id: str, timeout_s: float = 240.0) -> list[dict]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        found = rows(db, "SELECT i.final_segments, r.live_vs_final FROM interview_sessions_interview i JOIN "
                         "scoring_interviewreport r ON i.id = r.interview_id WHERE i.id=%s", session_id.replace("-", ""))
        if found and json.loads(found[0][1] or "{}"):
            return json.loads(found[0][0])
        time.sleep(2)
    raise AssertionError("the final pass stored no final segments")


def test_enrollment_keeps_roles_right_where_shown_questions_flip_them(enrolled_runs, live_stack) -> None:
    turns = enrolled_runs["turns"]
    plain, enrolled = enrolled_runs["plain"], enrolled_runs["enrolled"]
    plain_live = role_accuracy(plain.complete["segments"], turns)
    enrolled_live = role_accuracy(enrolled.complete["segments"], turns)
    plain_final = role_accuracy(_final_segments(live_stack["db"], plain.complete["session_id"]), turns)
    enrolled_final = role_accuracy(_final_segments(live_stack["db"], enrolled.complete["session_id"]), turns)
    print(f"\nroles live/final: plain {plain_live:.3f}/{plain_final:.3f}, enrolled {enrolled_live:.3f}/{enrolled_final:.3f}")
    assert min(plain_live, plain_final) < 0.5  # without enrollment the candidate became the interviewer
    assert enrolled_live >= 0.95 and enrolled_final >= 0.95
    assert not enrolled.of_type("role_correction")  # right from the first segment, nothing to correct


def test_enrolled_voice_is_the_interviewer_from_the_first_segment_and_stored(enrolled_runs, live_stack) -> None:
    session_id = enrolled_runs["enrolled"].complete["session_id"].replace("-", "")
    (enroll_s,), = rows(live_stack["db"], "SELECT enroll_s FROM interview_sessions_interview WHERE id=%s", session_id)
    assert enroll_s == pytest.approx(enrolled_runs["enroll_s"])
    stored = rows(live_stack["db"], "SELECT start, speaker, role, role_confidence FROM interview_sessions_segment "
                                    "WHERE interview_id=%s ORDER BY `index`", session_id)
    inside = [r for r in stored if r[0] < enrolled_runs["enroll_s"] - 1.0]
    assert inside and all(r[1:3] == ("S1", "interviewer") and r[3] >= 0.99 for r in inside)
    assert {r[2] for r in stored} == {"interviewer", "candidate"}
