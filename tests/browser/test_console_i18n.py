"""The interface language (docs/console.md): Korean and English console pages, the switch, the catalogues.

The interface language follows the visitor (the switch's cookie, else Accept-Language, else English) and is
independent of the interview's language: a Korean interview can be run from an English console and the
other way round.
"""

from __future__ import annotations

import gettext
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client

from sessions.models import Interview, Segment

pytestmark = pytest.mark.django_db

LOCALE = Path(settings.BASE_DIR) / "locale" / "ko" / "LC_MESSAGES"
TEMPLATES = [*(Path(settings.BASE_DIR) / "templates" / "console").glob("*.html"),
             Path(settings.BASE_DIR) / "scoring" / "templates" / "scoring" / "report.html"]


@pytest.fixture
def client(django_user_model: type, grant: object) -> Client:
    user = grant(django_user_model.objects.create_user("ivy", password="pw-ivy-123"), "interviewer")  # type: ignore[operator]
    logged_in = Client()
    logged_in.force_login(user)
    return logged_in


def _page(client: Client, path: str, accept: str, params: dict[str, str] | None = None) -> str:
    response = client.get(path, params or {}, HTTP_ACCEPT_LANGUAGE=accept)
    assert response.status_code == 200, response.status_code
    return response.content.decode()


def test_console_pages_follow_accept_language(client: Client) -> None:
    ko = _page(client, "/", "ko-KR,ko;q=0.9,en;q=0.5")
    assert '<html lang="ko">' in ko
    for text in ("면접 시작하기", "면접 언어", "질문 세트", "지원자가 녹음과 자동 분석에 동의합니다.", "로그아웃", "자동 감지"):
        assert text in ko, text
    assert "Start an interview" not in ko
    en = _page(client, "/", "en-US,en;q=0.9")
    assert '<html lang="en">' in en and "Start an interview" in en and "면접 시작하기" not in en
    # no preference, or one we do not offer: English
    assert '<html lang="en">' in _page(client, "/", "fr-FR")


def test_live_page_lang_is_the_interface_language_not_the_interview_language(client: Client) -> None:
    params = {"language": "ko", "channels": "1", "consent": "1", "question_set": "common-ko"}
    en = _page(client, "/interviews/live/", "en", params)
    assert '<html lang="en">' in en and "End interview" in en  # English UI for a Korean interview
    assert 'lang="ko"' in en  # the transcript itself is marked Korean for screen readers
    ko = _page(client, "/interviews/live/", "ko", {**params, "language": "en"})
    assert '<html lang="ko">' in ko and "면접 종료" in ko and "실시간 점수" in ko
    assert '<script src="/jsi18n/"></script>' in ko  # the JavaScript strings come from the same catalogues


def test_javascript_catalogue_has_the_live_page_strings(client: Client) -> None:
    ko = client.get("/jsi18n/", HTTP_ACCEPT_LANGUAGE="ko").content.decode()
    assert "\\uc5f0\\uacb0\\ub428" in ko or "연결됨" in ko  # "connected"
    en = client.get("/jsi18n/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "연결됨" not in en and "\\uc5f0\\uacb0\\ub428" not in en


def test_validation_errors_and_transcript_page_in_korean(client: Client) -> None:
    response = client.post("/interviews/live/", {"language": "en", "channels": "1"}, HTTP_ACCEPT_LANGUAGE="ko")
    assert response.status_code == 400
    assert "면접을 시작하려면 지원자가 녹음과 분석에 동의해야 합니다." in response.content.decode()
    interview = Interview.objects.create(language="en", status=Interview.Status.COMPLETED, consent=True,
                                         owner=response.wsgi_request.user)
    Segment.objects.create(interview=interview, index=0, start=0.0, end=2.0, text="Tell me about yourself.",
                           role="interviewer", speaker="S1", seq=1)
    html = _page(client, f"/interviews/{interview.id}/report/", "ko")
    assert '<html lang="ko">' in html and "면접 전사 기록" in html and "면접관" in html
    assert "<dd>완료</dd>" in html  # the status, too
    assert 'lang="en"' in html and "Tell me about yourself." in html  # the content keeps its language


def test_switch_sets_the_language_over_accept_language(client: Client) -> None:
    response = client.post("/i18n/setlang/", {"language": "ko", "next": "/"}, HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 302 and response["Location"] == "/"
    assert response.cookies[settings.LANGUAGE_COOKIE_NAME].value == "ko"
    html = _page(client, "/", "en")  # the cookie wins over the browser's preference
    assert '<html lang="ko">' in html and "면접 시작하기" in html
    assert '<option value="ko" lang="ko" selected>한국어</option>' in html
    client.post("/i18n/setlang/", {"language": "en", "next": "/"})
    assert "Start an interview" in _page(client, "/", "ko")
    # an unknown language changes nothing; a foreign `next` is not followed
    response = client.post("/i18n/setlang/", {"language": "xx", "next": "https://evil.example/"})
    assert response["Location"] == "/" and _page(client, "/", "ko").count("Start an interview") == 1


def test_login_and_admin_follow_the_language() -> None:
    anonymous = Client()
    html = anonymous.get("/accounts/login/", HTTP_ACCEPT_LANGUAGE="ko").content.decode()
    assert '<html lang="ko">' in html and "비밀번호" in html and "사용자 이름" in html
    admin = anonymous.get("/admin/login/", HTTP_ACCEPT_LANGUAGE="ko").content.decode()
    assert "로그인" in admin  # Django ships the admin's Korean


def _msgids(template: Path) -> set[str]:
    """The msgids of a template, as Django's makemessages extracts them."""
    from django.utils.translation import template as to_python

    source = to_python.templatize(template.read_text(encoding="utf-8"), origin=str(template))
    found = set()
    for call in re.finditer(r"\b(?:gettext|ngettext)\(u?'((?:[^'\\]|\\.)*)'", source):
        found.add(call.group(1).encode().decode("unicode_escape").encode("latin-1").decode("utf-8"))
    return found


def _catalogue(po: Path) -> dict[str, str]:
    """msgid -> msgstr (the first plural form) of a .po file, with a fuzzy mark counted as untranslated."""
    entries: dict[str, str] = {}
    for block in po.read_text(encoding="utf-8").split("\n\n"):
        if "#, fuzzy" in block and 'msgid ""\nmsgstr ""\n"Project' not in block:
            continue
        fields: dict[str, str] = {}
        key = None
        for line in block.splitlines():
            if line.startswith("#") or not line.strip():
                continue
            m = re.match(r'^(msgid|msgid_plural|msgstr|msgstr\[0\]|msgstr\[\d+\]) "(.*)"$', line)
            if m:
                key = m.group(1)
                fields[key] = m.group(2)
            elif key:
                fields[key] += line.strip()[1:-1]
        msgid = fields.get("msgid", "").encode().decode("unicode_escape").encode("latin-1").decode("utf-8")
        if msgid:
            entries[msgid] = fields.get("msgstr", fields.get("msgstr[0]", ""))
    return entries


@pytest.mark.parametrize("domain", ["django", "djangojs"])
def test_every_catalogue_entry_has_a_korean_translation(domain: str) -> None:
    catalogue = _catalogue(LOCALE / f"{domain}.po")
    assert catalogue
    untranslated = [msgid for msgid, msgstr in catalogue.items() if not msgstr]
    assert not untranslated, untranslated
    if domain == "django":  # every string marked in the console and report templates is in the catalogue
        marked = {m for t in TEMPLATES for m in _msgids(t)}
        assert len(marked) > 80 and "Start an interview" in marked and "Waiting for speech…" in marked
        missing = marked - set(catalogue)
        assert not missing, missing
    else:  # every gettext("…") in the console's modules
        used = set()
        for js in (Path(settings.BASE_DIR) / "static" / "console").glob("*.js"):
            used |= set(re.findall(r'\bgettext\("((?:[^"\\]|\\.)*)"\)', js.read_text(encoding="utf-8")))
        assert len(used) > 40 and "connected" in used
        missing = {u.replace('\\"', '"') for u in used} - set(catalogue)
        assert not missing, missing


@pytest.mark.parametrize("domain", ["django", "djangojs"])
def test_compiled_catalogues_match_the_po_files(domain: str, tmp_path: Path) -> None:
    """The .mo files are committed (the image and a bare `pytest` need no gettext); they must be current."""
    msgfmt = shutil.which("msgfmt")
    if msgfmt is None:
        pytest.skip("gettext is not installed (make system-deps)")
    fresh = tmp_path / f"{domain}.mo"
    subprocess.run([msgfmt, "--check-format", "-o", str(fresh), str(LOCALE / f"{domain}.po")], check=True)
    with open(LOCALE / f"{domain}.mo", "rb") as committed, open(fresh, "rb") as rebuilt:
        assert gettext.GNUTranslations(committed)._catalog == gettext.GNUTranslations(rebuilt)._catalog, (
            "run `make messages` (or manage.py compilemessages) and commit the .mo files")
