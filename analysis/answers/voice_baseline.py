"""The candidate's voice baseline over a session: grown answer by answer live, leave-one-out in the final pass.

Django-free; the pipeline keeps the dict this returns in Redis (live stage state) and in the interview row
(``Interview.voice_baseline``), so it survives a worker restart and is there for the final pass.

Why the baseline is per session and not per speaker label: live diarization can rename or split a voice
between chunks; every answer span is the candidate's speech by construction of the timeline, so one running
baseline per interview is the candidate's, whatever the speaker labels said.

Live: answer 1 is scored against the population prior (``baseline_kind="prior"``); answer n against the
speech-weighted average of answers 1..n-1 (``"running"``), then added to it. Final pass: every answer is
scored against the candidate's *other* answers of the interview (``"session"``), so the first answer gets a
baseline too and no answer is compared with itself.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from analysis.answers.affect import VocalBaseline, affect_from
from analysis.answers.prosody import VocalFeatures

PRIOR_NOTE = "affect: no baseline of this candidate's voice yet; scored against population values, confidence reduced"


def syllables_per_s(delivery: Mapping[str, Any] | None) -> float | None:
    """Articulation rate in syllables per second of speaking time (pauses of 0.5 s or more left out)."""
    if not delivery:
        return None
    speaking = float(delivery.get("duration_s") or 0.0) - float(delivery.get("pause_total_s") or 0.0)
    syllables = float(delivery.get("syllable_count") or 0.0)
    return round(syllables / speaking, 3) if speaking >= 1.0 and syllables > 0 else None


def features_of(analysis: Mapping[str, Any]) -> VocalFeatures | None:
    """The answer's voice features from ``AnswerAnalysis.to_dict()['vocal']``, or ``None`` without a pitch."""
    vocal = analysis.get("vocal")
    if not vocal or not vocal.get("pitch_hz_median") or vocal.get("loudness_db_mean") is None:
        return None
    known = set(VocalFeatures.__dataclass_fields__)
    return VocalFeatures(**{k: v for k, v in vocal.items() if k in known})


def baseline_after(stored: Mapping[str, Any] | None, analysis: Mapping[str, Any]) -> dict[str, Any] | None:
    """The running baseline once ``analysis`` (an ``AnswerAnalysis.to_dict()``) is added to ``stored``.

    Idempotent: the dict lists the answer indices it holds (``answers``), and an answer already in it is
    not added twice (a re-run after lost stage state, a redelivered task).
    """
    features = features_of(analysis)
    held = [int(i) for i in (stored or {}).get("answers", [])]
    index = int(analysis.get("index", -1))
    if features is None or index in held:
        return dict(stored) if stored else None
    rate = syllables_per_s(analysis.get("delivery"))
    if stored:
        grown: VocalBaseline | None = VocalBaseline.from_dict(stored).updated(features, syllables_per_s=rate)
    else:
        grown = VocalBaseline.from_features([features], syllables_per_s=[rate])
    return None if grown is None else {**grown.to_dict(), "answers": [*held, index]}


def session_baseline(analyses: Sequence[Mapping[str, Any]], *, skip: int | None = None) -> VocalBaseline | None:
    """Baseline over every answer of the session (leaving out position ``skip``)."""
    feats: list[VocalFeatures] = []
    rates: list[float | None] = []
    for i, analysis in enumerate(analyses):
        features = features_of(analysis)
        if i == skip or features is None:
            continue
        feats.append(features)
        rates.append(syllables_per_s(analysis.get("delivery")))
    return VocalBaseline.from_features(feats, syllables_per_s=rates)


def rescore_session_affect(analyses: Sequence[dict[str, Any]]) -> dict[str, Any] | None:
    """Final pass: re-score every answer's affect against the candidate's other answers (in place).

    Answers whose affect was switched off (``affect`` None) stay off. Returns the whole-session baseline
    (for storage with the interview), or ``None`` when affect is off or no answer had a measurable voice.
    """
    if all(a.get("affect") is None for a in analyses):
        return None
    for i, analysis in enumerate(analyses):
        if analysis.get("affect") is None:
            continue
        baseline = session_baseline(analyses, skip=i)
        result = affect_from(
            str(analysis.get("answer_text") or ""),
            language=str(analysis.get("language") or "en"),
            features=features_of(analysis),
            baseline=baseline,
            syllables_per_s=syllables_per_s(analysis.get("delivery")),
            baseline_kind="session",
        )
        analysis["affect"] = result.to_dict()
        analysis["notes"] = [n for n in analysis.get("notes") or [] if not str(n).startswith("affect:")]
        if not result.baseline_used:
            analysis["notes"].append(PRIOR_NOTE)
    whole = session_baseline(analyses)
    return None if whole is None else whole.to_dict()
