"""Role corrections as they happen, in Chromium, against a real server (Whisper, live diarizer).

One candidate answers four questions in four moods (emotion_ko emf: neutral, happy, sad, angry; the
interviewer never speaks), and the interviewer presses "Ask next question" a second before each answer. The
first voice is taken for the interviewer (interviewers open interviews) until the question notes show it is
answering them; then the server sends ``role_correction`` and the page must re-render the earlier lines with
the candidate role, marked corrected, while the interview is still running, not only in the final record.
"""

from __future__ import annotations

import wave
from pathlib import Path
from typing import Any

from math import gcd

import numpy as np
import pytest
import soundfile as sf
from scipy.signal import resample_poly
from shareddata import DATA

from analysis.diarization.embeddings import speech_regions

pytestmark = [pytest.mark.browser, pytest.mark.models]
PlaywrightTimeout = pytest.importorskip("playwright.sync_api").TimeoutError


@pytest.fixture(scope="module")
def four_moods(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[float]]:
    """The four emf clips with 1 s of silence before and 2 s between (16 kHz mono PCM16 for Chromium's fake
    microphone, written to a temporary folder), and where each answer starts."""
    folder = DATA / "emotion_ko"
    if not (folder / "emf00001.wav").exists():
        pytest.skip(f"shared data not found at {folder} (set SHARED_DATA_DIR)")
    parts, starts, t = [np.zeros(16000, np.float32)], [], 1.0
    for n in ("00001", "00101", "00201", "00301"):
        audio, sr = sf.read(folder / f"emf{n}.wav", dtype="float32")  # 22.05 kHz as recorded
        audio = resample_poly(audio, 16000 // gcd(sr, 16000), sr // gcd(sr, 16000)).astype(np.float32)
        starts.append(t + speech_regions(audio)[0][0])
        parts += [audio, np.zeros(2 * 16000, np.float32)]
        t += len(audio) / 16000 + 2.0
    pcm = (np.clip(np.concatenate(parts), -1, 1) * 32767).astype("<i2")
    path = tmp_path_factory.mktemp("moods") / "emf_four_moods.wav"
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(16000)
        out.writeframes(pcm.tobytes())
    return path, starts


def wait_js(page: Any, expression: str, timeout_s: float) -> Any:
    return page.wait_for_function(expression, timeout=timeout_s * 1000, polling=100).json_value()


def test_console_shows_role_corrections_as_they_happen(console_server: str, chromium_for: Any,
                                                       four_moods: tuple[Path, list[float]], output_dir: Path) -> None:
    wav, starts = four_moods
    page = chromium_for(wav).new_page(viewport={"width": 1280, "height": 900})
    problems: list[str] = []
    page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
    page.goto(f"{console_server}/")
    page.select_option("#id_language", "ko")
    page.select_option("#id_question_set", "common-ko")
    page.check("#id_consent")
    page.click("#start-button")
    page.wait_for_url("**/interviews/live/**")
    # every role a line is shown with, and every correction, as the page renders them
    page.evaluate("""() => {
        window.__roles = {};
        const record = () => { for (const n of document.querySelectorAll('#transcript .seg')) {
            const seen = window.__roles[n.dataset.id] || (window.__roles[n.dataset.id] = []);
            if (seen[seen.length - 1] !== n.dataset.role) seen.push(n.dataset.role); } };
        new MutationObserver(record).observe(document.getElementById('transcript'), {childList: true, subtree: true});
        window.__notices = [];
        const help = document.getElementById('end-help');
        new MutationObserver(() => window.__notices.push(help.textContent)).observe(help, {childList: true, characterData: true, subtree: true});
    }""")
    wait_js(page, "window.__console && window.__console.state === 'connected'", 30)
    for at in starts:
        wait_js(page, f"window.__console.audioSeconds >= {at - 1.0}", 60)
        page.click("#next-question")
    wait_js(page, "window.__console.roleCorrections >= 1", 60)
    corrected = page.eval_on_selector_all("#transcript .seg.corrected", "nodes => nodes.map(n => n.dataset.role)")
    live_state = page.evaluate("window.__console.state")
    page.screenshot(path=str(output_dir / "console-role-correction.png"), full_page=True)
    wait_js(page, f"window.__console.audioSeconds >= {starts[-1] + 4.0}", 60)
    # a voice the clustering split off (one mood can sound like another person) answered its question alone:
    # it is corrected to the candidate once the next question is clicked and answered
    all_candidate = ("(() => { const s = [...document.querySelectorAll('#transcript .seg')];"
                     " return s.length > 0 && s.every(n => n.dataset.role === 'candidate'); })()")
    try:
        wait_js(page, all_candidate, 30)
    except PlaywrightTimeout:
        pass  # the assertion below says what was shown
    shown = page.eval_on_selector_all("#transcript .seg", "nodes => nodes.map(n => n.dataset.role)")
    history = page.evaluate("window.__roles")
    notices = page.evaluate("window.__notices")
    print(f"\ncorrected lines {corrected}; shown {shown}; role history {history}")
    assert live_state == "connected", "the correction must arrive while the interview is running"
    assert corrected and set(corrected) == {"candidate"}, corrected
    assert any(n.startswith("Roles corrected:") and "candidate" in n for n in notices), notices  # the short notice
    assert any(seen[:1] == ["interviewer"] and seen[-1] == "candidate" for seen in history.values()), history
    assert shown and set(shown) == {"candidate"}, shown  # one voice answering: every line is the candidate
    assert not problems, problems
