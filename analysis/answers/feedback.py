"""Short, actionable feedback items built from the measured evidence, in the session's language.

Every item names what was observed (a count, a duration, the missing words) and one thing to do about it,
and is only emitted when its evidence is present: no answer ever gets a generic "be more confident".
Affect is deliberately not turned into feedback: telling a candidate how they seemed to feel is the part
of emotion inference that regulation restricts, and it is not actionable anyway.

Thresholds (documented in docs/analysis.md): rate outside 110-170 wpm / 250-400 syllables per minute (``pace``),
more than 6 fillers per minute (12: critical), a pause of 4 s or more inside the answer, latency over 6 s,
answers shorter than 20 s or longer than 180 s, relevance under 0.35, specificity under 0.3.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal

from analysis.answers.content import ContentMetrics
from analysis.answers.delivery import DeliveryMetrics
from analysis.answers.pace import PACE_RANGE
from analysis.answers.text import normalize_language

Severity = Literal["info", "warn", "critical"]
_ORDER = {"critical": 0, "warn": 1, "info": 2}

RATE_BOUNDS = PACE_RANGE
FILLER_WARN_PER_MIN = 6.0
FILLER_CRITICAL_PER_MIN = 12.0
LONG_PAUSE_S = 4.0
LATENCY_S = 6.0
SHORT_ANSWER_S = 20.0
LONG_ANSWER_S = 180.0
LOW_RELEVANCE = 0.35
LOW_SPECIFICITY = 0.3
LOW_STT_CONFIDENCE = 0.5
MONOTONE_SEMITONES = 1.2
QUIET_DB = -40.0


@dataclass(frozen=True)
class FeedbackItem:
    kind: str
    severity: Severity
    message: str

    def to_dict(self) -> dict[str, str]:
        return asdict(self)


def _quote(words: list[str], n: int = 3) -> str:
    return ", ".join(f"‘{w}’" for w in words[:n])


def feedback_items(
    *,
    language: str,
    delivery: DeliveryMetrics,
    content: ContentMetrics,
    question: str = "",
) -> list[FeedbackItem]:
    """Feedback for one finished answer, most severe first."""
    ko = normalize_language(language) == "ko"
    items: list[FeedbackItem] = []

    def add(kind: str, severity: Severity, ko_msg: str, en_msg: str) -> None:
        items.append(FeedbackItem(kind, severity, ko_msg if ko else en_msg))

    d, c = delivery, content
    if d.word_count == 0:
        add("no_answer", "critical", "답변이 인식되지 않았습니다. 마이크를 확인하고 다시 답해 보세요.",
            "No answer was recognised; check the microphone and answer again.")
        return items

    # Content
    if not c.structure.get("result"):
        add("result", "warn", "구체적인 결과가 없습니다. 수치나 성과를 언급해 보세요.",
            "The answer had no concrete result; mention a number or an outcome.")
    if not c.structure.get("action"):
        add("action", "warn", "본인이 한 행동이 드러나지 않습니다. ‘제가 ~했습니다’처럼 직접 한 일을 말해 보세요.",
            "It is not clear what you did yourself; say “I decided…”, “I built…”.")
    if not c.structure.get("situation") and not c.structure.get("task"):
        add("context", "info", "상황과 본인의 역할을 먼저 한두 문장으로 설명해 보세요.",
            "Open with one or two sentences on the situation and your role.")
    if c.specificity < LOW_SPECIFICITY:
        add("specificity", "warn", "숫자, 기간, 도구 이름 같은 구체적인 내용이 없습니다. 예를 하나 들어 보세요.",
            "No numbers, time frames or named tools were mentioned; give one concrete example.")
    if question.strip() and c.relevance < LOW_RELEVANCE and c.question_terms_missing:
        add("relevance", "warn",
            f"질문의 핵심({_quote(c.question_terms_missing)})에 대한 언급이 부족합니다. 질문에 직접 답해 보세요.",
            f"The answer did not touch the question's key terms ({_quote(c.question_terms_missing)}); answer it directly.")
    if c.expected_keyword_coverage is not None and c.expected_keyword_coverage < 0.5 and c.missing_keywords:
        add("coverage", "info",
            f"다음 내용을 다루면 좋습니다: {_quote(c.missing_keywords)}.",
            f"Consider covering: {_quote(c.missing_keywords)}.")

    # Delivery
    if d.duration_s < SHORT_ANSWER_S:
        add("length", "warn", f"답변이 {d.duration_s:.0f}초로 짧습니다. 상황, 행동, 결과를 덧붙여 보세요.",
            f"The answer lasted only {d.duration_s:.0f} s; add the situation, your actions and the result.")
    elif d.duration_s > LONG_ANSWER_S:
        add("length", "info", f"답변이 {d.duration_s / 60:.1f}분으로 깁니다. 2~3분 안에 핵심만 말해 보세요.",
            f"The answer ran {d.duration_s / 60:.1f} minutes; aim for two to three.")
    low, high = RATE_BOUNDS[d.rate_unit]
    unit_ko = "분당 음절" if d.rate_unit == "spm" else "분당 단어"
    if d.duration_s >= 5.0 and d.rate > high:
        add("rate", "warn", f"말이 빠릅니다({unit_ko} {d.rate:.0f}). 문장 사이에 짧게 쉬어 보세요.",
            f"You spoke fast ({d.rate:.0f} {d.rate_unit}); pause briefly between sentences.")
    elif d.duration_s >= 5.0 and 0 < d.rate < low:
        add("rate", "info", f"말이 느린 편입니다({unit_ko} {d.rate:.0f}). 문장을 짧게 끊어 이어 말해 보세요.",
            f"You spoke slowly ({d.rate:.0f} {d.rate_unit}); keep sentences short and moving.")
    if d.filler_per_min > FILLER_WARN_PER_MIN and d.filler_count >= 3:
        top = sorted(d.fillers, key=lambda w: -d.fillers[w])
        listed = ", ".join(f"‘{w}’ ×{d.fillers[w]}" for w in top[:3])
        severity: Severity = "critical" if d.filler_per_min > FILLER_CRITICAL_PER_MIN else "warn"
        add("fillers", severity,
            f"군말이 분당 {d.filler_per_min:.0f}회 나왔습니다({listed}). 군말 대신 잠깐 멈추세요.",
            f"{d.filler_count} filler words ({listed}; {d.filler_per_min:.0f} per minute); pause silently instead.")
    if d.longest_pause_s >= LONG_PAUSE_S:
        add("pause", "info", f"답변 중 {d.longest_pause_s:.1f}초 동안 멈춘 부분이 있습니다. 생각을 정리할 때는 ‘잠시 생각해 보겠습니다’라고 말해 보세요.",
            f"There was a {d.longest_pause_s:.1f} s pause mid-answer; say “let me think” rather than going silent.")
    if d.response_latency_s is not None and d.response_latency_s > LATENCY_S:
        add("latency", "info", f"답변을 시작하기까지 {d.response_latency_s:.1f}초 걸렸습니다. 첫 문장으로 결론을 먼저 말해 보세요.",
            f"It took {d.response_latency_s:.1f} s to start; open with a one-sentence headline answer.")
    if d.repetitions >= 3:
        add("repetition", "info", f"같은 단어를 연달아 반복한 경우가 {d.repetitions}번 있습니다.",
            f"Words were repeated back-to-back {d.repetitions} times; slow down slightly.")
    if d.self_corrections >= 3:
        add("self_correction", "info", f"말을 {d.self_corrections}번 정정했습니다. 말하기 전에 핵심을 정리해 보세요.",
            f"You corrected yourself {d.self_corrections} times; outline the point before you start.")
    if d.pitch_std_semitones is not None and d.pitch_std_semitones < MONOTONE_SEMITONES and d.duration_s >= 10.0:
        add("intonation", "info", "억양 변화가 거의 없습니다. 핵심 단어를 강조해 보세요.",
            "Your intonation was nearly flat; stress the key words.")
    if d.loudness_db_mean is not None and d.loudness_db_mean < QUIET_DB:
        add("volume", "info", f"목소리가 작게 녹음되었습니다({d.loudness_db_mean:.0f} dBFS). 마이크에 가까이 말해 보세요.",
            f"Your voice was recorded quietly ({d.loudness_db_mean:.0f} dBFS); move closer to the microphone.")
    if d.stt_confidence is not None and d.stt_confidence < LOW_STT_CONFIDENCE:
        add("clarity", "info", "음성 인식 신뢰도가 낮습니다. 또렷하게, 마이크 가까이에서 말해 보세요.",
            f"Speech recognition confidence was low ({d.stt_confidence:.2f}); speak clearly and close to the mic.")
    items.sort(key=lambda item: _ORDER[item.severity])
    return items


LIVE_MIN_SPEECH_S = 8.0  # no pace nudge before this much speech: an early rate estimate is noise


def live_pace_items(metrics: dict[str, Any], language: str) -> list[dict[str, str]]:
    """Short delivery nudges while the answer is going on (text and timing only)."""
    ko = language == "ko"
    items: list[dict[str, str]] = []
    rate, unit = metrics.get("rate") or 0.0, metrics.get("rate_unit")
    unit = "spm" if unit == "spm" else "wpm"
    slow, fast = PACE_RANGE[unit]
    if metrics.get("speech_s", 0) >= LIVE_MIN_SPEECH_S and rate > fast:
        items.append({"kind": "pace", "severity": "warn",
                      "message": f"말이 빠릅니다 (분당 {rate:.0f}음절). 조금 천천히 말해 보세요." if ko
                      else f"You are speaking fast ({rate:.0f} wpm); slow down a little."})
    elif metrics.get("speech_s", 0) >= LIVE_MIN_SPEECH_S and 0 < rate < slow:
        items.append({"kind": "pace", "severity": "info",
                      "message": f"말이 느린 편입니다 (분당 {rate:.0f}음절)." if ko else f"Your pace is slow ({rate:.0f} wpm)."})
    if (metrics.get("filler_per_min") or 0) > FILLER_WARN_PER_MIN and (metrics.get("filler_count") or 0) >= 3:
        fillers = ", ".join(list((metrics.get("fillers") or {}).keys())[:3])
        items.append({"kind": "fillers", "severity": "warn",
                      "message": f"군말이 잦습니다 ({fillers}). 잠깐 멈추는 편이 낫습니다." if ko
                      else f"Frequent fillers ({fillers}); a short pause works better."})
    if (metrics.get("longest_pause_s") or 0) > LONG_PAUSE_S:
        items.append({"kind": "pause", "severity": "info",
                      "message": "긴 침묵이 있었습니다. 생각을 정리하는 말로 이어가 보세요." if ko
                      else "A long silence; bridge it by saying what you are thinking about."})
    return items
