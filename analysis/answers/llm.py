"""Optional LLM judgement of an answer through any OpenAI-compatible endpoint.

Optional by design: the local metrics are the analysis; the LLM only adds strengths, improvements and
rubric evidence. So every failure (no key, timeout, HTTP error, malformed JSON, invented quotes) ends in
``None`` plus a note the report can show, never in an exception that would cost the caller its local
results. Evidence quotes are checked against the answer text, because a judgement that cites words the
candidate never said is worse than none.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from analysis.answers.text import normalize_for_match, normalize_language

JUDGEMENT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["strengths", "improvements", "evidence"],
    "properties": {
        "strengths": {"type": "array", "items": {"type": "string"}},
        "improvements": {"type": "array", "items": {"type": "string"}},
        "evidence": {
            "type": "array",
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": ["criterion", "quote"],
                "properties": {"criterion": {"type": "string"}, "quote": {"type": "string"}},
            },
        },
    },
}
_MAX_ITEMS = 5


@dataclass(frozen=True)
class LlmConfig:
    """Where and how to ask. ``from_env`` reads OPENAI_API_KEY / OPENAI_BASE_URL / OPENAI_MODEL."""

    api_key: str | None = None
    base_url: str | None = None
    model: str = "gpt-4o-mini"
    timeout_s: float = 10.0
    max_retries: int = 1

    @property
    def enabled(self) -> bool:
        return bool(self.api_key)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> LlmConfig:
        env = environ if environ is not None else os.environ
        return cls(
            api_key=env.get("OPENAI_API_KEY") or None,
            base_url=env.get("OPENAI_BASE_URL") or None,
            model=env.get("OPENAI_MODEL") or cls.model,
            timeout_s=float(env.get("OPENAI_TIMEOUT_S") or cls.timeout_s),
            max_retries=int(env.get("OPENAI_MAX_RETRIES") or cls.max_retries),
        )


@dataclass
class LlmJudgement:
    strengths: list[str] = field(default_factory=list)
    improvements: list[str] = field(default_factory=list)
    evidence: list[dict[str, str]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _messages(question: str, answer: str, language: str, expected_keywords: Sequence[str] | None) -> list[dict[str, str]]:
    lang = "Korean" if normalize_language(language) == "ko" else "English"
    system = (
        "You assess one job-interview answer. Reply with JSON only: "
        '{"strengths": [str], "improvements": [str], "evidence": [{"criterion": str, "quote": str}]}. '
        f"Write strengths and improvements in {lang}, at most {_MAX_ITEMS} each, each one concrete and tied "
        "to this answer. Criteria are relevance, structure (situation, task, action, result), specificity, "
        "and clarity. Every quote must be copied verbatim from the answer."
    )
    user = f"Question: {question or '(not recorded)'}\n"
    if expected_keywords:
        user += f"Expected topics: {', '.join(expected_keywords)}\n"
    user += f"Answer (transcript): {answer}"
    return [{"role": "system", "content": system}, {"role": "user", "content": user}]


def parse_json_reply(text: str) -> dict[str, Any] | None:
    """The JSON object in a reply: the whole text, a ```json fence, or the outermost braces."""
    candidates = [text]
    fence = re.search(r"```(?:json)?\s*(.*?)```", text, re.DOTALL)
    if fence:
        candidates.append(fence.group(1))
    if "{" in text and "}" in text:
        candidates.append(text[text.index("{") : text.rindex("}") + 1])
    for candidate in candidates:
        try:
            value = json.loads(candidate)
        except (json.JSONDecodeError, ValueError):
            continue
        if isinstance(value, dict):
            return value
    return None


def validate_judgement(data: Mapping[str, Any], answer: str) -> tuple[LlmJudgement | None, list[str]]:
    """Schema check plus quote check; drops evidence whose quote is not in the answer."""
    notes: list[str] = []
    strengths = data.get("strengths")
    improvements = data.get("improvements")
    evidence = data.get("evidence", [])
    if not isinstance(strengths, list) or not isinstance(improvements, list) or not isinstance(evidence, list):
        return None, ["LLM reply did not match the schema (strengths/improvements/evidence lists)"]
    norm_answer = normalize_for_match(answer)
    kept: list[dict[str, str]] = []
    dropped = 0
    for item in evidence:
        if not isinstance(item, Mapping):
            dropped += 1
            continue
        quote = str(item.get("quote", "")).strip()
        norm_quote = normalize_for_match(quote)
        if norm_quote and norm_quote in norm_answer:
            kept.append({"criterion": str(item.get("criterion", "")).strip(), "quote": quote})
        else:
            dropped += 1
    if dropped:
        notes.append(f"LLM evidence: {dropped} quote(s) not found in the answer were dropped")
    judgement = LlmJudgement(
        strengths=[str(s).strip() for s in strengths if str(s).strip()][:_MAX_ITEMS],
        improvements=[str(s).strip() for s in improvements if str(s).strip()][:_MAX_ITEMS],
        evidence=kept[: 2 * _MAX_ITEMS],
    )
    return judgement, notes


def llm_judge(
    *,
    question: str,
    answer: str,
    language: str,
    config: LlmConfig,
    expected_keywords: Sequence[str] | None = None,
) -> tuple[LlmJudgement | None, list[str]]:
    """Ask the model for a structured judgement; ``(None, [why])`` on any failure.

    Uses ``response_format`` json_schema first; an endpoint that rejects it (HTTP 400) is asked once more
    without it and the JSON is parsed out of the text. Timeouts and 5xx are retried by the SDK at most
    ``config.max_retries`` times, each attempt bounded by ``config.timeout_s``.
    """
    if not config.enabled:
        return None, ["LLM judgement skipped: OPENAI_API_KEY is not set"]
    if not answer.strip():
        return None, ["LLM judgement skipped: empty answer"]
    try:
        import openai
    except ImportError:  # pragma: no cover - openai is in requirements.txt
        return None, ["LLM judgement skipped: the openai package is not installed"]

    client = openai.OpenAI(
        api_key=config.api_key,
        base_url=config.base_url,
        timeout=config.timeout_s,
        max_retries=config.max_retries,
    )
    messages = _messages(question, answer, language, expected_keywords)
    response_format = {
        "type": "json_schema",
        "json_schema": {"name": "answer_judgement", "strict": True, "schema": JUDGEMENT_SCHEMA},
    }
    try:
        try:
            reply = client.chat.completions.create(
                model=config.model, messages=messages, temperature=0, response_format=response_format  # type: ignore[arg-type]
            )
        except openai.BadRequestError:
            reply = client.chat.completions.create(model=config.model, messages=messages, temperature=0)  # type: ignore[arg-type]
    except openai.APITimeoutError:
        return None, [f"LLM judgement failed: no reply within {config.timeout_s:g} s"]
    except openai.APIStatusError as exc:
        return None, [f"LLM judgement failed: HTTP {exc.status_code}"]
    except openai.OpenAIError as exc:
        return None, [f"LLM judgement failed: {type(exc).__name__}"]
    except Exception as exc:  # noqa: BLE001 - the caller must keep its local analysis whatever happens
        return None, [f"LLM judgement failed: {type(exc).__name__}"]
    try:
        content = reply.choices[0].message.content or ""
    except (AttributeError, IndexError, TypeError):
        return None, ["LLM judgement failed: reply had no message content"]
    data = parse_json_reply(content)
    if data is None:
        return None, ["LLM judgement failed: reply was not valid JSON"]
    return validate_judgement(data, answer)
