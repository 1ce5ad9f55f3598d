"""The console end to end in Debian's Chromium: start page → live page → blip and resume → End → report.

Chromium's fake microphone plays the English mock interview once (`%noloop`), in real time, through the
page's real AudioWorklet; the server is a real process with Whisper. What is checked is what a person
would see: the committed transcript on the page matches the manifest reference (WER ≤ 20 %), the status
went "reconnecting" then "connected" after a dropped socket, no audio went missing (the server's stored
duration equals what the page captured), and End leads to the report page.
"""

from __future__ import annotations

import re
import urllib.request
from pathlib import Path
from typing import Any

import jiwer
import pytest

pytestmark = [pytest.mark.browser, pytest.mark.models]

MAX_WER = 0.20
DROP_AT_S = 14.0  # inside the second turn, while chunks are still unacknowledged


def normalise(text: str) -> str:
    """English WER convention of the shared data: lower-case, punctuation stripped."""
    return " ".join(re.sub(r"[^\w\s]", " ", text.lower()).split())


def wer(reference: str, hypothesis: str) -> float:
    return float(jiwer.wer(normalise(reference), normalise(hypothesis) or "-"))


def wait_js(page: Any, expression: str, timeout_s: float) -> Any:
    return page.wait_for_function(expression, timeout=timeout_s * 1000, polling=100).json_value()


def test_live_interview_with_a_network_blip(console_server: str, chromium_for: Any,
                                            mock_interview_en: tuple[Path, dict[str, Any]], output_dir: Path) -> None:
    wav, entry = mock_interview_en
    browser = chromium_for(wav)
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    problems: list[str] = []
    page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
    page.on("response", lambda r: problems.append(f"HTTP {r.status} {r.url}") if r.status >= 400 else None)
    page.on("console", lambda msg: problems.append(f"console {msg.type}: {msg.text}")
            if msg.type == "error" and not msg.text.startswith("Failed to load resource") else None)

    # Start page: nothing starts without consent.
    page.goto(f"{console_server}/")
    page.select_option("#id_language", "en")
    page.select_option("#id_question_set", "common-en")
    page.fill("#id_candidate", "Playwright Candidate")
    page.click("#start-button")
    assert "/interviews/live/" not in page.url, "the browser must refuse to start without consent"
    page.check("#id_consent")
    page.click("#start-button")
    page.wait_for_url("**/interviews/live/**")

    # Record every connection state the page displays, independently of the page's own bookkeeping.
    page.evaluate("""() => {
        window.__shown = [document.getElementById('conn-state').dataset.state];
        new MutationObserver(() => window.__shown.push(document.getElementById('conn-state').dataset.state))
            .observe(document.getElementById('conn-state'), {attributes: true, attributeFilter: ['data-state']});
    }""")
    wait_js(page, "window.__console && window.__console.state === 'connected'", 30)
    session_id = page.evaluate("window.__console.sessionId")
    # Opus on the socket whenever this Chromium's WebCodecs can encode it (docs/protocol.md), else PCM.
    encoding = page.evaluate("window.__console.encoding")
    can_opus = page.evaluate("""async () => typeof AudioEncoder !== 'undefined' && (await AudioEncoder
        .isConfigSupported({codec: 'opus', sampleRate: 16000, numberOfChannels: 1})).supported""")
    assert encoding == ("opus" if can_opus else "pcm_s16le"), encoding

    # Keyboard: the next-question button is reachable and works with Enter.
    page.focus("#next-question")
    page.keyboard.press("Enter")
    assert page.inner_text("#current-question").startswith("1. ")

    # A network blip mid-interview, with audio still unacknowledged.
    wait_js(page, f"window.__console.audioSeconds >= {DROP_AT_S}", 40)
    # audio captured while the socket is down waits, unacknowledged, for the resume (a fast server may have
    # acknowledged everything sent before the drop, so watch the backlog for a second after it)
    unacked_at_drop = page.evaluate("""() => new Promise((resolve) => {
        let most = window.__console.pendingSeqs.length;
        window.__console.dropSocket();
        const timer = setInterval(() => { most = Math.max(most, window.__console.pendingSeqs.length); }, 20);
        setTimeout(() => { clearInterval(timer); resolve(most); }, 1000);
    })""")
    wait_js(page, "window.__shown.includes('reconnecting') && window.__console.state === 'connected'", 30)
    shown = page.evaluate("window.__shown")
    after_blip = shown[shown.index("reconnecting"):]
    assert "connected" in after_blip, shown
    assert page.evaluate("window.__console.sessionId") == session_id, "resume must keep the same session"

    # Let the whole recording play, then end the interview.
    wait_js(page, f"window.__console.audioSeconds >= {entry['duration_s'] + 1.0}", 60)
    page.screenshot(path=str(output_dir / "console-live.png"), full_page=True)
    assert page.evaluate("window.__console.reconnects") == 1
    page.click("#end-button")
    wait_js(page, "window.__console.completed === true", 120)
    transcript = page.evaluate("window.__console.transcript()")
    complete = page.evaluate("window.__console.complete")
    captured_s = page.evaluate("window.__console.audioSeconds")  # capture stopped (and flushed) at End
    shown_roles = page.eval_on_selector_all("#transcript .seg", "nodes => nodes.map(n => n.dataset.role)")
    page.screenshot(path=str(output_dir / "console-live-ended.png"), full_page=True)

    # End → report page.
    page.wait_for_url(f"**/interviews/{session_id}/report/", timeout=15000)
    page.wait_for_load_state("load")
    page.screenshot(path=str(output_dir / "console-report.png"), full_page=True)
    with urllib.request.urlopen(page.url, timeout=30) as response:
        assert response.status == 200
    report_transcript = page.query_selector("#report-transcript")

    error_rate = wer(entry["text"], transcript)
    print(f"\n{encoding}: live-page WER {error_rate:.3f}; unacked chunks at the blip {unacked_at_drop}; "
          f"captured {captured_s:.2f} s, server stored {complete['duration_s']:.2f} s; roles {shown_roles}")
    assert error_rate <= MAX_WER, f"WER {error_rate:.2%}\nref: {normalise(entry['text'])}\nhyp: {normalise(transcript)}"
    assert unacked_at_drop > 0, "the blip should have happened with audio still unacknowledged"
    assert abs(complete["duration_s"] - captured_s) < 0.05, "audio was lost or duplicated across the blip"
    assert complete["segments"] == len(shown_roles) >= 3
    if report_transcript is not None:  # the fallback transcript page (no scored report yet)
        assert wer(entry["text"], report_transcript.inner_text()) <= MAX_WER + 0.1
    assert not [p for p in problems if not p.endswith("/favicon.ico")], problems  # the scored report has no icon
