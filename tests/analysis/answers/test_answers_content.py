from __future__ import annotations

from pathlib import Path

import pytest
from _answers_data import read_manifest

from analysis.answers.content import content_metrics, find_specifics, keyword_coverage, star_structure
from analysis.answers.keywords import extract_keywords
from analysis.answers.questions import load_question_set, match_question

KO_ANSWER = (
    "당시 저는 결제 팀에서 데이터베이스 성능 최적화를 맡았습니다. 응답 시간이 느린 문제가 있어서 원인을 분석했고 "
    "인덱스를 도입하기로 결정했습니다. 그 결과 응답 시간을 삼십 퍼센트 줄였고 두 달 동안 AWS 비용도 절감했습니다."
)
EN_ANSWER = (
    "When I was at my previous company, our checkout service had slow database queries. My role was to reduce "
    "latency. I decided to add Redis caching, for example for the product catalog. As a result, checkout "
    "latency dropped by 40% within two weeks."
)


def test_korean_keywords_rebuild_words_and_noun_phrases() -> None:
    kw = extract_keywords(KO_ANSWER, "ko", top_k=20)
    assert "데이터베이스" in kw.keywords and "최적화" in kw.keywords  # 데이터+베이스, 최적+화 rejoined
    assert "aws" in kw.keywords
    assert "데이터베이스 성능 최적화" in kw.key_phrases
    assert not {"것", "수", "당시"} & set(kw.keywords)


def test_korean_keywords_on_real_transcripts(data_dir: Path) -> None:
    texts = {m["path"]: m["text"] for m in read_manifest(data_dir / "ko")}
    kw = extract_keywords(texts["nea00001.wav"], "ko")  # 심폐소생술 자격증 취득을 원하시면 인터넷으로 신청해주세요.
    assert {"심폐소생술", "자격증", "취득", "인터넷", "신청"} <= set(kw.keywords)
    assert "심폐소생술 자격증 취득" in kw.key_phrases
    kw = extract_keywords(texts["pml00001.wav"], "ko")  # 계산할 물건이 많지 않은 고객님들께서는 셀프 계산대를 ...
    assert {"물건", "계산대"} <= set(kw.keywords)


def test_english_rake_on_real_transcripts(data_dir: Path) -> None:
    texts = {m["path"]: m["text"] for m in read_manifest(data_dir / "en")}
    kw = extract_keywords(texts["1089-134686-0000.flac"], "en", top_k=20)
    assert "fat mutton pieces" in kw.key_phrases
    assert {"stew", "dinner", "turnips", "sauce", "peppered"} <= set(kw.keywords)
    kw = extract_keywords(texts["jfk.flac"], "en")
    # Function words ("not what your ... can do for you") never become keywords.
    assert set(kw.keywords) == {"ask", "country", "fellow", "americans"}
    assert kw.key_phrases == ["fellow americans"]


def test_star_structure_in_both_languages() -> None:
    assert star_structure(KO_ANSWER, "ko") == {"situation": True, "task": True, "action": True, "result": True}
    assert star_structure(EN_ANSWER, "en") == {"situation": True, "task": True, "action": True, "result": True}
    assert star_structure("I like working with people.", "en") == {"situation": False, "task": False, "action": False, "result": False}
    assert star_structure("저는 사람들과 일하는 것을 좋아합니다.", "ko")["result"] is False


def test_specifics_find_korean_number_words_units_and_names() -> None:
    found = find_specifics("오월 십칠일 기준, 홍수로 인해 최소 이십명이 사망했고 만육천명 이상이 대피하였습니다.", "ko")
    assert {"십칠일", "이십명", "만육천명"} <= set(found)
    found = find_specifics(KO_ANSWER, "ko")
    assert {"삼십 퍼센트", "두 달", "AWS"} <= set(found)
    found = find_specifics(EN_ANSWER, "en")
    assert {"40%", "two weeks", "Redis", "for example"} <= set(found)
    assert find_specifics("I like working with people and I am motivated.", "en") == []


def test_relevance_and_coverage_against_a_question_set() -> None:
    ko_set = load_question_set("ko")
    q = match_question("시스템 성능을 개선한 경험이 있나요?", ko_set)
    assert q is not None and q.competency == "impact"
    m = content_metrics(KO_ANSWER, question=q.text, language="ko", expected_keywords=list(q.expected_keywords))
    assert m.covered_keywords == ["성능", "퍼센트"]  # the answer says 줄였고/절감, never 개선
    assert m.missing_keywords == ["지표", "병목", "측정", "개선"]
    assert m.expected_keyword_coverage == pytest.approx(len(m.covered_keywords) / len(q.expected_keywords), abs=1e-3)
    assert m.star_score == 1.0 and m.specificity > 0.6

    off_topic = content_metrics("저는 주말에 등산을 좋아하고 강아지를 키웁니다.", question=q.text, language="ko",
                                expected_keywords=list(q.expected_keywords))
    assert off_topic.relevance < 0.2 < m.relevance
    assert off_topic.expected_keyword_coverage == 0.0


def test_english_relevance_rises_with_on_topic_answers() -> None:
    q = "Tell me about a time you resolved a conflict within your team."
    on = content_metrics("Two engineers in my team had a conflict about the API design. I resolved it by ...", question=q, language="en")
    off = content_metrics("I enjoy hiking and cooking on weekends.", question=q, language="en")
    assert on.relevance == 1.0 and off.relevance == 0.0
    assert off.question_terms_missing == ["conflict", "resolv", "team"]


def test_keyword_coverage_ignores_korean_spacing_and_english_inflection() -> None:
    cov, covered, missing = keyword_coverage("문제해결 과정에서 원인분석을 했습니다", ["문제 해결", "원인 분석", "일정"], "ko")
    assert covered == ["문제 해결", "원인 분석"] and missing == ["일정"] and cov == pytest.approx(2 / 3, abs=1e-3)
    cov, covered, _ = keyword_coverage("We measured the bottlenecks and improved throughput.", ["bottleneck", "improve", "metric"], "en")
    assert covered == ["bottleneck", "improve"] and cov == pytest.approx(2 / 3, abs=1e-3)
    assert keyword_coverage("anything", [], "en") == (None, [], [])
