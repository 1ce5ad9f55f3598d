"""The console's Django views through the test client: validation, configuration, report fallback, assets."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from django.test import Client, override_settings

from analysis.models import QuestionSet
from sessions import console
from sessions.models import Interview, Note, Segment

pytestmark = pytest.mark.django_db


@pytest.fixture
def interviewer(django_user_model: type, grant: object) -> object:
    return grant(django_user_model.objects.create_user("ivy", password="pw-ivy-123"), "interviewer")  # type: ignore[operator]


@pytest.fixture
def client(interviewer: object) -> Client:
    """A logged-in interviewer: outside DEBUG the console pages need a login (tests below cover that)."""
    logged_in = Client()
    logged_in.force_login(interviewer)  # type: ignore[arg-type]
    return logged_in


def _config(html: str) -> dict:
    start = html.index('<script id="console-config" type="application/json">') + len(
        '<script id="console-config" type="application/json">'
    )
    return json.loads(html[start : html.index("</script>", start)])


def test_start_page_lists_the_seeded_question_sets_and_requires_consent(client: Client) -> None:
    html = client.get("/").content.decode()
    for qs in QuestionSet.objects.prefetch_related("questions"):
        assert f'value="{qs.slug}"' in html
        assert qs.questions.first().text in html  # the questions themselves are previewed
    assert 'name="consent"' in html and "required" in html
    assert 'name="channels" value="2"' in html


def test_live_page_refuses_to_start_without_consent(client: Client) -> None:
    response = client.post("/interviews/live/", {"language": "en", "channels": "1"})
    assert response.status_code == 400
    assert "must agree to recording" in response.content.decode()
    assert Interview.objects.count() == 0


def test_live_page_rejects_unknown_question_sets_and_languages(client: Client) -> None:
    assert client.get("/interviews/live/", {"language": "fr", "channels": "1", "consent": "1"}).status_code == 400
    response = client.get("/interviews/live/", {"language": "en", "question_set": "nope", "channels": "1", "consent": "1"})
    assert response.status_code == 400 and "Unknown question set" in response.content.decode()


def test_practice_is_a_choice_on_the_start_page_and_goes_to_the_socket(client: Client) -> None:
    start = client.get("/").content.decode()
    assert 'name="mode" value="practice"' in start and 'name="mode" value="interview"' in start
    response = client.get("/interviews/live/", {"language": "ko", "question_set": "common-ko", "channels": "2",
                                                 "mode": "practice", "consent": "1"})
    assert response.status_code == 200
    html = response.content.decode()
    config = _config(html)
    assert config["params"]["mode"] == "practice" and config["params"]["channels"] == "1"  # one person, one mic
    assert config["questions"]  # shown on screen one by one
    assert "End practice" in html and "Next question" in html
    bad = client.get("/interviews/live/", {"language": "en", "channels": "1", "mode": "solo", "consent": "1"})
    assert bad.status_code == 400


def test_interviewer_enrollment_is_a_choice_on_the_start_page_and_goes_to_the_socket(client: Client) -> None:
    start = client.get("/").content.decode()
    assert 'name="enroll"' in start and "Enroll the interviewer's voice first" in start
    response = client.get("/interviews/live/", {"language": "ko", "channels": "1", "enroll": "1", "consent": "1"})
    html = response.content.decode()
    assert response.status_code == 200 and _config(html)["params"]["enroll_s"] == "10"
    assert 'id="enroll-banner"' in html and 'id="enroll-prompt"' in html
    # not asked for, practice (no interviewer) or two channels (the channel says who is who): no enrollment
    for params in ({"channels": "1"}, {"channels": "1", "mode": "practice", "enroll": "1"},
                   {"channels": "2", "enroll": "1"}):
        html = client.get("/interviews/live/", {"language": "en", "consent": "1"} | params).content.decode()
        assert _config(html)["params"]["enroll_s"] == "0" and 'id="enroll-banner"' not in html


def test_live_page_passes_the_socket_parameters_and_questions(client: Client) -> None:
    qs = QuestionSet.objects.get(slug="common-en")
    response = client.post("/interviews/live/", {"language": "en", "question_set": "common-en", "candidate": "Ada <b>",
                                                  "channels": "2", "consent": "on"})
    assert response.status_code == 200
    html = response.content.decode()
    config = _config(html)
    # the socket's URL parameters: no name (URLs end up in logs); the page sends it in session_info
    assert config["params"] == {"language": "en", "sample_rate": "16000", "channels": "2", "consent": "1",
                                "question_set": "common-en", "mode": "interview", "enroll_s": "0"}
    assert config["candidate"] == "Ada <b>"
    assert config["questions"] == [q.text for q in qs.questions.all()]
    assert config["report_url_template"] == "/interviews/00000000-0000-0000-0000-000000000000/report/"
    assert 20 <= config["chunk_ms"] <= 2000
    assert "Ada <b>" not in html  # escaped in the page, kept verbatim in the JSON
    assert 'id="level-1"' in html and 'id="tab-button"' in html  # two-channel capture UI


@pytest.fixture
def interview() -> Interview:
    interview = Interview.objects.create(language="en", candidate_name="Grace", status=Interview.Status.COMPLETED,
                                         duration_s=12.5)
    Segment.objects.create(interview=interview, index=0, start=0.5, end=3.0, text="Tell me about yourself.",
                           role="interviewer", speaker="0", seq=10)
    Segment.objects.create(interview=interview, index=1, start=3.5, end=9.0, text="I build <speech> systems.",
                           role="candidate", speaker="1", seq=40)
    Segment.objects.create(interview=interview, index=2, start=9.5, end=11.0, text="Mm-hmm.", role="unknown", seq=55)
    Note.objects.create(interview=interview, at=0.4, text="Tell me about yourself.", kind="question", speaker="interviewer")
    return interview


@pytest.fixture
def no_report_html(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The report page as it is before a report is stored: no scored report to render."""
    monkeypatch.setattr(console, "report_html", lambda interview: None)
    yield


@pytest.fixture
def debug(settings: pytest.FixtureRequest) -> None:
    """Anonymous interviews (no owner) exist only in DEBUG; the test runner turns DEBUG off."""
    settings.DEBUG = True  # type: ignore[attr-defined]


def test_report_falls_back_to_the_stored_transcript_with_roles(client: Client, interview: Interview,
                                                               no_report_html: None, debug: None) -> None:
    html = client.get(f"/interviews/{interview.pk}/report/").content.decode()
    assert html.index("Tell me about yourself.") < html.index("I build &lt;speech&gt; systems.") < html.index("Mm-hmm.")
    assert 'class="seg role-interviewer"' in html and 'class="seg role-candidate"' in html
    assert 'class="seg role-unknown"' in html
    assert 'class="note-row"' in html  # the question asked, placed in time order
    assert "Grace" in html and "3 (9 words)" in html


def test_report_uses_scoring_report_html_when_it_renders(client: Client, interview: Interview,
                                                         monkeypatch: pytest.MonkeyPatch, debug: None) -> None:
    seen: list[Interview] = []

    def report_html(target: Interview) -> str | None:
        seen.append(target)
        return "<!DOCTYPE html><title>scored</title><p>the scored report</p>"

    monkeypatch.setattr(console, "report_html", report_html)
    response = client.get(f"/interviews/{interview.pk}/report/")
    assert response.content.decode().endswith("<p>the scored report</p>")
    assert [i.pk for i in seen] == [interview.pk]

    monkeypatch.setattr(console, "report_html", lambda target: None)
    assert 'class="seg role-candidate"' in client.get(f"/interviews/{interview.pk}/report/").content.decode()


def test_report_of_an_interview_still_running_refreshes_itself(client: Client, no_report_html: None,
                                                              debug: None) -> None:
    live = Interview.objects.create(language="en")
    html = client.get(f"/interviews/{live.pk}/report/").content.decode()
    assert 'http-equiv="refresh"' in html and "No transcript" in html


def test_report_access(interview: Interview, django_user_model: type, no_report_html: None, grant: object) -> None:
    client = Client()
    owner = django_user_model.objects.create_user("owner", password="x")
    other = django_user_model.objects.create_user("other", password="x")
    bare_staff = django_user_model.objects.create_user("bare", password="x", is_staff=True)
    reviewer = grant(django_user_model.objects.create_user("rev", password="x"), "reviewer")  # type: ignore[operator]
    Interview.objects.filter(pk=interview.pk).update(owner=owner)
    url = f"/interviews/{interview.pk}/report/"
    anonymous = client.get(url)  # outside DEBUG: to the login page, and back afterwards
    assert anonymous.status_code == 302 and anonymous["Location"] == f"/accounts/login/?next={url}"
    for someone_else in (other, bare_staff):
        client.force_login(someone_else)
        assert client.get(url).status_code == 404
    client.force_login(reviewer)
    assert client.get(url).status_code == 200
    client.force_login(owner)
    assert client.get(url).status_code == 200
    assert client.get("/interviews/00000000-0000-0000-0000-000000000000/report/").status_code == 404
    Interview.objects.filter(pk=interview.pk).update(owner=None)
    with override_settings(DEBUG=False):
        assert client.get(url).status_code == 404  # anonymous interviews exist only for DEBUG demos


def test_console_assets_are_served_as_javascript_and_confined_to_their_folder() -> None:
    client = Client(raise_request_exception=False)
    response = client.get("/static/console/pcm-worklet.js")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/javascript")
    assert b"registerProcessor" in b"".join(response.streaming_content)
    assert client.get("/static/console/../../manage.py").status_code in (400, 404)
    assert client.get("/static/console/%2e%2e/%2e%2e/manage.py").status_code in (400, 404)
    assert client.get("/static/console/missing.js").status_code == 404


# --- logins, roles and private question sets --------------------------------------------------------------
def test_console_pages_send_anonymous_visitors_to_the_login_page_outside_debug() -> None:
    anonymous = Client()
    for url in ("/", "/interviews/live/?language=en&channels=1&consent=1"):
        response = anonymous.get(url)
        assert response.status_code == 302 and response["Location"].startswith("/accounts/login/?next=")
    page = anonymous.get("/accounts/login/")
    assert page.status_code == 200 and 'name="username"' in page.content.decode()


def test_debug_keeps_the_console_open_for_the_laptop_demo(settings: object) -> None:
    settings.DEBUG = True  # type: ignore[attr-defined]
    html = Client().get("/").content.decode()
    assert 'id="start-form"' in html and 'id="login-link"' in html
    config = _config(Client().get("/interviews/live/", {"language": "en", "channels": "1", "consent": "1"}).content.decode())
    assert config["ticket_url"] == ""  # anonymous demo: no ticket to ask for


def test_login_and_logout_for_a_non_staff_interviewer(interviewer: object) -> None:
    browser = Client(enforce_csrf_checks=True)
    form = browser.get("/accounts/login/?next=/")
    token = form.cookies["csrftoken"].value
    response = browser.post("/accounts/login/", {"username": "ivy", "password": "pw-ivy-123", "next": "/",
                                                 "csrfmiddlewaretoken": token})  # fmt: skip
    assert response.status_code == 302 and response["Location"] == "/"
    html = browser.get("/").content.decode()
    assert 'id="logout-button"' in html and "ivy" in html
    wrong = Client().post("/accounts/login/", {"username": "ivy", "password": "nope"})
    assert wrong.status_code == 200 and "did not match" in wrong.content.decode()
    token = browser.cookies["csrftoken"].value
    assert browser.post("/accounts/logout/", {"csrfmiddlewaretoken": token}).status_code == 302
    assert browser.get("/").status_code == 302


def test_accounts_without_the_interviewer_role_get_a_clear_403(django_user_model: type, grant: object) -> None:
    client = Client()
    client.force_login(django_user_model.objects.create_user("bare", is_staff=True))
    response = client.get("/")
    assert response.status_code == 403 and "interviewer" in response.content.decode()
    client.force_login(grant(django_user_model.objects.create_user("rev"), "reviewer"))  # type: ignore[operator]
    assert client.get("/interviews/live/", {"language": "en", "channels": "1", "consent": "1"}).status_code == 403


def test_private_question_sets_stay_private_on_the_console(client: Client, interviewer: object,
                                                           django_user_model: type) -> None:
    stranger = django_user_model.objects.create_user("stranger")
    secret = QuestionSet.objects.create(name="Secret", slug="stranger-secret", language="en", owner=stranger)
    secret.questions.create(order=0, text="The secret question", expected_keywords=["answer-key-word"])
    mine = QuestionSet.objects.create(name="Mine", slug="ivy-own", language="en", owner=interviewer)
    mine.questions.create(order=0, text="My own question")
    html = client.get("/").content.decode()
    assert "stranger-secret" not in html and "The secret question" not in html and "answer-key-word" not in html
    assert "ivy-own" in html and "My own question" in html
    response = client.get("/interviews/live/", {"language": "en", "question_set": "stranger-secret", "channels": "1",
                                                "consent": "1"})  # fmt: skip
    assert response.status_code == 400 and "Unknown question set" in response.content.decode()
    config = _config(client.get("/interviews/live/", {"language": "en", "question_set": "ivy-own", "channels": "1",
                                                      "consent": "1"}).content.decode())  # fmt: skip
    assert config["questions"] == ["My own question"]
    assert config["ticket_url"] == "/api/ws-tickets/" and config["csrf_token"]


def test_the_candidate_name_never_goes_in_a_url(client: Client) -> None:
    html = client.get("/").content.decode()
    assert '<form method="post" action="/interviews/live/" id="start-form">' in html
    old_style = client.get("/interviews/live/", {"language": "en", "channels": "1", "consent": "1", "candidate": "Eve"})
    assert old_style.status_code == 200 and _config(old_style.content.decode())["candidate"] == ""
