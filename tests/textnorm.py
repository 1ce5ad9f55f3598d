"""Scoring conventions of the shared data: English WER after lower-casing and stripping punctuation;
Korean CER on Hangul characters after removing spaces and punctuation."""

from __future__ import annotations

import re

import jiwer


def norm_en(text: str) -> str:
    text = re.sub(r"[^\w\s']", " ", text.lower()).replace("'", "")
    return " ".join(text.split())


def norm_ko(text: str) -> str:
    return "".join(ch for ch in text if "\uac00" <= ch <= "\ud7a3")


def error_rate(reference: str, hypothesis: str, language: str) -> float:
    if language == "ko":
        return float(jiwer.cer(norm_ko(reference), norm_ko(hypothesis) or " "))
    return float(jiwer.wer(norm_en(reference), norm_en(hypothesis) or "-"))
