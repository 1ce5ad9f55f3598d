"""The streaming transcriber on real speech, silence and noise (pure module: no server)."""

from __future__ import annotations

import numpy as np
import pytest
from shareddata import manifest
from textnorm import error_rate

from analysis.audio.preprocess import file_to_16k_mono
from analysis.stt.engine import SR, StreamingTranscriber, StreamState, SttConfig, transcribe_offline

pytestmark = pytest.mark.models


@pytest.fixture(scope="module")
def transcriber() -> StreamingTranscriber:
    return StreamingTranscriber(SttConfig(cpu_threads=2))


def stream(transcriber: StreamingTranscriber, audio: np.ndarray, language: str, step_s: float = 0.25):
    state = StreamState(language=language)
    segments, partials = [], []
    step = int(step_s * SR)
    for end in range(step, len(audio) + step, step):
        result = transcriber.step(state, audio[state.buffer_start : min(end, len(audio))])
        state = result.state
        segments += result.segments
        if result.partial:
            partials.append(result.partial)
    result = transcriber.step(state, audio[state.buffer_start :], final=True)
    return segments + result.segments, partials, result.state


def test_streaming_english_matches_reference_and_commits_in_order(transcriber, shared_data):
    entry = next(e for e in manifest("en") if e["path"] == "jfk.flac")
    audio = file_to_16k_mono(str(shared_data / "en" / entry["path"]))
    segments, partials, state = stream(transcriber, audio, "en")
    text = " ".join(s.text for s in segments)
    assert error_rate(entry["text"], text, "en") <= 0.15
    assert [s.id for s in segments] == list(range(len(segments)))
    assert all(a.end <= b.start + 0.05 for a, b in zip(segments, segments[1:]))
    words = [w for s in segments for w in s.words]
    assert words and all(0 <= w.start <= w.end <= len(audio) / SR + 0.1 for w in words)
    assert partials, "a partial hypothesis should appear while the speaker talks"
    assert state.buffer_start > 0


def test_streaming_korean_with_fixed_language(transcriber, shared_data):
    entry = manifest("ko")[0]
    audio = file_to_16k_mono(str(shared_data / "ko" / entry["path"]))
    segments, _partials, _state = stream(transcriber, audio, "ko")
    assert error_rate(entry["text"], " ".join(s.text for s in segments), "ko") <= 0.35


def test_auto_language_is_detected_and_then_fixed(transcriber, shared_data):
    entry = next(e for e in manifest("ko") if e["duration_s"] > 4)
    audio = file_to_16k_mono(str(shared_data / "ko" / entry["path"]))
    segments, _partials, state = stream(transcriber, audio, "")
    assert state.language == "ko"
    assert all(s.language == "ko" for s in segments)


@pytest.mark.parametrize("kind", ["silence", "white_noise"])
def test_a_minute_of_silence_or_noise_commits_nothing(transcriber, kind):
    rng = np.random.default_rng(7)
    audio = np.zeros(60 * SR, dtype=np.float32) if kind == "silence" else (0.05 * rng.standard_normal(60 * SR)).astype(np.float32)
    segments, partials, _state = stream(transcriber, audio, "en", step_s=0.5)
    assert segments == []
    assert partials == []


def test_buffer_is_trimmed_so_cost_does_not_grow(transcriber, shared_data):
    audio = file_to_16k_mono(str(shared_data / "interviews" / "mock_interview_en.wav"))
    state = StreamState(language="en")
    longest = 0
    for end in range(SR // 2, len(audio), SR // 2):
        buffer = audio[state.buffer_start : end]
        longest = max(longest, len(buffer))
        state = transcriber.step(state, buffer, allow_partial=False).state
    assert longest <= 16 * SR  # never more than one utterance (forced cut at 15 s) plus a margin


def test_offline_reference_uses_the_same_policy(transcriber, shared_data):
    entry = next(e for e in manifest("en") if e["path"] == "jfk.flac")
    audio = file_to_16k_mono(str(shared_data / "en" / entry["path"]))
    segments = transcribe_offline(transcriber.config, audio, language="en")
    assert error_rate(entry["text"], " ".join(s.text for s in segments), "en") <= 0.15


_SHAPES_PROBE = """
import sys
import ctranslate2, numpy as np
from analysis.stt.engine import load_whisper

whisper = load_whisper("base", ".models", "cpu", "int8", 1)
def rss_mib():
    return int(open("/proc/self/status").read().split("VmRSS:")[1].split()[0]) / 1024
def encode(frames):
    whisper.model.encode(ctranslate2.StorageView.from_array(np.zeros((1, 80, frames), np.float32)))
for _ in range(3):
    encode(200)
before = rss_mib()
for frames in range(200, 500, 2):  # 150 encoder lengths, as a live worker's partials and commits bring
    encode(frames)
print(rss_mib() - before)
"""


@pytest.mark.parametrize("capacity", [None, "1024"])
def test_the_encoder_memory_stays_bounded_however_many_clip_lengths_it_sees(capacity):
    """oneDNN keeps a compiled primitive per input shape (1024 by default, ~0.7 MiB each): ``load_whisper``
    bounds that cache, which was a live worker's RSS growth; with oneDNN's own default it grows (the control)."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    env = {k: v for k, v in os.environ.items() if k != "ONEDNN_PRIMITIVE_CACHE_CAPACITY"}
    if capacity:
        env["ONEDNN_PRIMITIVE_CACHE_CAPACITY"] = capacity
    repo = Path(__file__).resolve().parents[3]
    out = subprocess.run([sys.executable, "-c", _SHAPES_PROBE], cwd=repo, env=env, capture_output=True, text=True,
                         timeout=300, check=True).stdout
    growth_mib = float(out.split()[-1])
    if capacity:
        assert growth_mib > 60, growth_mib
    else:
        assert growth_mib < 50, growth_mib
