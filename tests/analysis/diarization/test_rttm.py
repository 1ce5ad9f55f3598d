from __future__ import annotations

from pathlib import Path

import pytest

from analysis.diarization.rttm import Turn, parse_rttm, to_rttm


def test_round_trip_keeps_times_and_speakers() -> None:
    turns = [Turn(1.5, 3.25, "S2"), Turn(0.0, 1.2, "S1")]
    text = to_rttm(turns, "session-7")
    assert text.splitlines()[0] == "SPEAKER session-7 1 0.000 1.200 <NA> <NA> S1 <NA> <NA>"
    assert parse_rttm(text) == sorted(turns, key=lambda t: t.start)


def test_rejects_file_ids_that_would_break_columns() -> None:
    with pytest.raises(ValueError):
        to_rttm([Turn(0, 1, "S1")], "two words")


def test_parses_reference_files(data_dir: Path) -> None:
    turns = parse_rttm((data_dir / "diarization/pyannote_sample/sample.rttm").read_text())
    assert len(turns) == 10
    assert {t.speaker for t in turns} == {"speaker90", "speaker91"}
    assert (turns[0].start, turns[0].speaker) == (6.69, "speaker90")
    assert turns[0].end == pytest.approx(7.12)


def test_skips_other_record_types_and_reports_short_lines() -> None:
    assert parse_rttm("SPKR-INFO x 1 <NA> <NA> <NA> unknown S1 <NA>\n") == []
    with pytest.raises(ValueError):
        parse_rttm("SPEAKER x 1 0.0\n")
