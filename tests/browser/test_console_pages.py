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
    response = client.get("/interviews/live/", {"language": "en", "channels": "1"})
    assert response.status_code == 400
    assert "must agree to recording" in response.content.decode()
    assert Interview.objects.count() == 0


def test_live_page_rejects_unknown_question_sets_and_languages(client: Client) -> None:
    assert client.get("/interviews/live/", {"language": "fr", "channels": "1", "consent": "1"}).status_code == 400
    response = client.get("/interviews/live/", {"language": "en", "question_set": "nope", "channels": "1", "consent": "1"})
    assert response.status_code == 400 and "Unknown question set" in response.content.decode()


def test_live_page_passes_the_socket_parameters_and_questions(client: Client) -> None:
    qs = QuestionSet.objects.get(slug="common-en")
    response = client.get("/interviews/live/", {"language": "en", "question_set": "common-en", "candidate": "Ada <b>",
                                                 "channels": "2", "consent": "on"})
    assert response.status_code == 200
    html = response.content.decode()
    config = _config(html)
    assert config["params"] == {"language": "en", "sample_rate": "16000", "channels": "2", "consent": "1",
                                "question_set": "common-en", "candidate": "Ada <b>"}
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


def test_report_access(client: Client, interview: Interview, django_user_model: type, no_report_html: None) -> None:
    owner = django_user_model.objects.create_user("owner", password="x")
    other = django_user_model.objects.create_user("other", password="x")
    Interview.objects.filter(pk=interview.pk).update(owner=owner)
    url = f"/interviews/{interview.pk}/report/"
    assert client.get(url).status_code == 404  # anonymous
    client.force_login(other)
    assert client.get(url).status_code == 404
    client.force_login(owner)
    assert client.get(url).status_code == 200
    assert client.get("/interviews/00000000-0000-0000-0000-000000000000/report/").status_code == 404
    client.logout()
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
