"""Session aggregation: the band narrows with more answers and with a surer transcript."""

from __future__ import annotations

import pytest
from _scoring_fixtures import en_strong, en_weak, ko_strong, ko_weak

from scoring.rubric import score_answer, score_session


def _width(session) -> float:
    return session.band[1] - session.band[0]


def _answers(n: int):
    pool = [score_answer(b()) for b in (en_strong, ko_strong, en_weak, ko_weak)]
    # Alternating strong/weak answers keep the per-answer spread roughly constant as n grows.
    order = [pool[0], pool[2], pool[1], pool[3]]
    return [order[i % 4] for i in range(n)]


def test_band_narrows_with_more_answers():
    widths = [_width(score_session(_answers(n), stt_confidence=0.9)) for n in (2, 4, 8, 16)]
    assert widths == sorted(widths, reverse=True)
    assert widths[0] > widths[-1] * 2


def test_band_narrows_with_higher_stt_confidence():
    answers = _answers(6)
    widths = [_width(score_session(answers, stt_confidence=c)) for c in (0.3, 0.6, 0.8, 0.95)]
    assert widths == sorted(widths, reverse=True)
    assert widths[0] > widths[-1]


def test_single_answer_still_gets_a_band_from_the_prior():
    session = score_session([score_answer(en_strong())], stt_confidence=1.0)
    assert session.n_answers == 1
    assert session.band[0] < session.overall < session.band[1]
    assert session.sampling_half_width > 10


def test_session_scores_are_means_and_band_contains_overall():
    answers = _answers(4)
    session = score_session(answers, stt_confidence=0.85)
    assert session.overall == pytest.approx(sum(a.overall for a in answers) / 4, abs=0.05)
    for dim, value in session.scores.items():
        assert value == pytest.approx(sum(a.scores[dim] for a in answers) / 4, abs=0.05)
    assert 0.0 <= session.band[0] <= session.overall <= session.band[1] <= 100.0
    assert session.stt_half_width == pytest.approx(30.0 * 0.15, abs=0.05)


def test_no_answers_gives_full_range():
    session = score_session([], stt_confidence=0.9)
    assert session.overall is None and session.band == (0.0, 100.0) and session.n_answers == 0
