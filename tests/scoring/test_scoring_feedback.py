"""Feedback wording: specific, quoting the numbers behind it, in the answer's language."""

from __future__ import annotations

import re

from _scoring_fixtures import en_strong, en_weak, ko_strong, ko_weak

from scoring.rubric import feedback_for_scores, score_answer

HANGUL = re.compile(r"[\uac00-\ud7a3]")


def test_korean_feedback_is_in_korean():
    for build in (ko_strong, ko_weak):
        items = feedback_for_scores(score_answer(build()))
        assert items
        for item in items:
            assert HANGUL.search(item["message"]), item
            assert not re.search(r"\b(the|you|your|and|answer|wpm)\b", item["message"], re.I), item


def test_english_feedback_has_no_korean():
    for item in feedback_for_scores(score_answer(en_weak())):
        assert not HANGUL.search(item["message"]), item


def test_feedback_quotes_the_measurements_it_rests_on():
    messages = " ".join(i["message"] for i in feedback_for_scores(score_answer(ko_weak())))
    assert "분당 175음절" in messages  # the measured rate, not a generic "speak faster"
    assert "'음' 2회" in messages  # the filler actually used most
    en = " ".join(i["message"] for i in feedback_for_scores(score_answer(en_weak())))
    assert "18.6 fillers a minute" in en and "'um' ×3" in en
    assert "task or result" in en


def test_feedback_spreads_over_dimensions_and_puts_critical_first():
    items = feedback_for_scores(score_answer(en_weak()), max_items=4)
    problems = [i for i in items if not i["kind"].endswith(".strength")]
    dims = [i["kind"].split(".")[0] for i in problems]
    assert len(set(dims)) == len(dims) == 4
    ranks = [{"critical": 0, "warn": 1, "info": 2}[i["severity"]] for i in problems]
    assert ranks == sorted(ranks)


def test_strong_answer_gets_a_strength_and_few_problems():
    items = feedback_for_scores(score_answer(en_strong()))
    assert items[-1]["kind"].endswith(".strength") and items[-1]["severity"] == "info"
    assert sum(1 for i in items if i["severity"] == "critical") == 0
    assert "monitoring" in items[0]["message"]
