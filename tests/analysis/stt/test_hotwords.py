"""Domain words as hotwords: the prompt, the copy guard, the wiring from question sets and custom terms,
and real decodes with the terms on and off (a term recognised; unspoken terms never inserted)."""

from __future__ import annotations

import pytest
from shareddata import DATA

from analysis.stt.hotwords import MAX_TERMS, clean_terms, copied_prompt, hotword_prompt


def test_prompt_is_short_distinct_terms() -> None:
    assert hotword_prompt(["Kubernetes", " kubernetes ", "", "gRPC,", "카카오페이"]) == "Kubernetes, gRPC, 카카오페이"
    many = clean_terms([f"term{i}" for i in range(100)])
    assert len(many) <= MAX_TERMS and len(", ".join(many)) <= 300 and many[:3] == ["term0", "term1", "term2"]
    assert len(clean_terms(["x" * 500])[0]) == 40


@pytest.mark.parametrize(("text", "copied"), [
    ("Kubernetes, Terraform, Kafka", True),  # the prompt itself
    ("kubernetes terraform kafka redis", True),  # three in the prompt's order
    ("Terraform Kafka", True),  # nothing but prompt words
    ("I deployed it on Kubernetes with Terraform scripts we wrote for the migration last year", False),
    ("We used Kafka for the event stream.", False),
    ("", False),
])
def test_copy_guard(text: str, copied: bool) -> None:
    assert copied_prompt(text, hotword_prompt(["Kubernetes", "Terraform", "Kafka", "Redis"])) is copied


@pytest.mark.django_db
def test_interview_hotwords_come_from_custom_terms_then_the_question_set(settings) -> None:
    settings.STT_HOTWORDS = True
    from analysis.selectors import interview_hotwords as hotwords_of
    from analysis.models import Question, QuestionSet
    from sessions.models import Interview

    qs = QuestionSet.objects.create(slug="backend", name="Backend", language="en")
    Question.objects.create(question_set=qs, order=1, text="Queues?", expected_keywords=["Kafka", "idempotency"])
    Question.objects.create(question_set=qs, order=0, text="Deploys?", expected_keywords=["Kubernetes"])
    interview = Interview.objects.create(question_set=qs, custom_terms=["Toss", "Kafka"])
    assert hotwords_of(interview) == "Toss, Kafka, Kubernetes, idempotency"
    settings.STT_HOTWORDS = False
    assert hotwords_of(interview) == ""


def test_terms_parameter_on_the_socket() -> None:
    from sessions.protocol import parse_connect

    params = parse_connect("language=en&terms=Kubernetes,%20gRPC,,카카오")
    assert params.terms == ("Kubernetes", "gRPC", "카카오")
    assert parse_connect("language=en").terms == ()


@pytest.mark.django_db(transaction=True)
async def test_session_start_stores_the_terms_for_the_hotword_prompt(settings) -> None:
    settings.STT_HOTWORDS = True
    import json

    from asgiref.sync import sync_to_async

    from analysis.models import Question, QuestionSet
    from analysis.selectors import interview_hotwords
    from sessions import services, state
    from sessions.models import Interview
    from sessions.protocol import parse_connect

    qs = await QuestionSet.objects.acreate(slug="platform", name="Platform", language="en")
    await Question.objects.acreate(question_set=qs, order=0, text="Deploys?", expected_keywords=["Kubernetes"])
    meta = await services.interview_start(params=parse_connect("language=en&question_set=platform&terms=Toss"), owner_id=None)
    interview = await Interview.objects.aget(pk=meta.session_id)
    assert interview.custom_terms == ["Toss"]
    assert await sync_to_async(interview_hotwords)(interview) == "Toss, Kubernetes"  # the final pass's prompt
    options = json.loads(await state.async_client().hget(state.Keys(meta.session_id).meta, "options"))
    assert hotword_prompt(options["terms"]) == "Toss, Kubernetes"  # the live transcribe stage's prompt
    await sync_to_async(state.delete_session)(meta.session_id)


@pytest.mark.models
@pytest.mark.skipif(not (DATA / "ko").exists(), reason="shared data not available")
def test_decodes_with_terms_on_and_off() -> None:
    """On: a Korean clip's own terms (bench/hotwords.py picks them the same way) do not make it worse.
    Unspoken terms on a short English clip push base into a loop; the guard falls back to the plain decode."""
    from shareddata import manifest
    from textnorm import error_rate

    from analysis.audio.preprocess import file_to_16k_mono
    from analysis.stt.engine import SttConfig, transcribe_offline

    config = SttConfig(cpu_threads=2)
    entry = next(m for m in manifest("ko") if m["path"].startswith("pml00001"))
    audio = file_to_16k_mono(str(DATA / "ko" / entry["path"]))
    terms = [w for w in entry["text"].split() if sum("\uac00" <= c <= "\ud7a3" for c in w) >= 4][:12]
    off = " ".join(s.text for s in transcribe_offline(config, audio, language="ko"))
    on = " ".join(s.text for s in transcribe_offline(config, audio, language="ko", hotwords=hotword_prompt(terms)))
    assert error_rate(entry["text"], on, "ko", ko_numbers=True) <= error_rate(entry["text"], off, "ko", ko_numbers=True)

    short = file_to_16k_mono(str(DATA / "en" / "ljspeech" / "LJ001-0008.wav"))
    plain = [s.text for s in transcribe_offline(config, short, language="en")]
    biased = [s.text for s in transcribe_offline(config, short, language="en", hotwords="Printing, considered")]
    assert biased == plain == ["has never been surpassed."]
