"""Answer analysis: what the pipeline calls when an answer ends (and, cheaply, while it goes on).

Django-free. Inputs are plain data (committed segments, notes) and 16 kHz mono float32 audio; outputs are
dataclasses with ``to_dict()``. The dict shape of :class:`AnalyzedAnswer` is the contract with scoring.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from analysis.answers.affect import AffectResult, VocalBaseline, affect_enabled_from_env, affect_from
from analysis.answers.content import ContentMetrics, content_metrics
from analysis.answers.delivery import DeliveryMetrics, delivery_metrics, live_delivery, speech_audio
from analysis.answers.feedback import FeedbackItem, feedback_items
from analysis.answers.llm import LlmConfig, LlmJudgement, llm_judge
from analysis.answers.prosody import SAMPLE_RATE, VocalFeatures, vocal_features
from analysis.answers.text import normalize_language
from analysis.answers.timeline import AnswerSpan, build_timeline
from analysis.answers.voice_baseline import PRIOR_NOTE, baseline_after, rescore_session_affect, syllables_per_s

__all__ = [
    "AffectResult",
    "AnalyzedAnswer",
    "AnswerSpan",
    "ContentMetrics",
    "DeliveryMetrics",
    "FeedbackItem",
    "LlmConfig",
    "LlmJudgement",
    "VocalBaseline",
    "VocalFeatures",
    "affect_enabled_from_env",
    "analyze_answer",
    "baseline_after",
    "build_timeline",
    "live_delivery",
    "rescore_session_affect",
]


@dataclass
class AnalyzedAnswer:
    """Everything measured about one answer. ``vocal`` is kept so the caller can grow a speaker baseline."""

    language: str
    question: str
    answer_text: str
    start: float
    end: float
    delivery: DeliveryMetrics
    content: ContentMetrics
    affect: AffectResult | None
    feedback: list[FeedbackItem]
    llm: LlmJudgement | None
    notes: list[str] = field(default_factory=list)
    index: int = 0
    finished: bool = True
    vocal: VocalFeatures | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "language": self.language,
            "question": self.question,
            "answer_text": self.answer_text,
            "start": self.start,
            "end": self.end,
            "index": self.index,
            "finished": self.finished,
            "delivery": self.delivery.to_dict(),
            "content": self.content.to_dict(),
            "affect": None if self.affect is None else self.affect.to_dict(),
            "feedback": [item.to_dict() for item in self.feedback],
            "llm": None if self.llm is None else self.llm.to_dict(),
            "notes": list(self.notes),
            "vocal": None if self.vocal is None else self.vocal.to_dict(),
        }


def analyze_answer(
    span: AnswerSpan,
    *,
    language: str,
    audio: np.ndarray | None,
    audio_start: float,
    expected_keywords: list[str] | None = None,
    affect: bool = True,
    llm: LlmConfig | None = None,
    baseline: VocalBaseline | Mapping[str, Any] | None = None,
    sample_rate: int = SAMPLE_RATE,
) -> AnalyzedAnswer:
    """Analyse one answer span end to end.

    ``audio`` is 16 kHz mono float32 whose first sample is at ``audio_start`` session seconds (the whole
    session or just the answer's stretch). ``affect=False`` skips affect entirely (result ``None``).
    ``llm=None`` skips the LLM; a config without a key adds a note instead. ``baseline`` is the
    candidate's usual voice so far (see :class:`VocalBaseline` and ``voice_baseline.baseline_after``);
    without it arousal is measured against population values and says so (``baseline_kind="prior"``).
    """
    lang = normalize_language(language)
    notes: list[str] = []
    text = span.answer_text
    vocal: VocalFeatures | None = None
    if audio is not None and span.segments:
        clip = speech_audio(span.segments, np.asarray(audio, dtype=np.float32), audio_start=audio_start, sample_rate=sample_rate)
        if clip.size:
            vocal = vocal_features(clip, sample_rate=sample_rate)
        else:
            notes.append("audio did not cover the answer; voice measures skipped")
    elif audio is None:
        notes.append("no audio; loudness and pitch not measured")
    delivery = delivery_metrics(span.segments, language=lang, question_end=span.question_end, vocal=vocal)
    content = content_metrics(text, question=span.question_text, language=lang, expected_keywords=expected_keywords)
    if not span.question_text.strip() and not expected_keywords:
        notes.append("no question recorded for this answer; relevance not measured")

    affect_result: AffectResult | None = None
    if affect:
        base = VocalBaseline.from_dict(baseline) if isinstance(baseline, Mapping) else baseline
        affect_result = affect_from(text, language=lang, features=vocal, baseline=base,
                                    syllables_per_s=syllables_per_s(delivery.to_dict()))
        if not affect_result.baseline_used:
            notes.append(PRIOR_NOTE)

    judgement: LlmJudgement | None = None
    if llm is not None:
        judgement, llm_notes = llm_judge(
            question=span.question_text, answer=text, language=lang, config=llm, expected_keywords=expected_keywords
        )
        notes.extend(llm_notes)

    start = span.answer_start if span.answer_start is not None else (span.question_end or 0.0)
    end = span.answer_end if span.answer_end is not None else start
    return AnalyzedAnswer(
        language=lang,
        question=span.question_text,
        answer_text=text,
        start=float(start),
        end=float(end),
        delivery=delivery,
        content=content,
        affect=affect_result,
        feedback=feedback_items(language=lang, delivery=delivery, content=content, question=span.question_text),
        llm=judgement,
        notes=notes,
        index=span.index,
        finished=span.finished,
        vocal=vocal,
    )
