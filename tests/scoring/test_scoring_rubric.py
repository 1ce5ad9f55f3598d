"""Rubric scoring: determinism, monotonicity, language-aware targets, evidence wording, validation."""

from __future__ import annotations

import re

import pytest
from _scoring_fixtures import en_strong, en_weak, ko_strong, ko_weak

from scoring.rubric import DIMENSIONS, Rubric, score_answer

HANGUL = re.compile(r"[\uac00-\ud7a3]")


@pytest.mark.parametrize("build", [en_strong, en_weak, ko_strong, ko_weak])
def test_same_input_gives_identical_scores(build):
    first = score_answer(build(), Rubric())
    second = score_answer(build(), Rubric())
    assert first == second
    assert set(first.scores) == set(DIMENSIONS)
    assert all(0.0 <= v <= 100.0 for v in first.scores.values())


def test_fillers_order_does_not_change_evidence():
    a = en_weak()
    b = en_weak()
    b["delivery"]["fillers"] = dict(reversed(list(a["delivery"]["fillers"].items())))
    assert score_answer(a).evidence == score_answer(b).evidence


def test_strong_answers_outscore_weak_ones_in_both_languages():
    assert score_answer(en_strong()).overall > score_answer(en_weak()).overall + 20
    assert score_answer(ko_strong()).overall > score_answer(ko_weak()).overall + 20


def test_more_specific_answer_scores_higher_on_specificity():
    vague = en_strong()
    vague["content"]["specificity"] = 0.3
    vague["content"]["specifics"] = ["two weeks"]
    specific = en_strong()
    specific["content"]["specificity"] = 0.3
    specific["content"]["specifics"] = ["two weeks", "900 milliseconds", "95 percent"]
    more_specific = en_strong()
    more_specific["content"]["specificity"] = 0.8
    more_specific["content"]["specifics"] = ["two weeks", "900 milliseconds", "95 percent"]
    s_vague, s_spec, s_more = (score_answer(x).scores["specificity"] for x in (vague, specific, more_specific))
    assert s_vague < s_spec < s_more


@pytest.mark.parametrize("build", [en_strong, ko_strong])
def test_more_fillers_lower_composure(build):
    values = []
    for count in (0, 3, 8, 15):
        answer = build()
        minutes = answer["delivery"]["duration_s"] / 60.0
        answer["delivery"]["filler_count"] = count
        answer["delivery"]["filler_per_min"] = count / minutes
        values.append(score_answer(answer).scores["composure"])
    assert values == sorted(values, reverse=True)
    assert values[0] > values[-1]


def test_composure_works_without_affect_and_tense_affect_lowers_it():
    calm = en_strong()
    assert calm["affect"] is None
    base = score_answer(calm)
    assert not any("voice" in line for line in base.evidence["composure"])
    tense = en_strong()
    tense["affect"] = {"label": "fear", "confidence": 0.9, "arousal": 0.8, "valence": -0.6, "scores": {}}
    scored = score_answer(tense)
    assert scored.scores["composure"] < base.scores["composure"]
    assert any("fear" in line for line in scored.evidence["composure"])


def test_rate_targets_depend_on_language():
    ko = ko_strong()  # 317 syllables/min: comfortable Korean
    assert "분당 317음절 (목표 250-400)" in score_answer(ko).evidence["delivery"]
    en_too_fast = en_strong()
    en_too_fast["delivery"]["rate"] = 317.0  # the same number in words/min is far too fast for English
    en_ok = score_answer(en_strong()).scores["delivery"]
    assert score_answer(en_too_fast).scores["delivery"] < en_ok - 30
    assert score_answer(ko).scores["delivery"] == pytest.approx(100.0)


def test_rate_is_derived_when_missing():
    answer = ko_strong()
    answer["delivery"]["rate"] = None
    line = score_answer(answer).evidence["delivery"][0]
    assert line.startswith(f"분당 {186 / 35.2 * 60:.0f}음절")


def test_structure_evidence_names_present_and_missing_parts():
    answer = en_weak()
    answer["content"]["structure"] = {"situation": False, "task": False, "action": True, "result": True}
    ev = score_answer(answer).evidence["structure"]
    assert ev[0] == "2 of 4 STAR parts: action, result"
    assert ev[1] == "missing: situation, task"
    ko = ko_weak()
    assert score_answer(ko).evidence["structure"][:2] == ["STAR 4요소 중 2개: 상황, 결과", "빠진 요소: 과제, 행동"]


def test_korean_evidence_is_in_korean_and_english_in_english():
    for lines in score_answer(ko_weak()).evidence.values():
        for line in lines:
            assert HANGUL.search(line), line
            assert not re.search(r"\b(the|of|pause|filler|wpm|target)\b", line, re.I), line
    for lines in score_answer(en_weak()).evidence.values():
        for line in lines:
            assert not HANGUL.search(line), line


def test_empty_answer_scores_zero_with_evidence():
    answer = en_weak()
    answer["answer_text"] = ""
    answer["delivery"].update(word_count=0, syllable_count=0)
    scored = score_answer(answer)
    assert scored.overall == 0.0
    assert all(v == 0.0 for v in scored.scores.values())
    assert scored.evidence["relevance"] == ["no candidate speech in this answer"]


def test_weights_change_overall_as_configured():
    answer = en_weak()
    scores = score_answer(answer).scores
    only_delivery = Rubric.from_dict({"weights": {d: 0.0 for d in DIMENSIONS} | {"delivery": 1.0}})
    assert score_answer(answer, only_delivery).overall == pytest.approx(scores["delivery"], abs=0.06)
    default = Rubric()
    expected = sum(scores[d] * w for d, w in default.normalized_weights.items())
    assert score_answer(answer, default).overall == pytest.approx(expected, abs=0.06)


def test_from_dict_merges_over_defaults_and_accepts_flat_weights():
    rubric = Rubric.from_dict({"relevance": 0.5})
    assert rubric.weights["relevance"] == 0.5
    assert rubric.weights["delivery"] == Rubric().weights["delivery"]
    custom = Rubric.from_dict({"targets": {"ko": {"rate": [200, 300]}}, "longest_pause_s": [2, 6]})
    assert (custom.targets["ko"].rate_lo, custom.targets["ko"].rate_hi) == (200.0, 300.0)
    assert custom.longest_pause_s == (2.0, 6.0)
    again = Rubric.from_dict(custom.to_dict())
    assert again == custom


@pytest.mark.parametrize(
    "override",
    [
        {"weights": {"charisma": 1.0}},
        {"weights": {"relevance": -0.1}},
        {"weights": {"relevance": float("nan")}},
        {"weights": {d: 0.0 for d in DIMENSIONS}},
        {"targets": {"fr": {"rate": [100, 150]}}},
        {"targets": {"en": {"rate": [170, 110]}}},
        {"pause_ratio": [0.6, 0.2]},
        {"colour": "blue"},
    ],
)
def test_invalid_overrides_are_rejected(override):
    with pytest.raises(ValueError):
        Rubric.from_dict(override)
