"""The interview report: one JSON document built from stored segments, answer analyses and scores.

Why a single plain dict: the same document is stored, sent over the API, rendered as HTML and checked
against docs/report.schema.json, so every consumer reads one documented shape and a change to it shows
up as a schema change. Everything here is pure (no Django) except `render_report_html`, which imports the
template loader lazily so the builder stays usable from tests and bench scripts without settings.
"""

from __future__ import annotations

import datetime as _dt
import json
import math
import re
from collections.abc import Iterable, Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any

from scoring.feedback import DIMENSION_LABELS, feedback_for_scores, normalize_language
from scoring.rubric import DIMENSIONS, Rubric
from scoring.types import AnswerScore, SessionScore

SCHEMA_VERSION = "1.0"
SCHEMA_PATH = Path(__file__).resolve().parents[1] / "docs" / "report.schema.json"
ROLES: tuple[str, ...] = ("interviewer", "candidate", "unknown")
# A turn that starts before the other role's turn ended, or this soon after it, cuts in.
INTERRUPTION_GAP_S = 0.2
# Silence between two words of the same turn that counts as a pause in the pace series.
PAUSE_MIN_S = 0.25
# Windows with less speech than this give no rate: a few words cannot estimate a pace.
MIN_SPEECH_FOR_RATE_S = 1.0

DELIVERY_KEYS: tuple[str, ...] = (
    "duration_s", "speech_s", "word_count", "syllable_count", "rate", "rate_unit", "pause_count",
    "pause_total_s", "longest_pause_s", "response_latency_s", "filler_count", "filler_per_min", "fillers",
    "repetitions", "self_corrections", "loudness_db_mean", "loudness_db_std", "pitch_hz_median",
    "pitch_std_semitones", "stt_confidence",
)  # fmt: skip
CONTENT_METRIC_KEYS: tuple[str, ...] = ("relevance", "star_score", "specificity", "expected_keyword_coverage")
CONTENT_LIST_KEYS: tuple[str, ...] = (
    "keywords", "key_phrases", "specifics", "covered_keywords", "missing_keywords",
)  # fmt: skip

LABELS: dict[str, dict[str, str]] = {
    "en": {
        "title": "Interview report", "overall": "Overall", "band": "likely range", "answers": "Answers",
        "answer": "Answer", "question": "Question", "evidence": "Evidence", "feedback": "Feedback",
        "speakers": "Speakers", "talk_time": "Talk time", "share": "Share", "interviewer": "Interviewer",
        "candidate": "Candidate", "unknown": "Unknown", "interviewer_analytics": "Interviewer analytics",
        "talk_time_ratio": "Interviewer : candidate talk time", "interruptions": "Interruptions",
        "time_to_first_answer": "Time to first answer", "pace": "Pace and pauses over time",
        "timeline": "Who spoke when", "scores": "Scores by dimension", "notes": "Notes", "metrics": "Metrics",
        "seconds": "s", "strongest": "Strongest", "weakest": "Weakest", "answers_scored": "answers scored",
        "transcript_confidence": "transcript confidence", "none": "none", "pauses": "pauses",
        "strengths": "Strengths", "improvements": "To improve", "duration": "Duration", "status": "Status",
    },
    "ko": {
        "title": "면접 분석 리포트", "overall": "종합 점수", "band": "예상 범위", "answers": "답변별 분석",
        "answer": "답변", "question": "질문", "evidence": "근거", "feedback": "피드백", "speakers": "화자",
        "talk_time": "발화 시간", "share": "비율", "interviewer": "면접관", "candidate": "지원자",
        "unknown": "미확인", "interviewer_analytics": "면접관 분석", "talk_time_ratio": "면접관 : 지원자 발화 시간",
        "interruptions": "끼어들기", "time_to_first_answer": "첫 답변까지 걸린 시간",
        "pace": "시간에 따른 말 속도와 침묵", "timeline": "발화 타임라인", "scores": "평가 항목별 점수",
        "notes": "메모", "metrics": "측정값", "seconds": "초", "strongest": "강점", "weakest": "보완점",
        "answers_scored": "개 답변 평가", "transcript_confidence": "전사 신뢰도", "none": "없음", "pauses": "침묵",
        "strengths": "잘한 점", "improvements": "개선할 점", "duration": "길이", "status": "상태",
    },
}  # fmt: skip


# --- JSON hygiene ------------------------------------------------------------------------------------


def _jsonable(value: Any) -> Any:
    """Plain JSON types only: numpy scalars become floats/ints, NaN/inf become None, tuples lists."""
    if value is None or isinstance(value, (str, bool)):
        return value
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (_dt.datetime, _dt.date)):
        return value.isoformat()
    if hasattr(value, "item"):  # numpy scalar
        return _jsonable(value.item())
    return str(value)


def _f(value: Any) -> float | None:
    try:
        out = float(value)
    except (TypeError, ValueError):
        return None
    return out if math.isfinite(out) else None


def _r(value: float | None, digits: int = 2) -> float | None:
    return None if value is None else round(value + 0.0, digits)


# --- speakers and roles ------------------------------------------------------------------------------


def _role(segment: Mapping[str, Any]) -> str:
    role = str(segment.get("role") or "unknown")
    return role if role in ROLES else "unknown"


def _union_length(intervals: Iterable[tuple[float, float]]) -> float:
    """Total time covered, counting overlaps once: split segments of one speaker may overlap."""
    total = 0.0
    cur_start: float | None = None
    cur_end = 0.0
    for start, end in sorted(intervals):
        if end <= start:
            continue
        if cur_start is None or start > cur_end:
            if cur_start is not None:
                total += cur_end - cur_start
            cur_start, cur_end = start, end
        else:
            cur_end = max(cur_end, end)
    if cur_start is not None:
        total += cur_end - cur_start
    return total


def _clean_segments(segments: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for seg in segments:
        start, end = _f(seg.get("start")), _f(seg.get("end"))
        if start is None or end is None or end < start:
            continue
        out.append({**seg, "start": start, "end": end, "role": _role(seg), "speaker": str(seg.get("speaker") or "?")})
    out.sort(key=lambda s: (s["start"], s["end"], s["speaker"]))
    return out


def speaker_stats(segments: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], dict[str, dict[str, Any]]]:
    """Talk time per speaker and per role; shares are of all speech (overlaps counted per speaker)."""
    by_speaker: dict[str, list[dict[str, Any]]] = {}
    for seg in segments:
        by_speaker.setdefault(seg["speaker"], []).append(seg)
    role_time = {role: _union_length((s["start"], s["end"]) for s in segments if s["role"] == role) for role in ROLES}
    total = sum(role_time.values())
    speakers = []
    for speaker, segs in by_speaker.items():
        per_role: dict[str, float] = {}
        for s in segs:
            per_role[s["role"]] = per_role.get(s["role"], 0.0) + (s["end"] - s["start"])
        role = sorted(per_role.items(), key=lambda kv: (-kv[1], kv[0]))[0][0]
        talk = _union_length((s["start"], s["end"]) for s in segs)
        words = sum(len(s.get("words") or []) or len(str(s.get("text") or "").split()) for s in segs)
        speakers.append({
            "speaker": speaker, "role": role, "talk_time_s": round(talk, 2),
            "share": round(talk / total, 4) if total > 0 else 0.0, "turns": len(segs), "words": words,
        })  # fmt: skip
    speakers.sort(key=lambda s: (-s["talk_time_s"], s["speaker"]))
    roles = {
        role: {"talk_time_s": round(role_time[role], 2), "share": round(role_time[role] / total, 4) if total > 0 else 0.0}
        for role in ROLES
    }
    return speakers, roles


def interruptions(segments: list[dict[str, Any]], *, gap_s: float = INTERRUPTION_GAP_S) -> list[dict[str, Any]]:
    """Turns of one role that start while the other role's turn is running, or within `gap_s` of its end.

    Only interviewer/candidate segments count. A segment that directly follows one of its own role (a
    turn split into several segments) continues that turn and is never a new interruption.
    """
    events: list[dict[str, Any]] = []
    known = [s for s in segments if s["role"] in ("interviewer", "candidate")]
    for i, seg in enumerate(known):
        if i == 0 or known[i - 1]["role"] == seg["role"]:
            continue
        other = "candidate" if seg["role"] == "interviewer" else "interviewer"
        previous = [p for p in known[:i] if p["role"] == other and p["start"] < seg["start"]]
        if not previous:
            continue
        prev = max(previous, key=lambda p: p["end"])
        if seg["start"] < prev["end"] + gap_s:
            events.append({
                "at": round(seg["start"], 2), "by_role": seg["role"], "by_speaker": seg["speaker"],
                "of_role": other, "of_speaker": prev["speaker"], "overlap_s": round(max(0.0, prev["end"] - seg["start"]), 2),
            })  # fmt: skip
    return events


def interviewer_analytics(segments: list[dict[str, Any]], roles: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """How the interviewer ran the conversation: talk balance, cutting in, how soon answers came."""
    interviewer_t = float(roles["interviewer"]["talk_time_s"])
    candidate_t = float(roles["candidate"]["talk_time_s"])
    events = interruptions(segments)
    first_question_end: float | None = None
    first_answer_start: float | None = None
    for seg in segments:
        if seg["role"] == "candidate":
            earlier = [s for s in segments if s["role"] == "interviewer" and s["start"] < seg["start"]]
            if earlier:
                first_answer_start = seg["start"]
                first_question_end = max(s["end"] for s in earlier)
                break
    latencies = []
    for k in range(1, len(segments)):
        prev, cur = segments[k - 1], segments[k]
        if prev["role"] == "interviewer" and cur["role"] == "candidate":
            latencies.append(cur["start"] - prev["end"])
    time_to_first = None
    if first_answer_start is not None and first_question_end is not None:
        time_to_first = round(max(0.0, first_answer_start - first_question_end), 2)
    return {
        "talk_time_ratio": round(interviewer_t / candidate_t, 3) if candidate_t > 0 else None,
        "interviewer_share": roles["interviewer"]["share"],
        "questions": sum(
            1 for k, s in enumerate(segments)
            if s["role"] == "interviewer" and (k == 0 or segments[k - 1]["role"] != "interviewer")
        ),
        "interruptions": {
            "count": len(events),
            "by_interviewer": sum(1 for e in events if e["by_role"] == "interviewer"),
            "by_candidate": sum(1 for e in events if e["by_role"] == "candidate"),
            "events": events,
        },
        "time_to_first_answer_s": time_to_first,
        "first_answer_start_s": _r(first_answer_start),
        "mean_response_latency_s": round(sum(latencies) / len(latencies), 2) if latencies else None,
    }  # fmt: skip


# --- pace over time ----------------------------------------------------------------------------------

_HANGUL = re.compile(r"[\uac00-\ud7a3]")


def _units(word: str, unit: str) -> int:
    """Syllables for Korean pace (one Hangul block = one syllable), words for English."""
    if unit == "spm":
        n = len(_HANGUL.findall(word))
        return n if n else (1 if re.search(r"\w", word) else 0)
    return 1 if re.search(r"\w", word) else 0


def _timed_words(segment: Mapping[str, Any]) -> list[tuple[float, float, str]]:
    """(start, end, text) per word; without usable word times, the text is spread over the turn."""
    out = []
    for w in segment.get("words") or []:
        if not isinstance(w, Mapping):
            continue
        start = _f(w.get("start", w.get("start_sec")))
        end = _f(w.get("end", w.get("end_sec")))
        text = str(w.get("word", w.get("text", "")))
        if start is None or end is None or end < start:
            out = []
            break
        out.append((start, end, text))
    if out:
        return sorted(out)
    tokens = str(segment.get("text") or "").split()
    if not tokens:
        return []
    # Spread time by token length: a four-syllable word takes longer to say than a one-syllable one.
    sizes = [max(1, len(t)) for t in tokens]
    per_char = (segment["end"] - segment["start"]) / sum(sizes)
    out, t0 = [], segment["start"]
    for token, size in zip(tokens, sizes):
        out.append((t0, t0 + size * per_char, token))
        t0 += size * per_char
    return out


def _overlap(a0: float, a1: float, b0: float, b1: float) -> float:
    return max(0.0, min(a1, b1) - max(a0, b0))


def auto_window_s(duration_s: float) -> float:
    """10 s windows for short sessions, wider so a long interview still gives at most ~100 points."""
    return max(10.0, 5.0 * math.ceil(duration_s / 100.0 / 5.0))


def pace_series(segments: list[dict[str, Any]], *, language: str, duration_s: float,
                window_s: float | None = None, rubric: Rubric | None = None) -> dict[str, Any]:  # fmt: skip
    """Candidate speaking rate and pauses per time window.

    Rate = units / speech time * 60, where speech time is the candidate's turn time in the window minus
    the pauses inside those turns (gaps >= PAUSE_MIN_S between words); gaps between turns are turn-taking
    and are not counted as pauses. Falls back to all non-interviewer speech when no segment has the
    candidate role (roles not yet assigned).
    """
    rubric = rubric or Rubric()
    targets = rubric.targets_for(language)
    unit = targets.rate_unit
    chosen = [s for s in segments if s["role"] == "candidate"] or [s for s in segments if s["role"] != "interviewer"]
    end_t = max([duration_s] + [s["end"] for s in segments]) if segments else duration_s
    window = float(window_s) if window_s else auto_window_s(end_t)
    # A tail shorter than 5% of a window joins the previous window instead of becoming a sliver point.
    n_windows = max(1, math.ceil(end_t / window - 0.05)) if end_t > 0 else 0
    edges = [k * window for k in range(n_windows)] + [end_t]
    if n_windows:
        edges[-1] = max(edges[-1], edges[-2] + 1e-9)
    units = [0.0] * n_windows
    turn_time = [0.0] * n_windows
    pause_time = [0.0] * n_windows
    pause_count = [0] * n_windows

    def spread(start: float, end: float, into: list[float], amount: float | None = None) -> None:
        """Add time (or `amount`, apportioned by overlap) to each window the interval overlaps."""
        length = end - start
        for k in range(n_windows):
            lo = edges[k] if k else -math.inf
            hi = edges[k + 1] if k < n_windows - 1 else math.inf
            part = _overlap(start, end, lo, hi)
            if amount is None:
                into[k] += part
            elif length > 0:
                into[k] += amount * part / length
            elif lo <= start < hi:
                into[k] += amount

    for seg in chosen:
        words = _timed_words(seg)
        spread(seg["start"], seg["end"], turn_time)
        for start, end, text in words:
            spread(start, end, units, float(_units(text, unit)))
        for (_, prev_end, _), (next_start, _, _) in zip(words, words[1:]):
            if next_start - prev_end >= PAUSE_MIN_S:
                spread(prev_end, next_start, pause_time)
                k = max(0, min(n_windows - 1, int(prev_end // window)))
                pause_count[k] += 1
    points = []
    for k in range(n_windows):
        speech = max(0.0, turn_time[k] - pause_time[k])
        rate = units[k] / speech * 60.0 if speech >= MIN_SPEECH_FOR_RATE_S else None
        points.append({
            "t_start": round(edges[k], 2), "t_end": round(edges[k + 1], 2),
            "rate": _r(rate, 1), "speech_s": round(speech, 2), "pause_s": round(pause_time[k], 2),
            "pause_count": pause_count[k],
        })  # fmt: skip
    return {"unit": unit, "window_s": window, "target": [targets.rate_lo, targets.rate_hi], "points": points}


# --- answers -----------------------------------------------------------------------------------------


def _answer_entry(index: int, analysis: Mapping[str, Any], score: AnswerScore, labels_lang: str) -> dict[str, Any]:
    delivery = analysis.get("delivery") or {}
    content = analysis.get("content") or {}
    lang = normalize_language(analysis.get("language") or score.language)
    metrics = {k: delivery.get(k) for k in DELIVERY_KEYS}
    metrics.update({k: content.get(k) for k in CONTENT_METRIC_KEYS})
    feedback: list[dict[str, str]] = []
    seen: set[str] = set()
    for item in list(analysis.get("feedback") or []) + feedback_for_scores(score):
        message = str(item.get("message") or "").strip()
        if not message or message in seen:
            continue
        seen.add(message)
        severity = item.get("severity") if item.get("severity") in ("info", "warn", "critical") else "info"
        feedback.append({"kind": str(item.get("kind") or "note"), "severity": severity, "message": message})
    start, end = _f(analysis.get("start")) or 0.0, _f(analysis.get("end")) or 0.0
    return {
        "index": index,
        "language": lang,
        "question": str(analysis.get("question") or ""),
        "answer_text": str(analysis.get("answer_text") or ""),
        "start": round(start, 2),
        "end": round(end, 2),
        "duration_s": round(max(0.0, end - start), 2),
        "overall": score.overall,
        "scores": {d: score.scores[d] for d in DIMENSIONS},
        "evidence": {d: list(score.evidence.get(d, [])) for d in DIMENSIONS},
        "dimensions": [
            {"key": d, "label": DIMENSION_LABELS[d][labels_lang], "score": score.scores[d],
             "evidence": list(score.evidence.get(d, []))}
            for d in DIMENSIONS
        ],  # fmt: skip
        "metrics": metrics,
        "content": {
            **{k: [str(x) for x in content.get(k) or []] for k in CONTENT_LIST_KEYS},
            "structure": {p: bool((content.get("structure") or {}).get(p)) for p in ("situation", "task", "action", "result")},
        },  # fmt: skip
        "affect": analysis.get("affect"),
        "feedback": feedback,
        "llm": analysis.get("llm"),
        "notes": [str(n) for n in analysis.get("notes") or []],
    }


def _report_language(interview: Mapping[str, Any], answers: list[Mapping[str, Any]]) -> str:
    """The interview's language, or for 'auto' the majority language of the answers (ties: English)."""
    declared = str(interview.get("language") or "").lower()
    if declared.startswith(("ko", "en")):
        return normalize_language(declared)
    ko = sum(1 for a in answers if normalize_language(a.get("language")) == "ko")
    return "ko" if ko * 2 > len(answers) else "en"


def build_report(*, interview: dict, segments: list[dict], answers: list[dict], answer_scores: list[AnswerScore],
                 session: SessionScore, notes: list[dict], rubric: Rubric | None = None,
                 pace_window_s: float | None = None, validate: bool = True) -> dict:  # fmt: skip
    """Assemble the report JSON (docs/report.schema.json) and, if jsonschema is installed, validate it.

    `answers[i]` and `answer_scores[i]` describe the same answer; a length mismatch is a caller bug and
    raises rather than silently pairing the wrong score with an answer.
    """
    if len(answers) != len(answer_scores):
        raise ValueError(f"{len(answers)} answers but {len(answer_scores)} answer scores")
    rubric = rubric or Rubric()
    language = _report_language(interview, answers)
    labels = LABELS[language]
    segs = _clean_segments(segments)
    duration = _f(interview.get("duration_s")) or 0.0
    if duration <= 0 and segs:
        duration = max(s["end"] for s in segs)
    speakers, roles = speaker_stats(segs)
    dims = [{"key": d, "label": DIMENSION_LABELS[d][language], "score": session.scores.get(d)} for d in DIMENSIONS]
    scored = [d for d in dims if d["score"] is not None]
    strongest = sorted(scored, key=lambda d: (-d["score"], d["key"]))[0]["key"] if scored else None
    weakest = sorted(scored, key=lambda d: (d["score"], d["key"]))[0]["key"] if scored else None
    report = {
        "schema_version": SCHEMA_VERSION,
        "interview": {
            "id": str(interview.get("id") or ""),
            "language": language,
            "started_at": _jsonable(interview.get("started_at")),
            "duration_s": round(duration, 2),
            "candidate_name": str(interview.get("candidate_name") or ""),
            "status": str(interview.get("status") or ""),
        },
        "labels": dict(labels),
        "overall": {
            "score": session.overall,
            "band": [session.band[0], session.band[1]],
            "n_answers": session.n_answers,
            "stt_confidence": round(session.stt_confidence, 3),
            "band_half_widths": {"sampling": session.sampling_half_width, "stt": session.stt_half_width},
            "scores": {d: session.scores.get(d) for d in DIMENSIONS},
            "dimensions": dims,
            "strongest": strongest,
            "weakest": weakest,
        },
        "rubric": rubric.to_dict(),
        "answers": [_answer_entry(i, a, s, language) for i, (a, s) in enumerate(zip(answers, answer_scores))],
        "speakers": speakers,
        "roles": roles,
        "interviewer_analytics": interviewer_analytics(segs, roles),
        "timeline": [
            {"start": round(s["start"], 2), "end": round(s["end"], 2), "speaker": s["speaker"], "role": s["role"]}
            for s in segs
        ],
        "pace": pace_series(segs, language=language, duration_s=duration, window_s=pace_window_s, rubric=rubric),
        "notes": [
            {"at": _r(_f(n.get("at"))) or 0.0, "kind": str(n.get("kind") or "note"), "text": str(n.get("text") or ""),
             "speaker": str(n.get("speaker") or "")}
            for n in sorted(notes, key=lambda n: (_f(n.get("at")) or 0.0))
        ],  # fmt: skip
    }
    report = _jsonable(report)
    if validate:
        validate_report(report)
    return report


@lru_cache(maxsize=1)
def load_schema() -> dict[str, Any]:
    return json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))


def validate_report(report: Mapping[str, Any]) -> bool:
    """Raise jsonschema.ValidationError when the report breaks the schema; False if jsonschema is absent."""
    try:
        import jsonschema
    except ImportError:  # optional at runtime; the tests require it
        return False
    jsonschema.Draft202012Validator(load_schema()).validate(report)
    return True


def render_report_html(report: Mapping[str, Any]) -> str:
    """Render the standalone HTML report. Needs configured Django settings with the scoring app installed.

    The page's chrome (headings, labels, banners) follows the active interface language (LocaleMiddleware:
    the visitor's choice or Accept-Language); what the report says about the answers (feedback, evidence)
    stays in the interview's language, marked with its ``lang`` so screen readers switch voice.
    """
    from django.template.loader import render_to_string
    from django.utils.translation import get_language

    from scoring.charts import charts_for_report

    ui_language = normalize_language(get_language())
    shown = {**report, "labels": {**(report.get("labels") or {}), **LABELS[ui_language]}}
    return render_to_string("scoring/report.html",
                            {"report": shown, "charts": charts_for_report(shown), "ui_language": ui_language})
