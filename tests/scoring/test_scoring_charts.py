"""Charts are well-formed SVG with escaped text, and the HTML template renders the report."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest
from _scoring_fixtures import en_weak, interview, ko_strong, ko_weak

from scoring.charts import charts_for_report, pace_svg, scores_svg, timeline_svg
from scoring.report import build_report, render_report_html
from scoring.rubric import score_answer, score_session

SVG = "{http://www.w3.org/2000/svg}"


def _report(language: str):
    answers = [ko_strong(), ko_weak()] if language == "ko" else [en_weak()]
    segs = [
        {"id": 0, "start": 0.5, "end": 8.0, "text": "질문 & <답변>", "confidence": 0.9, "words": [],
         "speaker": "S<1>", "role": "interviewer", "role_confidence": 0.9},
        {"id": 1, "start": 7.8, "end": 40.0, "text": "작년 물류 서비스에서 배송 조회 응답이 " * 8, "confidence": 0.9,
         "words": [], "speaker": "S2", "role": "candidate", "role_confidence": 0.9},
    ]  # fmt: skip
    scores = [score_answer(a) for a in answers]
    return build_report(interview=interview(language, 42.0), segments=segs, answers=answers, answer_scores=scores,
                        session=score_session(scores, stt_confidence=0.8),
                        notes=[{"at": 3, "text": "<script>alert(1)</script>", "kind": "note", "speaker": ""}])  # fmt: skip


@pytest.mark.parametrize("language", ["en", "ko"])
def test_all_report_charts_parse_as_svg(language):
    charts = charts_for_report(_report(language))
    assert set(charts) == {"timeline", "scores", "pace"}
    for name, svg in charts.items():
        root = ET.fromstring(svg)
        assert root.tag == f"{SVG}svg", name
        assert root.find(f"{SVG}title") is not None
        assert "<script" not in svg


def test_timeline_draws_one_bar_per_segment_and_escapes_names():
    report = _report("ko")
    root = ET.fromstring(timeline_svg(report["timeline"], 42.0, labels=report["labels"]))
    bars = [r for r in root.iter(f"{SVG}rect") if r.find(f"{SVG}title") is not None]
    assert len(bars) == len(report["timeline"])
    assert any("S<1>" in (b.find(f"{SVG}title").text or "") for b in bars)
    texts = {t.text for t in root.iter(f"{SVG}text")}
    assert {"면접관", "지원자"} <= texts


def test_scores_bars_scale_with_score():
    root = ET.fromstring(scores_svg([{"key": "a", "label": "A", "score": 20}, {"key": "b", "label": "B", "score": 80}]))
    widths = [float(r.get("width")) for r in root.iter(f"{SVG}rect")]
    assert len(widths) == 2 and widths[1] == pytest.approx(4 * widths[0])


def test_pace_chart_handles_windows_without_speech():
    pace = {"unit": "wpm", "window_s": 10, "target": [110, 170], "points": [
        {"t_start": 0, "t_end": 10, "rate": None, "speech_s": 0, "pause_s": 0, "pause_count": 0},
        {"t_start": 10, "t_end": 20, "rate": 150.0, "speech_s": 8, "pause_s": 1.5, "pause_count": 2},
        {"t_start": 20, "t_end": 30, "rate": 190.0, "speech_s": 9, "pause_s": 0.5, "pause_count": 1},
    ]}  # fmt: skip
    root = ET.fromstring(pace_svg(pace))
    assert len(list(root.iter(f"{SVG}circle"))) == 2
    assert len(list(root.iter(f"{SVG}polyline"))) == 1


def _configure_django() -> None:
    from django.conf import settings

    if not settings.configured:
        settings.configure(
            INSTALLED_APPS=["scoring"],
            TEMPLATES=[{"BACKEND": "django.template.backends.django.DjangoTemplates", "APP_DIRS": True}],
            USE_TZ=True,
        )
    import django

    django.setup()


@pytest.mark.parametrize("ui", ["en", "ko"])
@pytest.mark.parametrize("language", ["en", "ko"])
def test_html_template_renders_report(language, ui):
    """The chrome follows the interface language (``ui``); what is said about the answers keeps the
    interview's language and is marked with it."""
    _configure_django()
    from django.utils import translation

    report = _report(language)
    with translation.override(ui):
        html = render_report_html(report)
    assert f'<html lang="{ui}">' in html
    assert f'<div class="a" lang="{language}">' in html
    assert html.lstrip().startswith("<!DOCTYPE html>")
    assert html.count("<svg") == 3
    assert "<script>" not in html and "&lt;script&gt;" in html  # notes are escaped, never executed
    for answer in report["answers"]:
        assert answer["question"] in html
        for item in answer["feedback"]:
            assert item["message"].replace("'", "&#x27;") in html
    assert ("종합 점수" in html) == (ui == "ko")
