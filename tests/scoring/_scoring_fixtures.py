"""Hand-written analysis dicts in the analysis stage's per-answer shape, for Korean and English answers.

The numbers are realistic for a one-minute interview answer: rates inside or outside the comfortable
range, filler counts a real speaker produces, STAR parts partly present. Builders return fresh dicts so
tests can mutate them freely.
"""

from __future__ import annotations

import copy
import json
import os
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]


def shared_data_dir() -> Path:
    return Path(os.environ.get("SHARED_DATA_DIR", REPO.parent / "shared" / "data"))


_EN_STRONG: dict[str, Any] = {
    "language": "en",
    "question": "Tell me about a time you improved the performance of a system.",
    "answer_text": (
        "Last year at our payments team the checkout API was timing out during sales. I owned the latency "
        "budget, so I profiled the service, found an N+1 query in the order lookup and added a Redis cache "
        "in front of it. Within two weeks p95 latency dropped from 900 milliseconds to 180, and timeouts "
        "fell by 95 percent."
    ),
    "start": 12.4,
    "end": 58.9,
    "delivery": {
        "duration_s": 46.5, "speech_s": 39.8, "word_count": 96, "syllable_count": 141, "rate": 144.7,
        "rate_unit": "wpm", "pause_count": 6, "pause_total_s": 6.7, "longest_pause_s": 1.9,
        "response_latency_s": 1.2, "filler_count": 1, "filler_per_min": 1.3, "fillers": {"um": 1},
        "repetitions": 0, "self_corrections": 1, "loudness_db_mean": -23.5, "loudness_db_std": 4.1,
        "pitch_hz_median": 128.0, "pitch_std_semitones": 3.1, "stt_confidence": 0.91,
    },
    "content": {
        "keywords": ["latency", "redis cache", "profiling", "checkout api"],
        "key_phrases": ["p95 latency dropped", "N+1 query"],
        "relevance": 0.86,
        "structure": {"situation": True, "task": True, "action": True, "result": True},
        "star_score": 0.9,
        "specificity": 0.82,
        "specifics": ["two weeks", "900 milliseconds", "180", "95 percent", "Redis"],
        "expected_keyword_coverage": 0.75,
        "covered_keywords": ["latency", "profiling", "cache"],
        "missing_keywords": ["monitoring"],
    },
    "affect": None,
    "feedback": [{"kind": "delivery.pace", "severity": "info", "message": "Pace was comfortable."}],
    "llm": None,
    "notes": [],
}

_EN_WEAK: dict[str, Any] = {
    "language": "en",
    "question": "Describe a conflict with a teammate and how you handled it.",
    "answer_text": (
        "Um, so, I think, uh, conflicts happen, you know, like, we, we had some disagreements and, um, "
        "I mean, we talked about it and it was fine I guess."
    ),
    "start": 75.0,
    "end": 104.0,
    "delivery": {
        "duration_s": 29.0, "speech_s": 17.5, "word_count": 33, "syllable_count": 41, "rate": 113.1,
        "rate_unit": "wpm", "pause_count": 9, "pause_total_s": 11.5, "longest_pause_s": 4.2,
        "response_latency_s": 4.8, "filler_count": 9, "filler_per_min": 18.6,
        "fillers": {"um": 3, "uh": 1, "like": 2, "you know": 1, "i mean": 1, "so": 1},
        "repetitions": 1, "self_corrections": 1, "loudness_db_mean": -31.0, "loudness_db_std": 6.3,
        "pitch_hz_median": 131.0, "pitch_std_semitones": 1.4, "stt_confidence": 0.78,
    },
    "content": {
        "keywords": ["conflicts", "disagreements"],
        "key_phrases": ["we talked about it"],
        "relevance": 0.48,
        "structure": {"situation": True, "task": False, "action": True, "result": False},
        "star_score": 0.35,
        "specificity": 0.12,
        "specifics": [],
        "expected_keyword_coverage": None,
        "covered_keywords": [],
        "missing_keywords": [],
    },
    "affect": {"label": "tense", "confidence": 0.58, "arousal": 0.74, "valence": -0.35,
               "scores": {"tense": 0.58, "engaged": 0.27, "calm": 0.09, "flat": 0.06}},
    "feedback": [],
    "llm": None,
    "notes": ["low STT confidence in the middle of the answer"],
}

_KO_STRONG: dict[str, Any] = {
    "language": "ko",
    "question": "최근에 해결한 가장 어려운 기술 문제를 설명해 주세요.",
    "answer_text": (
        "작년 물류 서비스에서 배송 조회 응답이 삼 초 넘게 걸리는 문제가 있었습니다. 저는 성능 개선 담당으로 "
        "쿼리 실행 계획을 분석했고 인덱스를 추가하고 캐시를 도입했습니다. 그 결과 이 주 만에 응답 시간이 "
        "이백 밀리초로 줄었고 고객 문의가 사십 퍼센트 감소했습니다."
    ),
    "start": 20.0,
    "end": 61.5,
    "delivery": {
        "duration_s": 41.5, "speech_s": 35.2, "word_count": 41, "syllable_count": 186, "rate": 317.0,
        "rate_unit": "spm", "pause_count": 5, "pause_total_s": 6.3, "longest_pause_s": 1.6,
        "response_latency_s": 0.9, "filler_count": 2, "filler_per_min": 2.9, "fillers": {"음": 1, "그": 1},
        "repetitions": 0, "self_corrections": 0, "loudness_db_mean": -22.8, "loudness_db_std": 3.9,
        "pitch_hz_median": 205.0, "pitch_std_semitones": 2.9, "stt_confidence": 0.88,
    },
    "content": {
        "keywords": ["응답 시간", "인덱스", "캐시", "쿼리 실행 계획"],
        "key_phrases": ["응답 시간이 이백 밀리초로 줄었고"],
        "relevance": 0.81,
        "structure": {"situation": True, "task": True, "action": True, "result": True},
        "star_score": 0.85,
        "specificity": 0.78,
        "specifics": ["삼 초", "이 주", "이백 밀리초", "사십 퍼센트"],
        "expected_keyword_coverage": 0.67,
        "covered_keywords": ["인덱스", "캐시"],
        "missing_keywords": ["모니터링"],
    },
    "affect": {"label": "calm", "confidence": 0.52, "arousal": 0.35, "valence": 0.1,
               "scores": {"calm": 0.52, "engaged": 0.31, "tense": 0.09, "flat": 0.08}},
    "feedback": [],
    "llm": {"strengths": ["수치로 성과를 설명함"], "improvements": ["모니터링 방안 언급"],
            "evidence": [{"criterion": "result", "quote": "고객 문의가 사십 퍼센트 감소했습니다"}]},
    "notes": [],
}

_KO_WEAK: dict[str, Any] = {
    "language": "ko",
    "question": "팀원과 갈등이 있었던 경험을 말씀해 주세요.",
    "answer_text": "음 어 그러니까 뭐 갈등은 음 있었는데 그 그냥 이야기해서 잘 해결했던 것 같습니다.",
    "start": 80.0,
    "end": 103.0,
    "delivery": {
        "duration_s": 23.0, "speech_s": 13.0, "word_count": 15, "syllable_count": 38, "rate": 175.4,
        "rate_unit": "spm", "pause_count": 7, "pause_total_s": 10.0, "longest_pause_s": 3.8,
        "response_latency_s": 3.6, "filler_count": 6, "filler_per_min": 15.7,
        "fillers": {"음": 2, "어": 1, "그러니까": 1, "뭐": 1, "그": 1},
        "repetitions": 1, "self_corrections": 0, "loudness_db_mean": -30.2, "loudness_db_std": 5.8,
        "pitch_hz_median": 198.0, "pitch_std_semitones": 1.2, "stt_confidence": 0.74,
    },
    "content": {
        "keywords": ["갈등"],
        "key_phrases": ["이야기해서 잘 해결"],
        "relevance": 0.52,
        "structure": {"situation": True, "task": False, "action": False, "result": True},
        "star_score": 0.3,
        "specificity": 0.1,
        "specifics": [],
        "expected_keyword_coverage": None,
        "covered_keywords": [],
        "missing_keywords": [],
    },
    "affect": None,
    "feedback": [],
    "llm": None,
    "notes": [],
}


def en_strong() -> dict[str, Any]:
    return copy.deepcopy(_EN_STRONG)


def en_weak() -> dict[str, Any]:
    return copy.deepcopy(_EN_WEAK)


def ko_strong() -> dict[str, Any]:
    return copy.deepcopy(_KO_STRONG)


def ko_weak() -> dict[str, Any]:
    return copy.deepcopy(_KO_WEAK)


def interview(language: str, duration_s: float) -> dict[str, Any]:
    return {"id": f"0b6f2c1e-0000-4000-8000-00000000000{1 if language == 'en' else 2}", "language": language,
            "started_at": "2026-11-26T09:00:00+00:00", "duration_s": duration_s,
            "candidate_name": "Kim Jiwoo" if language == "ko" else "Alex Morgan", "status": "completed"}  # fmt: skip


def segments_from_turns(turns: list[dict[str, Any]], speaker_ids: dict[str, str]) -> list[dict[str, Any]]:
    """Service-shaped segments from a turns.json list, with word times spread over each turn.

    The mock interviews have real turn times but no word timings, so each word gets time in proportion
    to its length in characters; the pace series then reflects the real turn-taking and speaking rate.
    """
    out = []
    for i, turn in enumerate(turns):
        tokens = turn["text"].split()
        per_char = (turn["end"] - turn["start"]) / max(1, sum(len(t) for t in tokens))
        words, t0 = [], turn["start"]
        for token in tokens:
            span = len(token) * per_char
            words.append({"word": token, "start": round(t0, 3), "end": round(t0 + 0.9 * span, 3), "probability": 0.9})
            t0 += span
        out.append({
            "id": i, "start": turn["start"], "end": turn["end"], "text": turn["text"], "confidence": 0.9,
            "words": words, "speaker": speaker_ids[turn["speaker"]], "role": turn.get("role", "unknown"),
            "role_confidence": 0.95,
        })  # fmt: skip
    return out


def load_mock_interview(language: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The manifest line and the real turns of the shared mock interview in `language`."""
    folder = shared_data_dir() / "interviews"
    for line in (folder / "manifest.jsonl").read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        entry = json.loads(line)
        if entry["language"] == language:
            turns = json.loads((folder / entry["turns"]).read_text(encoding="utf-8"))
            return entry, turns
    raise LookupError(f"no mock interview for {language}")
