"""WebSocket tickets (one-time, 60 s, digest-keyed, throttled) and question sets with nested questions."""

from __future__ import annotations

import logging
import time

import pytest
from _api_fixtures import client_for

from analysis.models import QuestionSet
from sessions import state
from sessions.tickets import ticket_consume, ticket_issue, ticket_key

pytestmark = pytest.mark.django_db


def test_ticket_issue_shape_and_single_use(users, caplog):
    caplog.set_level(logging.DEBUG)
    response = client_for(users["owner"]).post("/api/ws-tickets/")
    body = response.json()
    assert response.status_code == 201 and body["expires_in"] == 60 and response["Cache-Control"] == "no-store"
    assert body["ws_url"] == f"/ws/interviews/?ticket={body['ticket']}" and len(body["ticket"]) >= 32
    client = state.sync_client()
    assert client.get(body["ticket"]) is None and client.exists(ticket_key(body["ticket"]))  # digest, not ticket
    assert 0 < client.ttl(ticket_key(body["ticket"])) <= 60
    assert ticket_consume(ticket=body["ticket"]) == users["owner"].pk
    assert ticket_consume(ticket=body["ticket"]) is None  # used once
    assert body["ticket"] not in caplog.text


def test_expired_ticket_is_refused(users):
    issued = ticket_issue(user_id=users["owner"].pk)
    state.sync_client().pexpire(ticket_key(issued.ticket), 1)
    time.sleep(0.01)
    assert ticket_consume(ticket=issued.ticket) is None


def test_ticket_issuance_is_throttled_per_user(users, settings):
    rf = dict(settings.REST_FRAMEWORK)
    rf["DEFAULT_THROTTLE_RATES"] = {**rf["DEFAULT_THROTTLE_RATES"], "ws_ticket": "3/min"}
    settings.REST_FRAMEWORK = rf
    owner = client_for(users["owner"])
    codes = [owner.post("/api/ws-tickets/").status_code for _ in range(4)]
    assert codes == [201, 201, 201, 429]
    assert owner.post("/api/ws-tickets/").json()["code"] == "throttled"
    assert client_for(users["other"]).post("/api/ws-tickets/").status_code == 201  # counted per user
    assert owner.get("/api/question-sets/").status_code == 200  # only issuance is this strict


def test_question_set_crud_with_nested_questions(users):
    client = client_for(users["owner"])
    created = client.post("/api/question-sets/", {
        "name": "Backend (ko)", "slug": "backend-ko", "language": "ko",
        "questions": [{"order": 1, "text": "자기소개 부탁드립니다.", "expected_keywords": ["경험"]},
                      {"order": 0, "text": "왜 지원하셨나요?", "competency": "motivation"}],
    }, format="json")  # fmt: skip
    assert created.status_code == 201, created.json()
    body = created.json()
    assert body["owner"] == users["owner"].pk and body["is_shared"] is False
    assert [q["text"] for q in body["questions"]] == ["왜 지원하셨나요?", "자기소개 부탁드립니다."]
    url = f"/api/question-sets/{body['id']}/"
    replaced = client.patch(url, {"questions": [{"text": "Only one now"}]}, format="json").json()
    assert [q["text"] for q in replaced["questions"]] == ["Only one now"]
    assert QuestionSet.objects.get(pk=body["id"]).questions.count() == 1
    renamed = client.patch(url, {"name": "Renamed"}, format="json").json()
    assert renamed["name"] == "Renamed" and len(renamed["questions"]) == 1  # questions kept when not sent
    duplicate = client.post("/api/question-sets/", {"name": "x", "slug": "backend-ko", "language": "ko"}, format="json")
    assert duplicate.status_code == 400 and "slug" in duplicate.json()
    bad = client.post("/api/question-sets/", {"name": "x", "slug": "y", "language": "fr", "rubric": [1]}, format="json")
    assert bad.status_code == 400 and {"language", "rubric"} <= set(bad.json())
    assert client.delete(url).status_code == 204 and not QuestionSet.objects.filter(pk=body["id"]).exists()


def test_interview_list_filters_ordering_and_pagination(users, interviews):
    from datetime import timedelta

    from django.utils import timezone

    from sessions.models import Interview

    old = interviews["owner"]
    Interview.objects.filter(pk=old.pk).update(started_at=timezone.now() - timedelta(days=10), language="ko")
    type(old.report).objects.filter(interview=old).update(overall=64.0)
    from _api_fixtures import make_interview

    new = make_interview(users["owner"], with_audio=False, with_report=False)
    client = client_for(users["owner"])
    assert [r["id"] for r in client.get("/api/interviews/").json()["results"]] == [str(new.pk), str(old.pk)]
    assert [r["id"] for r in client.get("/api/interviews/?ordering=started_at").json()["results"]][0] == str(old.pk)
    assert [r["id"] for r in client.get("/api/interviews/?language=ko").json()["results"]] == [str(old.pk)]
    today = timezone.now().date().isoformat()
    assert [r["id"] for r in client.get(f"/api/interviews/?started_from={today}").json()["results"]] == [str(new.pk)]
    week_ago = (timezone.now() - timedelta(days=7)).date().isoformat()
    assert [r["id"] for r in client.get(f"/api/interviews/?started_to={week_ago}").json()["results"]] == [str(old.pk)]
    assert client.get("/api/interviews/?status=nonsense").status_code == 400
    assert client.get(f"/api/interviews/?started_from={today}&started_to={week_ago}").status_code == 400
    page = client.get("/api/interviews/?page_size=1&page=2").json()
    assert page["count"] == 2 and [r["id"] for r in page["results"]] == [str(old.pk)]
    listed = client.get("/api/interviews/?status=completed&ordering=-started_at").json()["results"]
    assert listed[1]["overall_score"] == 64.0 and listed[0]["overall_score"] is None
