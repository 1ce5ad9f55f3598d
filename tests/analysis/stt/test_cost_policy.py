"""What makes a live session cheap (issue 14): the streaming VAD scores each window once and exactly as a
whole-buffer call would; partials wait for utterances that last, use a window sized to the clip and slow
down under load; utterances from several sessions decode in one call with the same text."""

from __future__ import annotations

import numpy as np
import pytest
from shareddata import manifest

from analysis.audio.preprocess import file_to_16k_mono
from analysis.stt import vad
from analysis.stt.batch import BatchItem, decode_batch
from analysis.stt.engine import (
    SR,
    StreamingTranscriber,
    StreamState,
    SttConfig,
    speech_regions,
    speech_regions_cached,
    transcribe_clip,
    window_frames,
)


@pytest.fixture(scope="module")
def interview(shared_data) -> np.ndarray:
    return file_to_16k_mono(str(shared_data / "interviews" / "mock_interview_en.wav"))[: 30 * SR]


def test_streaming_vad_equals_whole_buffer_vad_and_scores_each_window_once(interview, monkeypatch):
    config = SttConfig()
    st = StreamState()
    scored = []
    real_run = vad._run
    monkeypatch.setattr(vad, "_run", lambda batch, h, c: (scored.append(len(batch)), real_run(batch, h, c))[1])
    for end in range(4000, len(interview), 4000):  # a growing buffer, as between two commits
        assert speech_regions_cached(interview[:end], st, config) == speech_regions(interview[:end], config)
    complete_windows = (len(interview) - 4000) // vad.WINDOW
    # each complete window once, plus the zero-padded last window of each call
    assert sum(scored) <= complete_windows + len(range(4000, len(interview), 4000)) + 1
    # the cache travels in the JSON state: a second worker continues with the same numbers
    again = StreamState.from_dict(st.to_dict())
    end = len(interview)
    assert speech_regions_cached(interview[:end], again, config) == speech_regions(interview[:end], config)


def test_the_cache_restarts_when_the_buffer_moved_past_it(interview):
    config = SttConfig()
    st = StreamState()
    speech_regions_cached(interview[: 5 * SR], st, config)
    st.buffer_start = 8 * SR  # trimmed beyond the cached windows' context: start afresh at the buffer
    regions = speech_regions_cached(interview[8 * SR : 12 * SR], st, config)
    assert regions == speech_regions(interview[8 * SR : 12 * SR], config)
    assert vad.VadCache.from_dict(st.vad).origin == 8 * SR


def test_partial_windows_are_sized_to_the_clip_and_commits_keep_their_margin():
    assert window_frames(2.0, short_window=True, pad_s=1.0) == 300
    assert window_frames(2.0, short_window=True) == 1000  # commit: twice the clip, at least 10 s
    assert window_frames(12.0, short_window=True) == 2400
    assert window_frames(40.0, short_window=True, pad_s=1.0) == 3000
    assert window_frames(2.0, short_window=False) is None


class _NoModel:
    def __getattr__(self, name):  # the policy tests must not decode anything
        raise AssertionError(f"model.{name} used")


def test_partial_waits_for_an_utterance_that_lasts_and_slows_under_load():
    t = StreamingTranscriber(SttConfig(partial_min_utterance_s=1.5, partial_interval_s=1.5, partial_growth=0.2),
                             model=_NoModel())
    speech = np.random.default_rng(0).normal(0, 0.1, 8 * SR).astype(np.float32)
    st = StreamState()
    assert not t._partial_due(st, speech[: SR], 0, SR)  # 1 s into an utterance: it may end soon
    assert t._partial_due(st, speech[: 2 * SR], 0, 2 * SR)
    st.last_partial_end = 2 * SR
    assert not t._partial_due(st, speech[: 3 * SR], 0, 3 * SR)  # 1 s since the last one < 1.5 s
    assert t._partial_due(st, speech[: int(3.5 * SR)], 0, int(3.5 * SR))
    assert not t._partial_due(st, speech[: int(3.5 * SR)], 0, int(3.5 * SR), load=0.5)  # busy: 3 s apart
    assert t._partial_due(st, speech[: 5 * SR], 0, 5 * SR, load=0.5)
    legacy = StreamingTranscriber(SttConfig(partial_policy="legacy", partial_interval_s=1.0), model=_NoModel())
    assert legacy._partial_due(StreamState(), speech[: SR], 0, SR)  # the old policy refreshed at 1 s


@pytest.mark.models
def test_utterances_of_several_sessions_decode_in_one_call_with_the_same_text(shared_data):
    t = StreamingTranscriber(SttConfig(cpu_threads=2))
    en = file_to_16k_mono(str(shared_data / "en" / "jfk.flac"))
    ko_entry = manifest("ko")[0]
    ko = file_to_16k_mono(str(shared_data / "ko" / ko_entry["path"]))
    silence = np.random.default_rng(0).normal(0, 1e-4, 2 * SR).astype(np.float32)
    items = [BatchItem(en[: 4 * SR], "en", word_timestamps=True), BatchItem(ko[: 4 * SR], "ko", word_timestamps=True),
             BatchItem(silence, "en", word_timestamps=True), BatchItem(en[4 * SR : 8 * SR], "en", word_timestamps=True)]
    assert len({i.group() for i in items}) == 1  # both languages and the silence row in one call
    batched = decode_batch(t.model, items)
    alone = [
        transcribe_clip(t.model, i.audio, language=i.language, beam_size=5, word_timestamps=True, short_window=True)
        for i in items
    ]
    assert [b.text for b in batched] == [a.text for a in alone]
    assert [[(w.w, w.start, w.end) for w in b.words] for b in batched] == [
        [(w.w, w.start, w.end) for w in a.words] for a in alone
    ]
    assert [b.avg_logprob for b in batched] == pytest.approx([a.avg_logprob for a in alone], abs=1e-4)
    assert [b.no_speech_prob for b in batched] == pytest.approx([a.no_speech_prob for a in alone], abs=1e-4)
