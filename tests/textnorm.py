"""Scoring conventions of the shared data: English WER after lower-casing and stripping punctuation;
Korean CER on Hangul characters after removing spaces and punctuation."""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path

import jiwer

_spec = importlib.util.spec_from_file_location("bench_common", Path(__file__).resolve().parent.parent / "bench" / "common.py")
_bench_common = importlib.util.module_from_spec(_spec)  # type: ignore[arg-type]
sys.modules["bench_common"] = _bench_common  # dataclasses look their module up while the class is built
_spec.loader.exec_module(_bench_common)  # type: ignore[union-attr]
korean_numbers_to_hangul = _bench_common.korean_numbers_to_hangul


def norm_en(text: str) -> str:
    text = re.sub(r"[^\w\s']", " ", text.lower()).replace("'", "")
    return " ".join(text.split())


def norm_ko(text: str) -> str:
    return "".join(ch for ch in text if "\uac00" <= ch <= "\ud7a3")


def error_rate(reference: str, hypothesis: str, language: str, *, ko_numbers: bool = False) -> float:
    """WER (en) or CER (ko). ``ko_numbers`` reads digits as Sino-Korean numbers first: the Korean references
    spell numbers in Hangul ("오월 십칠일") where Whisper writes digits ("5월 17일")."""
    if language == "ko":
        if ko_numbers:
            hypothesis = korean_numbers_to_hangul(hypothesis)
        return float(jiwer.cer(norm_ko(reference), norm_ko(hypothesis) or " "))
    return float(jiwer.wer(norm_en(reference), norm_en(hypothesis) or "-"))
