"""A question set's rubric is checked when saved (API and admin); a bad stored one never stops scoring."""

from __future__ import annotations

import logging

import pytest
from _api_fixtures import client_for

from analysis.selectors import rubric_for
from analysis.models import QuestionSet
from scoring.rubric import Rubric
from scoring.rubric_check import rubric_error
from sessions.models import Interview

pytestmark = pytest.mark.django_db

BAD = [
    ({"weights": {"relevance": -1}}, "must be >= 0"),
    ({"weights": {"charisma": 1}}, "unknown rubric dimension"),
    ({"weights": {"relevance": "lots"}}, ""),
    ({"pause_ratio": [0.9, 0.1]}, "pause_ratio"),
    ({"targets": {"en": {"rate": "fast"}}}, ""),
]


@pytest.mark.parametrize(("rubric", "reason"), BAD)
def test_api_refuses_a_rubric_the_scorer_cannot_use(users, rubric, reason):
    response = client_for(users["owner"]).post(
        "/api/question-sets/", {"name": "Bad", "slug": "bad-rubric", "language": "en", "rubric": rubric}, format="json"
    )
    assert response.status_code == 400, response.content
    assert "rubric" in response.json() and reason in str(response.json()["rubric"])
    assert not QuestionSet.objects.filter(slug="bad-rubric").exists()


def test_api_accepts_a_good_rubric_and_the_empty_default(users):
    client = client_for(users["owner"])
    good = client.post("/api/question-sets/", {"name": "Good", "slug": "good", "language": "en",
                                               "rubric": {"weights": {"relevance": 0.5}}}, format="json")  # fmt: skip
    assert good.status_code == 201
    plain = client.post("/api/question-sets/", {"name": "Plain", "slug": "plain", "language": "en"}, format="json")
    assert plain.status_code == 201
    patch = client.patch(f"/api/question-sets/{good.json()['id']}/", {"rubric": {"weights": {"x": 1}}}, format="json")
    assert patch.status_code == 400
    assert QuestionSet.objects.get(slug="good").rubric == {"weights": {"relevance": 0.5}}


def test_admin_form_refuses_a_bad_rubric(admin_client):
    response = admin_client.post("/admin/analysis/questionset/add/", {
        "name": "Bad", "slug": "bad-admin", "language": "en", "rubric": '{"weights": {"relevance": -2}}',
        "questions-TOTAL_FORMS": "0", "questions-INITIAL_FORMS": "0",
    })  # fmt: skip
    assert response.status_code == 200
    assert "This rubric cannot be used" in response.content.decode()
    assert not QuestionSet.objects.filter(slug="bad-admin").exists()


def test_a_bad_stored_rubric_falls_back_to_the_default_and_says_so(caplog):
    stored = QuestionSet.objects.create(name="Old", slug="old-bad", language="en",
                                        rubric={"weights": {"relevance": [1, 2]}, "pause_ratio": "x"})  # fmt: skip
    interview = Interview.objects.create(language="en", question_set=stored)
    with caplog.at_level(logging.WARNING):
        rubric = rubric_for(interview)
    assert rubric == Rubric()
    assert f"question set {stored.pk} has an invalid rubric" in caplog.text


def test_rubric_error_is_none_for_usable_overrides():
    assert rubric_error({}) is None and rubric_error({"relevance": 1, "structure": 0}) is None
    assert rubric_error([1, 2]) and rubric_error("weights")


@pytest.mark.parametrize("body", [
    "[" * 100_000 + "]" * 100_000,
    '{"name": "\\ud800", "slug": "s1", "language": "en"}',
    '{"name": "x", "slug": "s2", "language": "en", "questions": [{"text": "q", "order": ' + "9" * 5000 + "}]}",
    '{"name": "x", "slug": "s3", "language": "en", "rubric": {"weights": {"relevance": 1e999}}}',
    '{"name": "x", "slug": "s4", "language": "en", "questions": [{"text": "q", "order": 1e400}]}',
])  # fmt: skip
def test_malformed_json_bodies_are_400_not_500(users, body):
    response = client_for(users["owner"]).generic("POST", "/api/question-sets/", body, content_type="application/json")
    assert response.status_code == 400, response.content[:200]
    assert not QuestionSet.objects.filter(slug__in=["s1", "s2", "s3", "s4"]).exists()
