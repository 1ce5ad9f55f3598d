"""The admin review pages render the real mock interview: list with score, change page with coloured
transcript, audio player through the API route, answers and notes; export and re-run actions.
"""

from __future__ import annotations

import json

import pytest

pytestmark = pytest.mark.django_db
CHANGELIST = "/admin/interview_sessions/interview/"


def test_changelist_filters_and_transcript_search(admin_client, interviews):
    interview = interviews["owner"]
    page = admin_client.get(CHANGELIST).content.decode()
    assert interview.candidate_name in page and "status__exact" in page and "language__exact" in page
    word = interview.segments.get(index=1).text.split()[3]
    found = admin_client.get(CHANGELIST, {"q": word}).content.decode()
    assert interview.candidate_name in found and interviews["other"].candidate_name in found  # same mock text
    assert "candidate of" not in admin_client.get(CHANGELIST, {"q": "zzzz-no-such-word"}).content.decode()


def test_change_page_shows_transcript_audio_answers_notes(admin_client, interviews):
    interview = interviews["owner"]
    page = admin_client.get(f"{CHANGELIST}{interview.pk}/change/").content.decode()
    assert f'src="/api/interviews/{interview.pk}/audio"' in page
    assert "color:#1f5fa8" in page and "color:#1d7a3a" in page  # interviewer and candidate colours
    assert "Pace was comfortable." in page and "asked for clarification" in page
    assert admin_client.get(f"/api/interviews/{interview.pk}/audio", HTTP_RANGE="bytes=0-3").status_code == 206


def test_export_action_returns_everything_as_json(admin_client, interviews):
    interview = interviews["owner"]
    response = admin_client.post(CHANGELIST, {"action": "export_json", "_selected_action": [str(interview.pk)]})
    body = json.loads(response.content)
    [exported] = body["interviews"]
    assert exported["id"] == str(interview.pk) and len(exported["segments"]) == interview.segments.count()
    assert exported["notes"][0]["text"] == "asked for clarification" and exported["report"]["interview"]


def test_rerun_final_pass_action(admin_client, interviews, monkeypatch):
    from analysis import tasks

    calls: list[str] = []
    monkeypatch.setattr(tasks, "enqueue_final_pass", calls.append)
    response = admin_client.post(CHANGELIST, {"action": "rerun_final_pass",
                                              "_selected_action": [str(interviews["owner"].pk)]}, follow=True)  # fmt: skip
    assert calls == [str(interviews["owner"].pk)]
    assert "Final pass queued for 1 interview" in response.content.decode()


def test_question_set_admin_edits_questions_inline(admin_client):
    page = admin_client.get("/admin/analysis/questionset/add/").content.decode()
    assert "questions-TOTAL_FORMS" in page
