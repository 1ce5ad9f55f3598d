"""Shared helpers for the bench scripts: the shared data's manifests, text normalisation, WER/CER, stats.

Pure (no Django) so every bench script and its smoke test import it directly. Scoring follows
``shared/data/README.md``: English WER after lower-casing and stripping punctuation (with the few title
expansions Whisper's English normaliser makes, so "Mr." matches LibriSpeech's "MISTER"); Korean CER on the
characters left after removing spaces and punctuation. Korean references spell numbers in Hangul while
Whisper writes digits, so :func:`korean_numbers_to_hangul` gives a second, clearly labelled CER in which the
hypothesis's digits are read out as Sino-Korean numbers (17 → 십칠, 20명 → 이십명, 16,000 → 만육천).
"""

from __future__ import annotations

import json
import math
import os
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jiwer

REPO = Path(__file__).resolve().parents[1]
DEFAULT_SETS = ("en", "ko", "interviews")


def shared_data_dir() -> Path:
    """``$SHARED_DATA_DIR``, else ``<repo>/../shared/data`` (read in place, never copied)."""
    return Path(os.environ.get("SHARED_DATA_DIR", str(REPO.parent / "shared" / "data")))


@dataclass(frozen=True)
class Item:
    """One manifest line: an audio file with its language and (when known) reference text."""

    set_name: str
    path: Path
    language: str
    duration_s: float
    sample_rate: int
    channels: int
    text: str | None
    extra: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def name(self) -> str:
        return f"{self.set_name}/{self.path.stem}"


def read_manifest(set_dir: Path) -> list[Item]:
    """Every line of ``<set_dir>/manifest.jsonl`` as an :class:`Item` (paths resolved against the folder)."""
    items: list[Item] = []
    with (set_dir / "manifest.jsonl").open(encoding="utf-8") as fh:
        for line in fh:
            if not line.strip():
                continue
            row = json.loads(line)
            items.append(
                Item(
                    set_name=set_dir.name,
                    path=set_dir / row["path"],
                    language=row["language"],
                    duration_s=float(row["duration_s"]),
                    sample_rate=int(row["sample_rate"]),
                    channels=int(row["channels"]),
                    text=row.get("text"),
                    extra=row,
                )
            )
    return items


def select_items(
    data_dir: Path, sets: Iterable[str] = DEFAULT_SETS, patterns: Sequence[str] = ()
) -> list[Item]:
    """Items of ``sets`` that have a reference text, filtered by substring ``patterns`` (any of them) on name."""
    items = [item for s in sets for item in read_manifest(data_dir / s) if item.text]
    if patterns:
        items = [item for item in items if any(p in item.name or p in str(item.path) for p in patterns)]
    return items


# --- text normalisation ----------------------------------------------------------------------------------------
_EN_TITLES = {"mr": "mister", "mrs": "missus", "dr": "doctor", "st": "saint", "vs": "versus"}


def _strip_punct(text: str) -> str:
    """Punctuation (Unicode class P*/S*) becomes a space, so "picture-books" scores as two words."""
    return "".join(" " if unicodedata.category(ch)[0] in "PS" and ch != "'" else ch for ch in text)


def normalize_en(text: str) -> str:
    """Lower-case, drop punctuation and apostrophes, expand titles, collapse spaces."""
    text = _strip_punct(unicodedata.normalize("NFKC", text).lower()).replace("'", "")
    words = [_EN_TITLES.get(w, w) for w in text.split()]
    return " ".join(words)


def normalize_ko(text: str) -> str:
    """Characters only: spaces and punctuation removed (CER is computed on this string)."""
    text = _strip_punct(unicodedata.normalize("NFC", text)).replace("'", " ")
    return "".join(text.split())


def normalize(text: str, language: str) -> str:
    return normalize_ko(text) if language == "ko" else normalize_en(text)


_DIGITS = "영일이삼사오육칠팔구"
_SMALL_UNITS = ((1000, "천"), (100, "백"), (10, "십"))
_BIG_UNITS = ((10**12, "조"), (10**8, "억"), (10**4, "만"))


def _below_10000(n: int) -> str:
    out = ""
    for value, unit in _SMALL_UNITS:
        digit, n = divmod(n, value)
        if digit:
            out += ("" if digit == 1 else _DIGITS[digit]) + unit
    if n:
        out += _DIGITS[n]
    return out


def sino_korean(n: int) -> str:
    """Sino-Korean reading of a non-negative integer: 17 → 십칠, 16000 → 만육천, 125 → 백이십오, 0 → 영."""
    if n == 0:
        return _DIGITS[0]
    out = ""
    for value, unit in _BIG_UNITS:
        group, n = divmod(n, value)
        if group:
            out += ("" if group == 1 and unit == "만" else _below_10000(group)) + unit
    return out + _below_10000(n)


_NUMBER_RE = re.compile(r"\d{1,3}(?:,\d{3})+|\d+")


def korean_numbers_to_hangul(text: str) -> str:
    """Digits → Sino-Korean Hangul (thousands separators allowed), the reading the references use.

    Deliberately small: counters are left as written (20명 → 이십명), native-Korean readings (스무명) and
    decimals are not attempted, so this only removes the digit-versus-Hangul spelling difference.
    """
    return _NUMBER_RE.sub(lambda m: sino_korean(int(m.group(0).replace(",", ""))), text)


# --- error rates --------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ErrorCounts:
    """Edit-distance counts for one or more files; ``rate`` is errors / reference units (words or chars)."""

    errors: int
    ref_units: int

    @property
    def rate(self) -> float:
        return self.errors / self.ref_units if self.ref_units else float("nan")

    def __add__(self, other: ErrorCounts) -> ErrorCounts:
        return ErrorCounts(self.errors + other.errors, self.ref_units + other.ref_units)


def _edit_counts(ref_units: list[str], hyp_units: list[str]) -> ErrorCounts:
    if not ref_units:
        return ErrorCounts(len(hyp_units), 0)
    out = jiwer.process_words(" ".join(ref_units), " ".join(hyp_units) if hyp_units else "")
    return ErrorCounts(out.substitutions + out.deletions + out.insertions, len(ref_units))


def error_counts(reference: str, hypothesis: str, language: str, *, ko_numbers: bool = False) -> ErrorCounts:
    """WER counts for English (words), CER counts for Korean (characters, spaces and punctuation removed).

    ``ko_numbers`` applies :func:`korean_numbers_to_hangul` to the hypothesis first (the labelled variant).
    """
    if language == "ko":
        if ko_numbers:
            hypothesis = korean_numbers_to_hangul(hypothesis)
        return _edit_counts(list(normalize_ko(reference)), list(normalize_ko(hypothesis)))
    return _edit_counts(normalize_en(reference).split(), normalize_en(hypothesis).split())


def metric_name(language: str) -> str:
    return "CER" if language == "ko" else "WER"


# --- small statistics ---------------------------------------------------------------------------------------------
def percentile(values: Sequence[float], q: float) -> float:
    """Linear-interpolated percentile (numpy's default); NaN for no values, so empty runs show as such."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q / 100.0
    lo, hi = math.floor(pos), math.ceil(pos)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


def fmt(value: float | None, spec: str = ".2f") -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return format(value, spec)


def print_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    """A plain aligned text table (first column left-aligned, the rest right-aligned)."""
    widths = [max(len(str(h)), *(len(str(r[i])) for r in rows)) if rows else len(str(h)) for i, h in enumerate(headers)]

    def line(cells: Sequence[str]) -> str:
        return "  ".join(
            str(c).ljust(w) if i == 0 else str(c).rjust(w) for i, (c, w) in enumerate(zip(cells, widths))
        )

    print(line(headers))
    print("  ".join("-" * w for w in widths))
    for row in rows:
        print(line(row))
