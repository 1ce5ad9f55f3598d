"""Smoke tests of the bench helpers: normalisation, error rates, manifest reading and the latency arithmetic.

No server and no model: the latency test feeds ``bench.harness.latencies`` a hand-built ``StreamLog``.
"""

from __future__ import annotations


import numpy as np
import pytest

from bench.common import (
    error_counts,
    korean_numbers_to_hangul,
    normalize_en,
    normalize_ko,
    percentile,
    read_manifest,
    select_items,
    shared_data_dir,
    sino_korean,
)
from bench.harness import latencies
from clients.python.interview_client import StreamLog


@pytest.mark.parametrize(
    ("n", "hangul"),
    [(0, "영"), (5, "오"), (10, "십"), (17, "십칠"), (20, "이십"), (25, "이십오"), (100, "백"), (125, "백이십오"),
     (1455, "천사백오십오"), (10000, "만"), (16000, "만육천"), (110000, "십일만"), (100000000, "일억")],
)
def test_sino_korean_readings(n: int, hangul: str) -> None:
    assert sino_korean(n) == hangul


def test_digits_become_the_references_spelling() -> None:
    # The mock interview's reference and what Whisper writes for it.
    hyp = "5월 17일 기준, 홍수로 인해 최소 20명이 사망했고 16,000명 이상이 대피하였습니다."
    ref = "오월 십칠일 기준, 홍수로 인해 최소 이십명이 사망했고 만육천명 이상이 대피하였습니다."
    assert normalize_ko(korean_numbers_to_hangul(hyp)) == normalize_ko(ref)
    assert error_counts(ref, hyp, "ko").errors > 0
    assert error_counts(ref, hyp, "ko", ko_numbers=True).errors == 0


def test_english_normaliser_matches_librispeech_style() -> None:
    assert normalize_en("Mr. Quilter's \"forty-two line Bible\", 1455!") == "mister quilters forty two line bible 1455"
    counts = error_counts("MISTER QUILTER IS THE APOSTLE", "Mr. Quilter is an apostle.", "en")
    assert (counts.errors, counts.ref_units) == (1, 5)


def test_korean_cer_ignores_spaces_and_punctuation_only() -> None:
    assert error_counts("원래 가족이 더 힘든 법이에요.", "원래가족이 더 힘든 법이에요", "ko").errors == 0
    counts = error_counts("원래 가족이", "원래 가족의", "ko")
    assert (counts.errors, counts.ref_units) == (1, 5)


def test_empty_hypothesis_counts_every_reference_unit() -> None:
    assert error_counts("ask not", "", "en").errors == 2


def test_percentile_interpolates_like_numpy() -> None:
    values = [0.3, 1.0, 2.5, 4.0, 9.0]
    for q in (0, 50, 95, 100):
        assert percentile(values, q) == pytest.approx(float(np.percentile(values, q)))
    assert np.isnan(percentile([], 50))


def test_manifests_are_read_in_place() -> None:
    data = shared_data_dir()
    if not (data / "en" / "manifest.jsonl").exists():
        pytest.skip(f"shared data not found at {data} (set SHARED_DATA_DIR)")
    items = read_manifest(data / "en")
    assert items and all(item.path.is_file() and item.path.is_relative_to(data) for item in items)
    interviews = select_items(data, ["interviews"], ["mock_interview_ko"])
    assert [(i.name, i.language) for i in interviews] == [("interviews/mock_interview_ko", "ko")]
    assert interviews[0].text and "십칠일" in interviews[0].text


def test_latencies_from_a_hand_built_log() -> None:
    log = StreamLog()
    for seq in range(8):  # 250 ms chunks sent at t = 100 + 0.25 * (seq + 1)
        log.sent_at[seq] = 100.0 + 0.25 * (seq + 1)
        log.chunk_end_s[seq] = 0.25 * (seq + 1)
    segment = {"id": 0, "start": 0.1, "end": 1.1, "text": "ask not what",
               "words": [{"w": "ask", "start": 0.1, "end": 0.4}, {"w": "not", "start": 0.45, "end": 0.7},
                         {"w": "what", "start": 0.8, "end": 1.1}]}

    def processed(seq: int, partial: str, segments: list[dict]) -> dict:
        return {"type": "audio_processed", "seq": seq, "partial": partial, "segments": segments, "lag_ms": 10}

    log.events = [
        (100.9, processed(2, "Ask", [])),  # "ask" (chunk 1, sent 100.5) first shown here: 0.4 s
        (101.4, processed(4, "Ask not", [])),  # "not" (chunk 2, sent 100.75) shown: 0.65 s
        (102.5, processed(7, "", [segment])),  # committed; "what" (chunk 4, sent 101.25) never in a partial: 1.25 s
        (103.0, {"type": "session_complete", "segments": [segment, {**segment, "id": 1}]}),
    ]
    log.end_sent_at = 102.0
    lat = latencies(log)
    # The segment ends at 1.1 s: chunk 3 (0.75-1.0 s) ends before it, chunk 4 (1.0-1.25 s) holds it.
    assert lat.commit_s == [pytest.approx(102.5 - 101.25)]
    assert lat.word_s == [pytest.approx(0.4), pytest.approx(0.65), pytest.approx(1.25)]
    assert lat.words_in_partial == 2
    assert lat.tail_segments == 1
    assert lat.final_lag_s == pytest.approx(1.0)
