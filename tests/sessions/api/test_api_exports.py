"""Exports on the shared mock interview: SRT and WebVTT parse back to the reference turns, RTTM fields
round-trip through the diarization reader, the report routes, the audio route with HTTP Range.
"""

from __future__ import annotations

import re

import pytest
from _api_fixtures import MOCK_EN, client_for, make_interview, mock_turns

from analysis.diarization.rttm import parse_rttm
from sessions.api import exports
from sessions.api.ranges import ByteRange, RangeNotSatisfiable, parse_range

SRT_TIME = r"(\d{2}):(\d{2}):(\d{2}),(\d{3})"
VTT_TIME = r"(\d{2}):(\d{2}):(\d{2})\.(\d{3})"


def _seconds(h: str, m: str, s: str, ms: str) -> float:
    return int(h) * 3600 + int(m) * 60 + int(s) + int(ms) / 1000


def parse_srt(text: str) -> list[tuple[float, float, str]]:
    """A strict SubRip reader: numbered blocks, a timing line, text, a blank line between blocks."""
    cues = []
    for n, block in enumerate(text.strip("\n").split("\n\n"), 1):
        lines = block.split("\n")
        assert lines[0] == str(n), f"cue {n} is numbered {lines[0]!r}"
        m = re.fullmatch(rf"{SRT_TIME} --> {SRT_TIME}", lines[1])
        assert m, lines[1]
        start, end = _seconds(*m.groups()[:4]), _seconds(*m.groups()[4:])
        assert end > start
        assert len(lines) >= 3 and all(lines[2:])
        cues.append((start, end, " ".join(lines[2:])))
    return cues


def parse_vtt(text: str) -> list[tuple[float, float, str, str]]:
    """A strict WebVTT reader for our output: header, cue id, timing, ``<v Voice>text</v>``."""
    assert text.startswith("WEBVTT\n\n")
    cues = []
    for block in text[len("WEBVTT\n\n"):].strip("\n").split("\n\n"):
        ident, timing, payload = block.split("\n")
        m = re.fullmatch(rf"{VTT_TIME} --> {VTT_TIME}", timing)
        assert m and ident.isdigit()
        v = re.fullmatch(r"<v ([^>]+)>([^<>]*)</v>", payload)
        assert v, payload
        assert "-->" not in payload
        cues.append((_seconds(*m.groups()[:4]), _seconds(*m.groups()[4:]), v.group(1), v.group(2)))
    return cues


@pytest.fixture
def turns():
    if not MOCK_EN.exists():
        pytest.skip("shared data not available")
    return mock_turns("en")


def _segments(turns):
    return exports.normalize_segments(
        [{"index": i, **{k: t[k] for k in ("start", "end", "text", "speaker", "role")}} for i, t in enumerate(turns)]
    )


def test_srt_parses_back_to_the_reference_turns(turns):
    cues = parse_srt(exports.to_srt(_segments(turns)))
    assert len(cues) == len(turns)
    for (start, end, text), turn in zip(cues, turns, strict=True):
        assert start == pytest.approx(turn["start"], abs=0.001) and end == pytest.approx(turn["end"], abs=0.001)
        assert text == f"{turn['role'].capitalize()}: {' '.join(turn['text'].split())}"


def test_vtt_parses_with_voices_and_escapes_markup(turns):
    segments = _segments(turns)
    cues = parse_vtt(exports.to_vtt(segments))
    assert [c[2] for c in cues] == [t["role"].capitalize() for t in turns]
    assert [c[0] for c in cues] == pytest.approx([t["start"] for t in turns], abs=0.001)
    hostile = exports.normalize_segments([{"start": 1, "end": 2, "text": "a <b>x</b> --> & y", "speaker": "S1"}])
    [(_, _, voice, text)] = parse_vtt(exports.to_vtt(hostile))
    assert voice == "S1" and text == "a &lt;b&gt;x&lt;/b&gt; --&gt; &amp; y"


def test_rttm_fields_round_trip(turns):
    text = exports.to_diarization_rttm(_segments(turns), file_id="abc-123")
    for line in text.splitlines():
        fields = line.split()
        assert len(fields) == 10 and fields[0] == "SPEAKER" and fields[1] == "abc-123" and fields[2] == "1"
        assert float(fields[4]) > 0 and fields[5] == fields[6] == "<NA>"
    parsed = parse_rttm(text)
    assert [t.speaker for t in parsed] == [t["speaker"] for t in turns]
    assert [t.start for t in parsed] == pytest.approx([t["start"] for t in turns], abs=0.001)


def test_normalize_drops_unusable_entries_and_sorts():
    raw = [{"start": 5, "end": 6, "text": "b"}, {"start": "x", "end": 1, "text": "bad"}, {"start": 3, "end": 2},
           {"start": 1, "end": 2, "text": "a\n\nsplit"}, "junk", {"start": float("nan"), "end": 1}]  # fmt: skip
    out = exports.normalize_segments(raw)
    assert [s.text for s in out] == ["a split", "b"]


def test_range_parsing_edges():
    assert parse_range(None, 100) is None
    assert parse_range("bytes=0-9", 100) == ByteRange(0, 9)
    assert parse_range("bytes=90-", 100) == ByteRange(90, 99)
    assert parse_range("bytes=-10", 100) == ByteRange(90, 99)
    assert parse_range("bytes=95-500", 100) == ByteRange(95, 99)
    assert parse_range("bytes=0-1,5-6", 100) is None  # several ranges: whole file
    assert parse_range("bytes=9-3", 100) is None
    with pytest.raises(RangeNotSatisfiable):
        parse_range("bytes=100-", 100)
    with pytest.raises(RangeNotSatisfiable):
        parse_range("bytes=-0", 100)


@pytest.mark.django_db
def test_transcript_routes_prefer_the_final_pass(users, interviews):
    interview = interviews["owner"]
    client = client_for(users["owner"])
    live = client.get(f"/api/interviews/{interview.pk}/transcript.json")
    assert live["X-Transcript-Source"] == "live" and live.json()["source"] == "live"
    assert len(live.json()["segments"]) == interview.segments.count()
    interview.final_segments = [{"id": 0, "start": 0.4, "end": 10.0, "text": "final words", "speaker": "S1",
                                 "role": "interviewer"}]  # fmt: skip
    interview.save(update_fields=["final_segments"])
    srt = client.get(f"/api/interviews/{interview.pk}/transcript.srt")
    assert srt["X-Transcript-Source"] == "final" and srt["Content-Type"].startswith("application/x-subrip")
    assert parse_srt(srt.content.decode()) == [(0.4, 10.0, "Interviewer: final words")]
    vtt = client.get(f"/api/interviews/{interview.pk}/transcript.vtt", HTTP_ACCEPT="text/vtt")
    assert vtt.status_code == 200 and vtt["Content-Type"].startswith("text/vtt")
    txt = client.get(f"/api/interviews/{interview.pk}/transcript.txt").content.decode()
    assert txt == "[00:00:00.400 - 00:00:10.000] Interviewer: final words\n"
    assert client.get(f"/api/interviews/{interview.pk}/transcript.doc").status_code == 404


@pytest.mark.django_db
def test_rttm_route(users, interviews):
    interview = interviews["owner"]
    body = client_for(users["owner"]).get(f"/api/interviews/{interview.pk}/diarization.rttm").content.decode()
    parsed = parse_rttm(body)
    assert len(parsed) == interview.segments.count()
    assert all(line.split()[1] == str(interview.pk) for line in body.splitlines())


@pytest.mark.django_db
def test_report_routes_404_with_a_clear_error_until_a_report_exists(users):
    interview = make_interview(users["owner"], with_audio=False, with_report=False)
    client = client_for(users["owner"])
    for suffix in ("report.json", "report.html"):
        response = client.get(f"/api/interviews/{interview.pk}/{suffix}", HTTP_ACCEPT="text/html")
        assert response.status_code == 404 and response["Content-Type"] == "application/json"
        assert response.json()["code"] == "report_not_ready" and "final pass" in response.json()["detail"]


@pytest.mark.django_db
def test_report_routes(users, interviews):
    interview = interviews["owner"]
    client = client_for(users["owner"])
    report = client.get(f"/api/interviews/{interview.pk}/report.json").json()
    assert report["interview"]["id"] == str(interview.pk) and report == interview.report.report
    html = client.get(f"/api/interviews/{interview.pk}/report.html")
    assert html["Content-Type"].startswith("text/html") and "default-src 'none'" in html["Content-Security-Policy"]
    assert "<html" in html.content.decode().lower()


@pytest.mark.django_db
def test_audio_full_and_ranges(users, interviews):
    interview = interviews["owner"]
    data = MOCK_EN.read_bytes()
    client = client_for(users["owner"])
    url = f"/api/interviews/{interview.pk}/audio"
    full = client.get(url, HTTP_ACCEPT="audio/wav")
    assert full.status_code == 200 and b"".join(full) == data
    assert full["Accept-Ranges"] == "bytes" and full["Content-Type"] in ("audio/wav", "audio/x-wav")
    part = client.get(url, HTTP_RANGE="bytes=44-1043")
    assert part.status_code == 206 and part["Content-Range"] == f"bytes 44-1043/{len(data)}"
    assert b"".join(part) == data[44:1044] and part["Content-Length"] == "1000"
    tail = client.get(url, HTTP_RANGE="bytes=-100")
    assert tail.status_code == 206 and b"".join(tail) == data[-100:]
    beyond = client.get(url, HTTP_RANGE=f"bytes={len(data)}-")
    assert beyond.status_code == 416 and beyond["Content-Range"] == f"bytes */{len(data)}"
    assert full.is_async  # streamed block by block under daphne, never read whole into memory
    huge = "9" * 4300
    assert client.get(url, HTTP_RANGE=f"bytes={huge}-").status_code == 416
    assert client.get(url, HTTP_RANGE=f"bytes={huge}0-1").status_code in (200, 416)  # ignored or refused, never 500
    rest = client.get(url, HTTP_RANGE=f"bytes=44-{huge}")
    assert rest.status_code == 206 and rest["Content-Range"] == f"bytes 44-{len(data) - 1}/{len(data)}"
    whole_tail = client.get(url, HTTP_RANGE=f"bytes=-{huge}")
    assert whole_tail.status_code == 206 and b"".join(whole_tail) == data
    missing = client_for(users["other"]).get(f"/api/interviews/{interviews['other'].pk}/audio")
    assert missing.status_code == 404 and missing.json()["code"] == "audio_not_ready"


@pytest.mark.django_db(transaction=True)
async def test_audio_streams_through_the_asgi_handler_block_by_block(users, interviews):
    """Under ASGI (daphne) the audio goes out in 64 KiB blocks, not as one buffered body."""
    from asgiref.sync import sync_to_async
    from django.test import AsyncClient
    from rest_framework.authtoken.models import Token

    token = (await sync_to_async(Token.objects.get_or_create)(user=users["owner"]))[0].key
    response = await AsyncClient().get(f"/api/interviews/{interviews['owner'].pk}/audio",
                                       headers={"Authorization": f"Token {token}"})  # fmt: skip
    assert response.status_code == 200 and response.is_async
    blocks = [block async for block in response.streaming_content]
    assert len(blocks) > 1 and max(len(b) for b in blocks) <= 64 * 1024
    assert b"".join(blocks) == MOCK_EN.read_bytes()
