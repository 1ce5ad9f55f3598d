"""Static files and logins in Chromium, in both modes (`make run`'s DEBUG and the production shape).

What a new user and an operator see first: the admin must be styled, Swagger UI and Redoc must render
from local files (no CDN), and every asset must load: any response of 400 or more fails the test. In the
production shape a non-staff interviewer logs in on the console's own login page, starts an interview (the
page asks for a one-time WebSocket ticket), survives a dropped socket (a fresh ticket for the resume) and
logs out. Screenshots go to test-output/ (look at them: they show whether the pages are styled).
"""

from __future__ import annotations

import wave
from pathlib import Path
from typing import Any

import pytest
from servers import ACCOUNTS

pytestmark = [pytest.mark.browser]


def watch(page: Any, base: str) -> list[str]:
    """Every response of 400 or more, every failed request, every response from another host (the pages
    must work offline), and every script error. Requests that the page's own Content-Security-Policy
    refuses before they leave (Redoc's CDN logo) are not failures: nothing was asked of the network."""
    problems: list[str] = []

    def on_response(response: Any) -> None:
        if response.status >= 400:
            problems.append(f"HTTP {response.status} {response.url}")
        if not response.url.startswith((base, "data:", "blob:")):
            problems.append(f"loaded from another host: {response.url}")

    page.on("response", on_response)
    page.on("requestfailed", lambda r: problems.append(f"failed {r.url}: {r.failure}") if r.failure != "csp" else None)
    page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
    return problems


@pytest.fixture(scope="module")
def silence_wav(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("audio") / "silence.wav"
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(16000)
        out.writeframes(b"\x00\x00" * 16000 * 30)
    return path


def test_admin_and_api_docs_are_styled_and_load_every_asset(any_mode_server: tuple[str, str], chromium_for: Any,
                                                            silence_wav: Path, output_dir: Path) -> None:
    mode, base = any_mode_server
    browser = chromium_for(silence_wav)
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    problems = watch(page, base)

    page.goto(f"{base}/admin/login/?next=/admin/")
    page.fill("#id_username", "admin")
    page.fill("#id_password", ACCOUNTS["admin"])
    page.click("input[type=submit]")
    page.wait_for_url(f"{base}/admin/")
    # Styled: the admin's stylesheet gives the header a colour and the body its font (bare HTML has neither).
    header_bg = page.evaluate("getComputedStyle(document.querySelector('#header')).backgroundColor")
    assert header_bg not in ("rgba(0, 0, 0, 0)", "transparent"), header_bg
    assert page.locator("text=Interview sessions").count() or page.locator("text=Interviews").count()
    page.screenshot(path=str(output_dir / f"admin-{mode}.png"), full_page=True)
    page.goto(f"{base}/admin/interview_sessions/interview/")
    page.wait_for_selector("#changelist")

    page.goto(f"{base}/api/docs/")
    page.wait_for_selector(".swagger-ui .info .title", timeout=30_000)
    assert "Interview analysis API" in page.inner_text(".swagger-ui .info .title")
    page.wait_for_selector(".opblock", timeout=30_000)  # the schema loaded and the operations rendered
    page.screenshot(path=str(output_dir / f"api-docs-{mode}.png"))

    page.goto(f"{base}/api/redoc/")
    page.wait_for_selector("h1:has-text('Interview analysis API')", timeout=30_000)
    page.wait_for_selector("[role=menuitem], li[data-item-id]", timeout=30_000)
    page.screenshot(path=str(output_dir / f"api-redoc-{mode}.png"))

    assert problems == [], problems


def test_an_interviewer_logs_in_and_streams_with_tickets(any_mode_server: tuple[str, str], chromium_for: Any,
                                                         silence_wav: Path, output_dir: Path) -> None:
    mode, base = any_mode_server
    if mode == "debug":
        pytest.skip("the anonymous DEBUG console is driven by test_console_browser.py")
    browser = chromium_for(silence_wav)
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    problems = watch(page, base)
    tickets: list[str] = []
    page.on("request", lambda r: tickets.append(r.method) if r.url.endswith("/api/ws-tickets/") else None)
    sockets: list[str] = []
    page.on("websocket", lambda ws: sockets.append(ws.url))

    page.goto(f"{base}/")
    page.wait_for_url("**/accounts/login/?next=/")  # outside DEBUG: the console needs a login
    page.fill("#id_username", "ivy")
    page.fill("#id_password", ACCOUNTS["ivy"])
    page.screenshot(path=str(output_dir / "console-login.png"))
    page.click("#login-button")
    page.wait_for_url(f"{base}/")
    assert page.inner_text("#account-name") == "ivy"
    page.select_option("#id_language", "en")
    page.check("#id_consent")
    page.click("#start-button")
    page.wait_for_url("**/interviews/live/**")
    page.wait_for_function("window.__console && window.__console.state === 'connected'", timeout=30_000)
    page.evaluate("window.__console.dropSocket()")
    page.wait_for_function("window.__console.reconnects === 1 && window.__console.state === 'connected'",
                           timeout=30_000)  # fmt: skip
    page.screenshot(path=str(output_dir / "console-live-production.png"))
    assert tickets == ["POST", "POST"], tickets  # one fresh ticket for the connect, one for the resume
    assert len(sockets) == 2 and all("ticket=" in url for url in sockets), sockets
    assert "resume=" in sockets[1]
    page.click("#logout-button")
    page.wait_for_url("**/accounts/login/")
    page.goto(f"{base}/")
    page.wait_for_url("**/accounts/login/?next=/")
    assert problems == [], problems
