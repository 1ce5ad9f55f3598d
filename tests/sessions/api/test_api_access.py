"""Access matrix: every REST route × owner, other interviewer, interview admin ("staff"), reviewer, a staff
account without a role, anonymous; reads and writes.

The rule: a user reaches only their own interviews and question sets (others' answer 404, so their
existence is not even confirmed); reviewers read everything and change nothing; interview admins reach
everything; ``is_staff`` alone grants nothing; anonymous callers get 401.
"""

from __future__ import annotations

from typing import Any

import pytest
from _api_fixtures import client_for, make_interview

from analysis.models import QuestionSet
from sessions.models import Interview

pytestmark = pytest.mark.django_db

READ_ROUTES = [
    "/api/interviews/{id}/",
    "/api/interviews/{id}/transcript.json",
    "/api/interviews/{id}/transcript.srt",
    "/api/interviews/{id}/transcript.vtt",
    "/api/interviews/{id}/transcript.txt",
    "/api/interviews/{id}/diarization.rttm",
    "/api/interviews/{id}/report.json",
    "/api/interviews/{id}/report.html",
    "/api/interviews/{id}/audio",
]
EXPECTED = {"owner": 200, "other": 404, "staff": 200, "reviewer": 200, "bare_staff": 404, "anon": 401}
WHO = list(EXPECTED)


def _user(users: dict[str, Any], who: str) -> Any:
    return None if who == "anon" else users[who]


@pytest.mark.parametrize("route", READ_ROUTES)
@pytest.mark.parametrize("who", WHO)
def test_interview_reads(users, interviews, route, who):
    url = route.format(id=interviews["owner"].pk)
    response = client_for(_user(users, who)).get(url)
    assert response.status_code == EXPECTED[who], (url, who, response.status_code)
    if EXPECTED[who] != 200:
        body = response.json()
        assert set(body) >= {"detail", "code"}
        assert "candidate of owner" not in response.content.decode()


@pytest.mark.parametrize("who", WHO)
def test_interview_delete(users, interviews, who):
    target = interviews["owner"]
    response = client_for(_user(users, who)).delete(f"/api/interviews/{target.pk}/")
    expected = {"owner": 204, "other": 404, "staff": 204, "reviewer": 403, "bare_staff": 404, "anon": 401}[who]
    assert response.status_code == expected
    assert Interview.objects.filter(pk=target.pk).exists() is (expected != 204)
    assert Interview.objects.filter(pk=interviews["other"].pk).exists()  # never someone else's


@pytest.mark.parametrize("method", ["put", "patch", "post"])
def test_interviews_cannot_be_written_through_the_api(users, interviews, method):
    target = interviews["owner"]
    response = getattr(client_for(users["owner"]), method)(f"/api/interviews/{target.pk}/", {"status": "failed"},
                                                           format="json")  # fmt: skip
    assert response.status_code == 405
    target.refresh_from_db()
    assert target.status == Interview.Status.COMPLETED


def test_list_shows_only_own_interviews_and_all_to_staff(users, interviews):
    ids = {who: str(i.pk) for who, i in interviews.items()}
    for who, expected in [("owner", {ids["owner"]}), ("other", {ids["other"]}), ("staff", set(ids.values())),
                          ("reviewer", set(ids.values())), ("bare_staff", set())]:  # fmt: skip
        body = client_for(users[who]).get("/api/interviews/").json()
        assert {row["id"] for row in body["results"]} == expected
        assert body["count"] == len(expected)
    assert client_for(None).get("/api/interviews/").status_code == 401


def test_session_cookie_auth_follows_the_same_rules(users, interviews):
    client = client_for(users["other"], token=False)
    assert client.get(f"/api/interviews/{interviews['other'].pk}/transcript.txt").status_code == 200
    assert client.get(f"/api/interviews/{interviews['owner'].pk}/transcript.txt").status_code == 404
    assert client.get(f"/api/interviews/{interviews['owner'].pk}/audio").status_code == 404


def test_unknown_and_malformed_ids_are_404(users, interviews):
    client = client_for(users["staff"])
    assert client.get("/api/interviews/00000000-0000-4000-8000-000000000000/report.json").status_code == 404
    assert client.get("/api/interviews/------------------------------------/").status_code == 404


# --- question sets -------------------------------------------------------------------------------------------
@pytest.fixture
def own_set(users):
    return QuestionSet.objects.create(name="Backend", slug="owner-backend", language="en", owner=users["owner"])


@pytest.fixture
def shared_set():
    shared = QuestionSet.objects.filter(owner__isnull=True).first()
    return shared or QuestionSet.objects.create(name="Shared", slug="shared-x", language="ko")


@pytest.mark.parametrize("who", WHO)
def test_question_set_matrix(users, own_set, shared_set, who):
    client = client_for(_user(users, who))
    own_url, shared_url = f"/api/question-sets/{own_set.pk}/", f"/api/question-sets/{shared_set.pk}/"
    read_own = {"owner": 200, "other": 404, "staff": 200, "reviewer": 200, "bare_staff": 404, "anon": 401}[who]
    write_own = {"owner": 200, "other": 404, "staff": 200, "reviewer": 403, "bare_staff": 404, "anon": 401}[who]
    read_shared = {"owner": 200, "other": 200, "staff": 200, "reviewer": 200, "bare_staff": 200, "anon": 401}[who]
    write_shared = {"owner": 403, "other": 403, "staff": 200, "reviewer": 403, "bare_staff": 403, "anon": 401}[who]
    assert client.get(own_url).status_code == read_own
    assert client.patch(own_url, {"name": f"renamed by {who}"}, format="json").status_code == write_own
    assert client.get(shared_url).status_code == read_shared
    assert client.patch(shared_url, {"name": f"shared by {who}"}, format="json").status_code == write_shared
    own_set.refresh_from_db()
    shared_set.refresh_from_db()
    assert (own_set.name == f"renamed by {who}") is (write_own == 200)
    assert (shared_set.name == f"shared by {who}") is (write_shared == 200)
    delete = client.delete(own_url).status_code
    assert delete == {"owner": 204, "other": 404, "staff": 204, "reviewer": 403, "bare_staff": 404, "anon": 401}[who]


@pytest.mark.parametrize("who", WHO)
def test_creating_a_question_set_needs_the_permission(users, who):
    response = client_for(_user(users, who)).post("/api/question-sets/", {"name": "Mine", "slug": f"mine-{who}",
                                                                          "language": "en"}, format="json")  # fmt: skip
    expected = {"owner": 201, "other": 201, "staff": 201, "reviewer": 403, "bare_staff": 403, "anon": 401}[who]
    assert response.status_code == expected


def test_question_set_list_hides_other_users_sets(users, own_set, shared_set):
    names = {s["slug"] for s in client_for(users["other"]).get("/api/question-sets/").json()}
    assert own_set.slug not in names and shared_set.slug in names
    assert own_set.slug in {s["slug"] for s in client_for(users["staff"]).get("/api/question-sets/").json()}


@pytest.mark.parametrize("who", WHO)
def test_ws_ticket_needs_the_interviewer_role(users, who):
    """A ticket opens the interview socket: only for people who may run interviews."""
    response = client_for(_user(users, who)).post("/api/ws-tickets/")
    expected = {"owner": 201, "other": 201, "staff": 201, "reviewer": 403, "bare_staff": 403, "anon": 401}[who]
    assert response.status_code == expected


def test_other_users_cannot_reach_a_second_interview_of_the_owner_either(users, interviews):
    second = make_interview(users["owner"], with_audio=False, with_report=False)
    for route in READ_ROUTES:
        assert client_for(users["other"]).get(route.format(id=second.pk)).status_code == 404
