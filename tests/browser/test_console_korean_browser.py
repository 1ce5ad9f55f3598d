"""The console in Korean, in Chromium, on the production shape (DEBUG=0, WhiteNoise, a login).

A Korean recruiter's browser (locale ko-KR, so Accept-Language: ko-KR) gets the login page, the start page and
the live page in Korean, including the strings that the live page's JavaScript writes (the connection state
comes from /jsi18n/); every asset loads (any response of 400 or more fails the test). The top bar's switch
turns the interface to English without touching the interview's language. Screenshots: test-output/.
"""

from __future__ import annotations

import wave
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from servers import ACCOUNTS, serve
from test_static_and_login_browser import watch

pytestmark = [pytest.mark.browser]


@pytest.fixture(scope="module")
def production_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with serve(tmp_path_factory.mktemp("server-ko"), debug=False, log_name="server-ko.log") as base:
        yield base


@pytest.fixture(scope="module")
def silence(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("audio") / "silence.wav"
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(16000)
        out.writeframes(b"\x00\x00" * 16000 * 20)
    return path


def test_console_in_korean(production_server: str, chromium_for: Any, silence: Path, output_dir: Path) -> None:
    base = production_server
    browser = chromium_for(silence)
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="ko-KR")
    page = context.new_page()
    problems = watch(page, base)

    page.goto(f"{base}/")
    page.wait_for_url("**/accounts/login/?next=/")
    assert page.get_attribute("html", "lang") == "ko"
    assert page.inner_text("#login-title") == "로그인"
    assert page.inner_text("label[for=id_password]") == "비밀번호"
    page.fill("#id_username", "ivy")
    page.fill("#id_password", ACCOUNTS["ivy"])
    page.click("#login-button")
    page.wait_for_url(f"{base}/")

    assert page.inner_text("#start-title") == "면접 시작하기"
    assert page.inner_text("label[for=id_language]") == "면접 언어"
    assert page.inner_text("#start-button") == "면접 시작"
    assert page.input_value("#interface-language") == "ko"
    page.screenshot(path=str(output_dir / "console-start-ko.png"), full_page=True)

    # a Korean interface running an English interview: the two languages are independent
    page.select_option("#id_language", "en")
    page.check("#id_consent")
    page.click("#start-button")
    page.wait_for_url("**/interviews/live/**")
    assert page.get_attribute("html", "lang") == "ko"
    assert page.get_attribute("#transcript", "lang") == "en"
    assert page.inner_text("#scores-title") == "실시간 점수"
    assert page.inner_text("#end-button") == "면접 종료"
    page.wait_for_function("window.__console && window.__console.state === 'connected'", timeout=60_000)
    page.wait_for_function("document.getElementById('conn-label').textContent === '연결됨'", timeout=10_000)
    page.screenshot(path=str(output_dir / "console-live-ko.png"))

    # the switch: English interface, same page, the interview's language untouched
    page.select_option("#interface-language", "en")
    page.click("#language-button")
    page.wait_for_load_state()
    page.goto(f"{base}/")
    assert page.get_attribute("html", "lang") == "en"
    assert page.inner_text("#start-title") == "Start an interview"
    page.select_option("#interface-language", "ko")
    page.click("#language-button")
    page.wait_for_selector("#start-title:has-text('면접 시작하기')")
    context.close()
    assert problems == [], problems
