"""Inline SVG charts for the report: plain strings, no JavaScript, no CDN.

Why hand-written SVG: the report must open offline, print cleanly and be archived as one file, and
three simple charts do not justify a plotting dependency in the web process. Every function is pure and
returns a well-formed XML document fragment (`<svg xmlns=...>`) with all text escaped.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any
from xml.sax.saxutils import escape, quoteattr

ROLE_COLORS: dict[str, str] = {"interviewer": "#4C78A8", "candidate": "#E4772E", "unknown": "#9A9A9A"}
INK = "#222222"
MUTED = "#6B6B6B"
GRID = "#E3E3E3"
TARGET_FILL = "#DCEFD9"
FONT = "font-family='system-ui, -apple-system, Segoe UI, Noto Sans KR, sans-serif'"


def _open(width: int, height: int, title: str) -> str:
    return (
        f"<svg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 {width} {height}' width='{width}' "
        f"height='{height}' role='img' aria-label={quoteattr(title)} {FONT} font-size='11'>"
        f"<title>{escape(title)}</title>"
    )


def _nice_step(span: float, target_ticks: int = 6) -> float:
    """A 1/2/5 x 10^k tick step giving about `target_ticks` ticks over `span`."""
    if span <= 0:
        return 1.0
    raw = span / target_ticks
    magnitude = 10 ** math.floor(math.log10(raw))
    for mult in (1, 2, 5, 10):
        if raw <= mult * magnitude:
            return float(mult * magnitude)
    return float(10 * magnitude)


def _fmt_time(seconds: float) -> str:
    seconds = int(round(seconds))
    return f"{seconds // 60}:{seconds % 60:02d}" if seconds >= 60 else f"{seconds}s"


def _time_axis(x0: float, width: float, y: float, duration: float, height: float) -> list[str]:
    parts = []
    step = _nice_step(duration)
    t = 0.0
    while t <= duration + 1e-9:
        x = x0 + width * (t / duration if duration > 0 else 0.0)
        parts.append(f"<line x1='{x:.1f}' y1='{y - height:.1f}' x2='{x:.1f}' y2='{y:.1f}' stroke='{GRID}'/>")
        parts.append(f"<text x='{x:.1f}' y='{y + 13:.1f}' text-anchor='middle' fill='{MUTED}'>{_fmt_time(t)}</text>")
        t += step
    return parts


def timeline_svg(timeline: Sequence[Mapping[str, Any]], duration_s: float, *,
                 labels: Mapping[str, str] | None = None, width: int = 760) -> str:  # fmt: skip
    """One lane per role present, a bar per segment: who spoke when, and where turns overlap."""
    labels = labels or {}
    roles = [r for r in ("interviewer", "candidate", "unknown") if any(s.get("role") == r for s in timeline)]
    if not roles:
        roles = ["interviewer", "candidate"]
    end = max([float(duration_s or 0.0)] + [float(s.get("end") or 0.0) for s in timeline]) or 1.0
    left, right, top, lane_h, gap = 90, 16, 10, 22, 8
    plot_w = width - left - right
    height = top + len(roles) * (lane_h + gap) + 24
    axis_y = top + len(roles) * (lane_h + gap)
    parts = [_open(width, height, str(labels.get("timeline", "Who spoke when")))]
    parts += _time_axis(left, plot_w, axis_y, end, axis_y - top)
    for i, role in enumerate(roles):
        y = top + i * (lane_h + gap)
        parts.append(
            f"<text x='{left - 8}' y='{y + lane_h / 2 + 4:.1f}' text-anchor='end' fill='{INK}'>"
            f"{escape(str(labels.get(role, role)))}</text>"
        )
        parts.append(f"<rect x='{left}' y='{y}' width='{plot_w}' height='{lane_h}' fill='#F6F6F6'/>")
        for seg in timeline:
            if seg.get("role") != role:
                continue
            s0, s1 = float(seg.get("start") or 0.0), float(seg.get("end") or 0.0)
            x = left + plot_w * s0 / end
            w = max(1.0, plot_w * (s1 - s0) / end)
            tip = f"{seg.get('speaker', '')} {s0:.1f}-{s1:.1f}s"
            parts.append(
                f"<rect x='{x:.1f}' y='{y}' width='{w:.1f}' height='{lane_h}' fill='{ROLE_COLORS[role]}'>"
                f"<title>{escape(tip)}</title></rect>"
            )
    parts.append("</svg>")
    return "".join(parts)


def _score_color(score: float) -> str:
    if score >= 75:
        return "#3A8F5C"
    return "#D8A032" if score >= 50 else "#C4473A"


def scores_svg(dimensions: Sequence[Mapping[str, Any]], *, band: Sequence[float] | None = None,
               overall: float | None = None, title: str = "Scores by dimension", overall_label: str = "Overall",
               width: int = 520) -> str:  # fmt: skip
    """Horizontal 0-100 bars per dimension; with `overall` and `band`, a final row shows the session band."""
    rows = [(str(d.get("label") or d.get("key")), d.get("score")) for d in dimensions]
    left, right, top, bar_h, gap = 110, 48, 8, 16, 8
    plot_w = width - left - right
    n_rows = len(rows) + (1 if overall is not None else 0)
    height = top + n_rows * (bar_h + gap) + 18
    parts = [_open(width, height, title)]
    for tick in range(0, 101, 25):
        x = left + plot_w * tick / 100
        parts.append(f"<line x1='{x:.1f}' y1='{top - 4}' x2='{x:.1f}' y2='{height - 16}' stroke='{GRID}'/>")
        parts.append(f"<text x='{x:.1f}' y='{height - 4}' text-anchor='middle' fill='{MUTED}'>{tick}</text>")
    for i, (label, score) in enumerate(rows):
        y = top + i * (bar_h + gap)
        parts.append(f"<text x='{left - 8}' y='{y + bar_h - 4}' text-anchor='end' fill='{INK}'>{escape(label)}</text>")
        if score is None:
            parts.append(f"<text x='{left + 4}' y='{y + bar_h - 4}' fill='{MUTED}'>–</text>")
            continue
        value = max(0.0, min(100.0, float(score)))
        parts.append(
            f"<rect x='{left}' y='{y}' width='{plot_w * value / 100:.1f}' height='{bar_h}' rx='2' "
            f"fill='{_score_color(value)}'/>"
        )
        parts.append(
            f"<text x='{left + plot_w * value / 100 + 4:.1f}' y='{y + bar_h - 4}' fill='{INK}'>{value:.0f}</text>"
        )
    if overall is not None:
        y = top + len(rows) * (bar_h + gap)
        value = max(0.0, min(100.0, float(overall)))
        parts.append(f"<text x='{left - 8}' y='{y + bar_h - 4}' text-anchor='end' fill='{INK}' font-weight='bold'>"
                     f"{escape(overall_label)}</text>")  # fmt: skip
        if band is not None and len(band) == 2:
            lo, hi = (max(0.0, min(100.0, float(b))) for b in band)
            parts.append(
                f"<rect x='{left + plot_w * lo / 100:.1f}' y='{y + 3}' width='{plot_w * (hi - lo) / 100:.1f}' "
                f"height='{bar_h - 6}' fill='#CFCFCF'/>"
            )
        x = left + plot_w * value / 100
        parts.append(f"<line x1='{x:.1f}' y1='{y}' x2='{x:.1f}' y2='{y + bar_h}' stroke='{INK}' stroke-width='3'/>")
        parts.append(f"<text x='{x + 6:.1f}' y='{y + bar_h - 4}' fill='{INK}' font-weight='bold'>{value:.0f}</text>")
    parts.append("</svg>")
    return "".join(parts)


def pace_svg(pace: Mapping[str, Any], *, labels: Mapping[str, str] | None = None, width: int = 760) -> str:
    """Candidate rate per window as a line over the shaded target range, pause seconds as bars beneath."""
    labels = labels or {}
    points = list(pace.get("points") or [])
    unit = str(pace.get("unit") or "wpm")
    target = pace.get("target") or [0.0, 0.0]
    window = float(pace.get("window_s") or 10.0)
    end = max([float(p.get("t_end") or 0.0) for p in points] + [1.0])
    rates = [float(p["rate"]) for p in points if p.get("rate") is not None]
    y_max = max(rates + [float(target[1]) * 1.25, 1.0])
    y_max = _nice_step(y_max, 4) * math.ceil(y_max / _nice_step(y_max, 4))
    left, right, top, plot_h, pause_h = 48, 16, 10, 140, 36
    plot_w = width - left - right
    height = top + plot_h + 10 + pause_h + 22

    def x_of(t: float) -> float:
        return left + plot_w * t / end

    def y_of(rate: float) -> float:
        return top + plot_h * (1.0 - rate / y_max)

    parts = [_open(width, height, str(labels.get("pace", "Pace and pauses over time")))]
    step = _nice_step(y_max, 4)
    r = 0.0
    while r <= y_max + 1e-9:
        y = y_of(r)
        parts.append(f"<line x1='{left}' y1='{y:.1f}' x2='{left + plot_w}' y2='{y:.1f}' stroke='{GRID}'/>")
        parts.append(f"<text x='{left - 6}' y='{y + 4:.1f}' text-anchor='end' fill='{MUTED}'>{r:.0f}</text>")
        r += step
    lo, hi = float(target[0]), float(target[1])
    if hi > lo:
        parts.append(
            f"<rect x='{left}' y='{y_of(hi):.1f}' width='{plot_w}' height='{y_of(lo) - y_of(hi):.1f}' "
            f"fill='{TARGET_FILL}'><title>{escape(f'{lo:.0f}-{hi:.0f} {unit}')}</title></rect>"
        )
    parts.append(f"<text x='{left + 4}' y='{top + 10}' fill='{MUTED}'>{escape(unit)}</text>")
    runs: list[list[tuple[float, float]]] = [[]]
    for p in points:
        if p.get("rate") is None:
            if runs[-1]:
                runs.append([])
            continue
        mid = (float(p["t_start"]) + float(p["t_end"])) / 2.0
        runs[-1].append((x_of(mid), y_of(float(p["rate"]))))
    for run in runs:
        if len(run) > 1:
            coords = " ".join(f"{x:.1f},{y:.1f}" for x, y in run)
            parts.append(f"<polyline points='{coords}' fill='none' stroke='{ROLE_COLORS['candidate']}' stroke-width='2'/>")
        for x, y in run:
            parts.append(f"<circle cx='{x:.1f}' cy='{y:.1f}' r='2.5' fill='{ROLE_COLORS['candidate']}'/>")
    base = top + plot_h + 10 + pause_h
    parts.append(f"<text x='{left - 6}' y='{base - pause_h / 2 + 4:.1f}' text-anchor='end' fill='{MUTED}'>"
                 f"{escape(str(labels.get('pauses', 'pauses')))}</text>")  # fmt: skip
    for p in points:
        share = min(1.0, float(p.get("pause_s") or 0.0) / window)
        if share <= 0:
            continue
        x0, x1 = x_of(float(p["t_start"])), x_of(float(p["t_end"]))
        parts.append(
            f"<rect x='{x0 + 1:.1f}' y='{base - pause_h * share:.1f}' width='{max(1.0, x1 - x0 - 2):.1f}' "
            f"height='{pause_h * share:.1f}' fill='{MUTED}'><title>{float(p.get('pause_s') or 0):.1f}s</title></rect>"
        )
    parts.append(f"<line x1='{left}' y1='{base}' x2='{left + plot_w}' y2='{base}' stroke='{MUTED}'/>")
    parts += _time_axis(left, plot_w, base, end, 0)
    parts.append("</svg>")
    return "".join(parts)


def charts_for_report(report: Mapping[str, Any]) -> dict[str, str]:
    """All charts the HTML template shows, keyed by name."""
    labels = report.get("labels") or {}
    overall = report.get("overall") or {}
    charts = {
        "timeline": timeline_svg(report.get("timeline") or [], float((report.get("interview") or {}).get("duration_s") or 0.0),
                                 labels=labels),
        "scores": scores_svg(overall.get("dimensions") or [], band=overall.get("band"), overall=overall.get("score"),
                             title=str(labels.get("scores", "Scores by dimension")),
                             overall_label=str(labels.get("overall", "Overall"))),
        "pace": pace_svg(report.get("pace") or {}, labels=labels),
    }  # fmt: skip
    return charts
